"""Class coverage of generated images as seen by the classifier: histogram, KL to the reference
histogram, and how many classes get a meaningful share.

Both histograms are the classifier's *predictions* (argmax of its logits), for generated and for
real images, so the classifier's own confusions cancel instead of counting as a model error.
"""

from __future__ import annotations

import torch
from torch.distributions import Categorical, kl_divergence

from genstyle.errors import require


def class_histogram(logits: torch.Tensor, num_classes: int | None = None) -> torch.Tensor:
    """Predicted-class counts `(C,)` int64 of `(N, C)` logits."""
    num_classes = num_classes or logits.shape[1]
    return torch.bincount(logits.argmax(1).cpu(), minlength=num_classes)


def class_kl(counts_fake: torch.Tensor, counts_real: torch.Tensor) -> float:
    """KL(p_generated || p_reference) in nats between predicted-class shares.

    Infinite when generated images fall in a class the reference never shows (a real defect,
    reported as is). Missing classes in the generated set are measured by `modes_covered`.
    """
    require(counts_fake.sum() > 0 and counts_real.sum() > 0, "class_kl needs non-empty histograms.")
    p = Categorical(probs=counts_fake.double() / counts_fake.sum())
    q = Categorical(probs=counts_real.double() / counts_real.sum())
    return float(kl_divergence(p, q))


def modes_covered(counts_fake: torch.Tensor, min_share: float) -> int:
    """Number of classes receiving at least `min_share` of the generated images."""
    require(0.0 < min_share < 1.0, f"metrics.mode_min_share={min_share} must be in (0, 1).")
    shares = counts_fake.double() / max(1, int(counts_fake.sum()))
    return int((shares >= min_share).sum())
