"""Saving image grids and handing them to whichever loggers the run has."""

from __future__ import annotations

import io
from pathlib import Path

import pytorch_lightning as pl
import torch
from torchvision.utils import make_grid

from genstyle.files import write_bytes_atomic
from genstyle.pixels import to_uint8


def grid_image(images: torch.Tensor, nrow: int = 8) -> torch.Tensor:
    """`(N, C, H, W)` in [-1, 1] -> one uint8 `(C, H', W')` grid."""
    return make_grid(to_uint8(images.cpu()), nrow=max(1, nrow), padding=2, pad_value=255)


def save_png(image: torch.Tensor, path: str | Path) -> Path:
    """Write a uint8 `(C, H, W)` tensor as PNG atomically (encoded in memory, then
    `files.write_bytes_atomic`), so an interrupted write never leaves a truncated image behind."""
    from PIL import Image

    array = image.permute(1, 2, 0).numpy()
    pil = Image.fromarray(array[:, :, 0] if array.shape[2] == 1 else array)
    encoded = io.BytesIO()
    pil.save(encoded, format="PNG")
    return write_bytes_atomic(path, encoded.getvalue())


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
