"""The independent evaluation network: a second Fashion-MNIST classifier that no model trains or
optimises against, so a stylizer is never scored only in the features of its own loss.

The shipped classifier (`fashion_classifier.py`: three conv/ReLU/max-pool stages, a 256-value
ReLU layer, cross-entropy, SGD, seed 0) is also the frozen perceptual encoder of the AdaIN model and
of the optimisation stylizer. This one differs in everything that shapes features: a small
residual network (GELU, average-pool downsampling, a 128-value linear feature layer that is not
rectified), a cosine-similarity class head trained with label smoothing, AdamW, cutout on top of
shifts and flips, and another seed. `python -m genstyle.classifier.train_independent` reproduces it
(docs/metrics.md).

Its interface is the shipped classifier's (`features`, `features_and_logits`, `forward`,
`stage_outputs`, `feature_dim`), so feature extraction, torch-fidelity and the style benchmark
take either. The weights file is a plain dict loaded with `weights_only=True`, and the shipped file
is refused unless its sha256 is `SHIPPED_SHA256`: a changed file cannot silently change every
number computed with it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from genstyle.classifier.weights_file import file_sha256, load_payload, resolve
from genstyle.errors import GenstyleError, require

WEIGHTS_PATH = Path(__file__).resolve().parent / "weights" / "fmnist_independent.pt"
SHIPPED_SHA256 = "e69c370808477154c11b51f7c8ec3da8d4fd7ca9863a7b61a94e6e1c3bcd39fe"
TRAIN_COMMAND = "python -m genstyle.classifier.train_independent"
FORMAT_VERSION = 1
IMAGE_SIZE = 28
NUM_CLASSES = 10


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions with batch norm and GELU, added to the input."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.norm1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.norm2 = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.gelu(self.norm1(self.conv1(x)))
        return F.gelu(x + self.norm2(self.conv2(h)))


class Downsample(nn.Module):
    """2x2 average pool, then a 1x1 convolution to the next width (batch norm, GELU)."""

    def __init__(self, c_in: int, c_out: int, ceil_mode: bool = False) -> None:
        super().__init__()
        self.pool = nn.AvgPool2d(2, ceil_mode=ceil_mode, count_include_pad=False)
        self.conv = nn.Conv2d(c_in, c_out, 1, bias=False)
        self.norm = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(self.norm(self.conv(self.pool(x))))


class IndependentClassifier(nn.Module):
    """Stem (3x3 conv at 28x28), three stages of (downsample, residual block) at 14x14, 7x7 and
    4x4, global average pool, a linear feature layer, and a cosine class head.

    Input: `(B, 1, 28, 28)` float in `[-1, 1]`. `features` is the linear layer's output
    (`feature_dim` values, signed); the logits are `scale` times the cosine between the features
    and each class's weight vector.
    """

    def __init__(
        self, stem: int = 16, widths: tuple[int, int, int] = (32, 64, 96), feature_dim: int = 128, scale: float = 16.0
    ) -> None:
        super().__init__()
        w1, w2, w3 = widths
        self.stem_width, self.widths, self.feature_dim, self.scale = stem, (w1, w2, w3), feature_dim, float(scale)
        self.stem = nn.Sequential(nn.Conv2d(1, stem, 3, padding=1, bias=False), nn.BatchNorm2d(stem), nn.GELU())
        self.stages = nn.ModuleList([
            nn.Sequential(Downsample(stem, w1), ResidualBlock(w1)),  # (w1, 14, 14)
            nn.Sequential(Downsample(w1, w2), ResidualBlock(w2)),  # (w2, 7, 7)
            nn.Sequential(Downsample(w2, w3, ceil_mode=True), ResidualBlock(w3)),  # (w3, 4, 4)
        ])  # fmt: skip
        self.project = nn.Linear(w3, feature_dim)
        self.class_weights = nn.Parameter(torch.randn(NUM_CLASSES, feature_dim) * feature_dim**-0.5)

    def _check(self, x: torch.Tensor) -> None:
        if x.ndim != 4 or tuple(x.shape[1:]) != (1, IMAGE_SIZE, IMAGE_SIZE):
            raise GenstyleError(
                f"The independent Fashion-MNIST network takes (B, 1, {IMAGE_SIZE}, {IMAGE_SIZE}) images, got "
                f"{tuple(x.shape)}. Convert samples to one channel and resize them to {IMAGE_SIZE}x{IMAGE_SIZE} "
                "before computing metrics with it."
            )

    def stage_outputs(self, x: torch.Tensor, n_stages: int = 3) -> list[torch.Tensor]:
        """The outputs of the first `n_stages` stages for `(B, 1, 28, 28)` images in `[-1, 1]`:
        `(B, w1, 14, 14)`, `(B, w2, 7, 7)`, `(B, w3, 4, 4)` (the maps of style statistics)."""
        if not 1 <= n_stages <= len(self.stages):
            raise GenstyleError(f"n_stages={n_stages} must be between 1 and {len(self.stages)}.")
        self._check(x)
        x = self.stem(x)
        outputs = []
        for stage in self.stages[:n_stages]:
            x = stage(x)
            outputs.append(x)
        return outputs

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """`(B, 1, 28, 28)` in `[-1, 1]` -> `(B, feature_dim)` features."""
        return self.project(self.stage_outputs(x)[-1].mean((2, 3)))

    def logits(self, features: torch.Tensor) -> torch.Tensor:
        """Class logits `(B, 10)` of given features: scaled cosine similarities."""
        return self.scale * F.normalize(features, dim=1) @ F.normalize(self.class_weights, dim=1).t()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits(self.features(x))

    def features_and_logits(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feats = self.features(x)
        return feats, self.logits(feats)


WHAT = "Independent network weights"


def _resolve(path: str | Path | None) -> Path:
    return resolve(path, WEIGHTS_PATH, WHAT, TRAIN_COMMAND)


def weights_sha256(path: str | Path | None = None) -> str:
    """Hex sha256 of the weights file: the cache key and the name of anything computed with it."""
    return file_sha256(_resolve(path))


def read_checkpoint(path: str | Path | None = None, expected_sha256: str | None = None) -> dict[str, Any]:
    """The weights file as a dict (`weights_only=True`). The shipped file (`path=None`) must have
    `SHIPPED_SHA256`; another file is checked against `expected_sha256` when one is given."""
    resolved = _resolve(path)
    expected = SHIPPED_SHA256 if path is None and expected_sha256 is None else expected_sha256
    if expected is not None:
        actual = weights_sha256(resolved)
        require(
            actual == expected,
            f"Independent network weights {resolved} have sha256 {actual[:16]}..., not the expected "
            f"{expected[:16]}...: the file was changed or replaced, so numbers computed with it would not be "
            f"comparable with the documented ones. Restore the shipped file from the repository; after a "
            f"deliberate retraining (`{TRAIN_COMMAND}`), put the new hash in SHIPPED_SHA256 of "
            "genstyle/classifier/independent.py and re-measure the documented numbers.",
        )
    return load_payload(resolved, WHAT, TRAIN_COMMAND, FORMAT_VERSION)


def load_independent(path: str | Path | None = None, expected_sha256: str | None = None) -> IndependentClassifier:
    """The independent network with the shipped (or given) weights, in eval mode with gradients
    off; its `weights_sha256` attribute names the file it came from."""
    payload = read_checkpoint(path, expected_sha256)
    try:
        model = IndependentClassifier(
            stem=int(payload["stem"]), widths=tuple(int(w) for w in payload["widths"]),
            feature_dim=int(payload["feature_dim"]), scale=float(payload["scale"]),
        )  # fmt: skip
        model.load_state_dict(payload["state_dict"])
    except (KeyError, TypeError, ValueError, RuntimeError) as err:
        raise GenstyleError(
            f"Independent network weights {_resolve(path)} do not fit the IndependentClassifier architecture "
            f"({type(err).__name__}: {err}). Retrain with `{TRAIN_COMMAND}`."
        ) from None
    model.requires_grad_(False)
    # Who asks which network a model's losses use (`loss_feature_networks`) compares this hash.
    model.weights_sha256 = weights_sha256(path)
    return model.eval()
