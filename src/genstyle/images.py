"""Saving image grids and handing them to whichever loggers the run has."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytorch_lightning as pl
import torch
from torchvision.utils import make_grid

from genstyle.pixels import to_uint8


def grid_image(images: torch.Tensor, nrow: int = 8) -> torch.Tensor:
    """`(N, C, H, W)` in [-1, 1] -> one uint8 `(C, H', W')` grid."""
    return make_grid(to_uint8(images.cpu()), nrow=max(1, nrow), padding=2, pad_value=255)


def save_png(image: torch.Tensor, path: str | Path) -> Path:
    """Write a uint8 `(C, H, W)` tensor as PNG atomically (temp file then rename), so an
    interrupted write never leaves a truncated image behind."""
    from PIL import Image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    array = image.permute(1, 2, 0).numpy()
    pil = Image.fromarray(array[:, :, 0] if array.shape[2] == 1 else array)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            pil.save(fh, format="PNG")
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; images are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def save_grid(images: torch.Tensor, path: str | Path, nrow: int = 8) -> Path:
    return save_png(grid_image(images, nrow), path)


def log_image(trainer: pl.Trainer, key: str, path: Path, step: int, caption: str = "") -> None:
    """Send a saved PNG to every logger that accepts images (W&B, TensorBoard)."""
    from pytorch_lightning.loggers import TensorBoardLogger, WandbLogger

    for logger in trainer.loggers:
        if isinstance(logger, WandbLogger):
            logger.log_image(key=key, images=[str(path)], step=step, caption=[caption] if caption else None)
        elif isinstance(logger, TensorBoardLogger):
            import numpy as np
            from PIL import Image

            with Image.open(path) as img:
                array = np.asarray(img.convert("RGB"))
            logger.experiment.add_image(key, array, global_step=step, dataformats="HWC")
