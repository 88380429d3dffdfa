"""Test data and models shared by the conditional-model tests."""

from __future__ import annotations

from pathlib import Path

import hydra
import numpy as np
from PIL import Image

from genstyle.data.sources import FASHION_MNIST_CLASSES

# Evaluation metrics are tested elsewhere; here they would only cost time. Without them there is
# no val/fid to pick the best checkpoint, so only last.ckpt is kept.
NO_EVAL = ("++callbacks.evaluation=null", "model.monitor=null")
FOLDER_CLASSES = ("bars", "columns", "disc")


def pattern(kind: str, rng: np.random.Generator, size: int = 28) -> np.ndarray:
    """A grayscale picture whose class is visible: horizontal bars, vertical bars or a disc."""
    yy, xx = np.mgrid[:size, :size]
    phase = rng.integers(0, 4)
    if kind == "bars":
        img = ((yy + phase) // 3) % 2
    elif kind == "columns":
        img = ((xx + phase) // 3) % 2
    else:
        r = rng.integers(6, 12)
        img = (yy - size / 2) ** 2 + (xx - size / 2) ** 2 < r**2
    noisy = img * 200 + rng.integers(0, 40, (size, size))
    return noisy.clip(0, 255).astype(np.uint8)


def write_labelled_folder(root: Path, per_class: int = 16, classes: tuple[str, ...] = FOLDER_CLASSES, flat: bool = False) -> Path:
    """`root/<class>/<i>.png` (or all images directly in `root` with `flat`)."""
    rng = np.random.default_rng(0)
    for kind in classes:
        folder = root if flat else root / kind
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            Image.fromarray(pattern(kind, rng)).save(folder / f"{kind}_{i:03d}.png")
    return root


def folder_overrides(root: Path, num_classes: int | None = len(FOLDER_CLASSES)) -> list[str]:
    return [
        "data=image_folder", f"data.root={root}", "data.channels=1", "data.image_size=28",
        f"data.num_classes={'null' if num_classes is None else num_classes}",
        "data.batch_size=8", "data.val_size=8", "data.train_subset=null", *NO_EVAL,
    ]


def build_model(make_cfg, name: str, *overrides: str):
    """An untrained model from the real config, with Fashion-MNIST class names recorded."""
    cfg = make_cfg(f"model={name}", *NO_EVAL, *overrides)
    model = hydra.utils.instantiate(cfg.model)
    model.run_config = {"class_names": list(FASHION_MNIST_CLASSES)}
    return model.eval()
