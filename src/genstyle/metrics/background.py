"""Background change: artefacts a stylizer draws outside the garment.

Fashion-MNIST garments sit on a black background (pixel value -1 in the model range). A result
should leave it black: a bright smear beside a trouser leg or under a sandal is an artefact, not
style. `background_change` is the mean absolute change `|result - content|` over the pixels where
the content image is background, in model-range units (0 = untouched, 2 = black turned white).

A pixel counts as background when it and every pixel within `margin` pixels of it (a square
neighbourhood) are at most `BACKGROUND_LEVEL` in the content image, in every channel: the
garment's own edge, which a softer result may legitimately blur by a pixel, is left out.
"""

from __future__ import annotations

import torch

from genstyle.errors import require
from genstyle.style_ops import BACKGROUND_LEVEL, BACKGROUND_MARGIN, background_mask

__all__ = ["background_change", "background_mask"]


def background_change(results: torch.Tensor, content: torch.Tensor, margin: int = BACKGROUND_MARGIN, level: float = BACKGROUND_LEVEL) -> float:
    """Mean `|result - content|` over the content images' background pixels (all images pooled,
    channels averaged); NaN when no content image has background."""
    require(results.shape == content.shape, f"results {tuple(results.shape)} and contents {tuple(content.shape)} must have the same shape.")
    mask = background_mask(content.float(), margin, level)  # (N, 1, H, W)
    change = (results.double() - content.double()).abs().mean(dim=1, keepdim=True)
    count = int(mask.sum())
    return float(change[mask].sum() / count) if count else float("nan")
