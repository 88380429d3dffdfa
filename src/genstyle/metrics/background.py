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
import torch.nn.functional as F

from genstyle.errors import require

BACKGROUND_LEVEL = -0.9  # model range; uint8 <= 12 of 255
MARGIN = 1  # pixels next to the garment that do not count as background


def background_mask(content: torch.Tensor, margin: int = MARGIN, level: float = BACKGROUND_LEVEL) -> torch.Tensor:
    """`(N, C, H, W)` in [-1, 1] -> bool `(N, 1, H, W)`: background pixels at least `margin` pixels
    away from anything brighter than `level`."""
    require(content.ndim == 4 and margin >= 0, f"background_mask takes (N, C, H, W) images and margin >= 0, got {tuple(content.shape)}, {margin}.")
    brightest = content.float().amax(dim=1, keepdim=True)
    if margin > 0:
        brightest = F.max_pool2d(brightest, 2 * margin + 1, stride=1, padding=margin)
    return brightest <= level


def background_change(results: torch.Tensor, content: torch.Tensor, margin: int = MARGIN, level: float = BACKGROUND_LEVEL) -> float:
    """Mean `|result - content|` over the content images' background pixels (all images pooled,
    channels averaged); NaN when no content image has background."""
    require(results.shape == content.shape, f"results {tuple(results.shape)} and contents {tuple(content.shape)} must have the same shape.")
    mask = background_mask(content, margin, level)  # (N, 1, H, W)
    change = (results.double() - content.double()).abs().mean(dim=1, keepdim=True)
    count = int(mask.sum())
    return float(change[mask].sum() / count) if count else float("nan")
