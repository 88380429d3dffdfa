"""The Fashion-MNIST classifier whose features every evaluation metric is computed on.

FID, KID and precision/recall compare sets of images through the classifier's penultimate layer
(`features`, 256 values); the Inception Score uses its logits over the 10 classes; the style
benchmark and the optimisation reference use its stage outputs (`stage_outputs`), and
`model=style_swap` receives it, frozen, as its encoder by composition (the config builds it with
`load_classifier`; the model never imports this module). ImageNet
Inception features say little about 28x28 grayscale clothing, so the project ships its own small
network, trained by `python -m genstyle.classifier.train` (see docs/metrics.md).

The weights file is a plain dict (state_dict + metadata) loaded with `weights_only=True`, so a
tampered file cannot run code; its sha256 names caches of features computed with it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from genstyle.classifier.weights_file import file_sha256, load_payload, resolve
from genstyle.errors import GenstyleError, require

WEIGHTS_PATH = Path(__file__).resolve().parent / "weights" / "fmnist_classifier.pt"
TRAIN_COMMAND = "python -m genstyle.classifier.train --seed 0 --epochs 12"
FORMAT_VERSION = 1
IMAGE_SIZE = 28
NUM_CLASSES = 10


def _conv_stage(c_in: int, c_out: int, ceil_mode: bool = False) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2, ceil_mode=ceil_mode),
    )


class FashionClassifier(nn.Module):
    """Three conv stages (3x3 conv, batch norm, ReLU, 2x2 max-pool) then two dense layers.

    Input: `(B, 1, 28, 28)` float in `[-1, 1]` (the model range of DESIGN.md). `features` is the
    ReLU output of the first dense layer; `forward` adds dropout (training only) and the class head.
    """

    def __init__(self, widths: tuple[int, int, int] = (32, 64, 128), feature_dim: int = 256, dropout: float = 0.3) -> None:
        super().__init__()
        w1, w2, w3 = widths
        self.widths, self.feature_dim = (w1, w2, w3), feature_dim
        self.body = nn.Sequential(
            _conv_stage(1, w1),  # (w1, 14, 14)
            _conv_stage(w1, w2),  # (w2, 7, 7)
            _conv_stage(w2, w3, ceil_mode=True),  # (w3, 4, 4): ceil keeps the last row and column
        )
        self.fc = nn.Linear(w3 * 4 * 4, feature_dim)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(feature_dim, NUM_CLASSES)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """`(B, 1, 28, 28)` in `[-1, 1]` -> `(B, feature_dim)` penultimate activations (>= 0)."""
        if x.ndim != 4 or tuple(x.shape[1:]) != (1, IMAGE_SIZE, IMAGE_SIZE):
            raise GenstyleError(
                f"The Fashion-MNIST classifier takes (B, 1, {IMAGE_SIZE}, {IMAGE_SIZE}) images, got "
                f"{tuple(x.shape)}. Convert samples to one channel and resize them to {IMAGE_SIZE}x{IMAGE_SIZE} "
                "before computing metrics with it."
            )
        return F.relu(self.fc(self.body(x).flatten(1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`(B, 1, 28, 28)` in `[-1, 1]` -> logits `(B, 10)`."""
        return self.head(self.dropout(self.features(x)))

    def features_and_logits(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Both outputs from one pass (the head is applied to the same features; dropout is a no-op in eval)."""
        feats = self.features(x)
        return feats, self.head(self.dropout(feats))

    def stage_outputs(self, x: torch.Tensor, n_stages: int = 3) -> list[torch.Tensor]:
        """The outputs of the first `n_stages` conv stages (after each max-pool) for `(B, 1, 28, 28)`
        images in `[-1, 1]`: `(B, w1, 14, 14)`, `(B, w2, 7, 7)`, `(B, w3, 4, 4)`. These are the
        perceptual feature maps of style losses and style statistics (Gram matrices)."""
        if not 1 <= n_stages <= len(self.body):
            raise GenstyleError(f"n_stages={n_stages} must be between 1 and {len(self.body)}.")
        outputs = []
        for stage in self.body[:n_stages]:
            x = stage(x)
            outputs.append(x)
        return outputs


WHAT = "Classifier weights"


def _resolve(path: str | Path | None) -> Path:
    return resolve(path, WEIGHTS_PATH, WHAT, TRAIN_COMMAND)


def weights_sha256(path: str | Path | None = None) -> str:
    """Hex sha256 of the weights file: the cache key for anything computed with these weights."""
    return file_sha256(_resolve(path))


def read_checkpoint(path: str | Path | None = None) -> dict[str, Any]:
    """The weights file as a dict, loaded with `weights_only=True` (no code in the file can run)."""
    return load_payload(_resolve(path), WHAT, TRAIN_COMMAND, FORMAT_VERSION)


def load_classifier(path: str | Path | None = None) -> FashionClassifier:
    """The classifier with the shipped (or given) weights, in eval mode with gradients off."""
    payload = read_checkpoint(path)
    require(
        isinstance(payload.get("widths"), (list, tuple)) and isinstance(payload.get("feature_dim"), int),
        f"Classifier weights {_resolve(path)} lack the architecture entries 'widths' and 'feature_dim'. "
        f"Retrain with `{TRAIN_COMMAND}`.",
    )
    model = FashionClassifier(widths=tuple(payload["widths"]), feature_dim=int(payload["feature_dim"]))
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError as err:
        raise GenstyleError(
            f"Classifier weights {_resolve(path)} do not fit the FashionClassifier architecture ({err}). "
            f"Retrain with `{TRAIN_COMMAND}`."
        ) from None
    model.requires_grad_(False)
    # A model that uses this network in its losses declares this hash (loss_feature_networks), so
    # metrics can refuse to score it in these features (genstyle.metrics.own_features).
    model.weights_sha256 = weights_sha256(path)
    return model.eval()
