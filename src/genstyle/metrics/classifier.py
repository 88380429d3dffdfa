"""The Fashion-MNIST classifier whose features every evaluation metric is computed on.

FID, KID and precision/recall compare sets of images through the classifier's penultimate layer
(`features`, 256 values); the Inception Score uses its logits over the 10 classes. ImageNet
Inception features say little about 28x28 grayscale clothing, so the project ships its own small
network, trained by `python -m genstyle.metrics.train_classifier` (see docs/metrics.md).

The weights file is a plain dict (state_dict + metadata) loaded with `weights_only=True`, so a
tampered file cannot run code; its sha256 names caches of features computed with it.
"""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path
from typing import Any

import torch

from genstyle.errors import GenstyleError, require

# The plain network lives with the other networks so that models can take it by composition
# (as a frozen perceptual encoder) without importing metrics; it is re-exported here.
from genstyle.models.components.fashion_classifier import IMAGE_SIZE, NUM_CLASSES, FashionClassifier

__all__ = ["IMAGE_SIZE", "NUM_CLASSES", "FashionClassifier", "load_classifier", "read_checkpoint", "weights_sha256"]

WEIGHTS_PATH = Path(__file__).resolve().parent / "weights" / "fmnist_classifier.pt"
TRAIN_COMMAND = "python -m genstyle.metrics.train_classifier --seed 0 --epochs 12"
FORMAT_VERSION = 1


def _resolve(path: str | Path | None) -> Path:
    path = WEIGHTS_PATH if path is None else Path(path).expanduser()
    if not path.is_file():
        raise GenstyleError(
            f"Classifier weights {path} do not exist. The project ships them at {WEIGHTS_PATH}; restore that "
            f"file from the repository (git checkout -- {WEIGHTS_PATH.name} in its folder) or retrain with "
            f"`{TRAIN_COMMAND}`."
        )
    return path


def weights_sha256(path: str | Path | None = None) -> str:
    """Hex sha256 of the weights file: the cache key for anything computed with these weights."""
    digest = hashlib.sha256()
    with _resolve(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_checkpoint(path: str | Path | None = None) -> dict[str, Any]:
    """The weights file as a dict, loaded with `weights_only=True` (no code in the file can run)."""
    path = _resolve(path)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        lines = [line.strip() for line in str(err).splitlines() if "WeightsUnpickler error" in line]
        reason = lines[0] if lines else str(err).splitlines()[0]
        raise GenstyleError(
            f"Refusing to load classifier weights {path}: the file holds Python objects other than tensors "
            f"and plain values, which could run code when loaded ({reason}). Use the file shipped with the "
            f"project or one written by `{TRAIN_COMMAND}`."
        ) from None
    except (RuntimeError, EOFError, OSError) as err:
        raise GenstyleError(
            f"Classifier weights {path} are unreadable ({type(err).__name__}: {err}). The file is corrupt or "
            f"not a PyTorch file; restore the shipped one or retrain with `{TRAIN_COMMAND}`."
        ) from None
    require(
        isinstance(payload, dict) and isinstance(payload.get("state_dict"), dict),
        f"Classifier weights {path} are not a genstyle classifier file (expected a dict with a 'state_dict' "
        f"entry). Retrain with `{TRAIN_COMMAND}`.",
    )
    require(
        payload.get("format_version") == FORMAT_VERSION,
        f"Classifier weights {path} have format_version={payload.get('format_version')!r}; this code reads "
        f"version {FORMAT_VERSION}. Retrain with `{TRAIN_COMMAND}`.",
    )
    return payload


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
    return model.eval()
