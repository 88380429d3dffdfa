"""Classifier features and logits for in-memory images, without torch-fidelity's dataset machinery.

An evaluation callback holds samples as tensors; it calls `extract_features` once per set and
hands the matrices to the FID/KID/IS/PR formulas. Same network and preprocessing as the
`fmnist-classifier` torch-fidelity extractor.
"""

from __future__ import annotations

from functools import lru_cache

import torch

from genstyle.classifier.fashion_classifier import FashionClassifier, load_classifier
from genstyle.errors import GenstyleError
from genstyle.modes import evaluating
from genstyle.pixels import to_model_range

RANGE_TOLERANCE = 1e-3  # float noise around a tanh output; anything beyond means the wrong range


@lru_cache(maxsize=1)
def default_classifier() -> FashionClassifier:
    """The shipped classifier, loaded once per process (eval mode, no gradients)."""
    return load_classifier()


@lru_cache(maxsize=2)
def default_network(name: str) -> torch.nn.Module:
    """A shipped 28x28 network by its backend name, loaded once per process (eval mode, no
    gradients, `weights_sha256` attached): `fmnist-classifier` (the metrics' classifier, also the
    loss network of adain and the optimisation) or `fmnist-independent` (which nothing trains against)."""
    from genstyle.classifier.independent import load_independent

    loaders = {"fmnist-classifier": default_classifier, "fmnist-independent": load_independent}
    if name not in loaders:
        raise GenstyleError(f"{name!r} is not a 28x28 Fashion-MNIST network; use one of {', '.join(loaders)}.")
    return loaders[name]()


def check_model_range(images: torch.Tensor) -> None:
    """Raise unless float `images` are finite and within `[-1, 1]` (up to float noise)."""
    if not images.is_floating_point():
        raise GenstyleError(f"Expected uint8 or float images, got {images.dtype}.")
    if images.numel() == 0:
        return
    if not bool(torch.isfinite(images).all()):
        raise GenstyleError("Images contain NaN or infinite values; the model producing them has diverged.")
    low, high = float(images.min()), float(images.max())
    if low < -1 - RANGE_TOLERANCE or high > 1 + RANGE_TOLERANCE:
        raise GenstyleError(
            f"Float images must be in [-1, 1] (the model range), got values in [{low:.3g}, {high:.3g}]. "
            "Map [0, 1] images with x * 2 - 1, pass uint8 [0, 255] images as uint8, or clamp decoder "
            "outputs to [-1, 1]."
        )


@torch.no_grad()
def extract_features(
    images: torch.Tensor,
    batch_size: int = 500,
    model: FashionClassifier | None = None,
    out_device: str | torch.device | None = "cpu",
) -> dict[str, torch.Tensor]:
    """Penultimate features and logits of the classifier for `(N, 1, 28, 28)` images.

    `images` are uint8 `[0, 255]` or float in `[-1, 1]`, on any device; the classifier runs on
    that device. Returns `{'features': (N, D) float64, 'logits': (N, 10) float64}` on `out_device`
    (the CPU by default; None: where the images are, so a GPU evaluation never leaves the GPU).
    `model` defaults to the shipped classifier.
    """
    if batch_size <= 0:
        raise GenstyleError(f"batch_size={batch_size} must be > 0.")
    if not torch.is_tensor(images) or images.ndim != 4:
        raise GenstyleError(f"extract_features takes a (N, 1, 28, 28) tensor, got {getattr(images, 'shape', type(images))}.")
    if images.dtype != torch.uint8:
        check_model_range(images)
    model = default_classifier() if model is None else model
    # The cached default lives on the CPU; moving it follows the data (a no-op when already there).
    model.to(images.device)
    feats, logits = [], []
    with evaluating(model):
        for chunk in images.split(batch_size):
            x = to_model_range(chunk) if chunk.dtype == torch.uint8 else chunk.float().clamp(-1, 1)
            f, lg = model.features_and_logits(x)
            feats.append(f.double())
            logits.append(lg.double())
    if not feats:
        d = model.feature_dim
        return {"features": torch.empty(0, d, dtype=torch.float64), "logits": torch.empty(0, 10, dtype=torch.float64)}
    out_device = images.device if out_device is None else out_device
    return {"features": torch.cat(feats).to(out_device), "logits": torch.cat(logits).to(out_device)}
