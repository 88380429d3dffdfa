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


LABEL_STRIP = 14  # px: the height of the column label above a grid and the width of the row label beside it


def label_axes(grid: torch.Tensor, top: str, left: str) -> torch.Tensor:
    """A uint8 `(C, H, W)` grid with its axes named, so that the PNG alone says what its rows and
    columns are: `top` in a white strip above it (the columns, from the left edge), `left` in a white
    strip on its left, read top to bottom (the rows). `(C, H + LABEL_STRIP, W + LABEL_STRIP)`, the
    grid's own pixels unchanged in the bottom-right corner. Pillow's built-in font, so the same
    text draws the same pixels on every machine with the same Pillow."""
    import numpy as np
    from PIL import Image, ImageDraw, ImageFont

    channels, height, width = grid.shape
    font = ImageFont.load_default()

    def strip(text: str, length: int) -> torch.Tensor:  # (LABEL_STRIP, length), black text on white
        canvas = Image.new("L", (length, LABEL_STRIP), 255)
        ImageDraw.Draw(canvas).text((3, 1), text, fill=0, font=font)
        return torch.from_numpy(np.array(canvas))

    out = torch.full((channels, height + LABEL_STRIP, width + LABEL_STRIP), 255, dtype=torch.uint8)
    out[:, :LABEL_STRIP, LABEL_STRIP:] = strip(top, width)
    out[:, LABEL_STRIP:, :LABEL_STRIP] = strip(left, height).rot90(-1)  # clockwise: reads downwards
    out[:, LABEL_STRIP:, LABEL_STRIP:] = grid
    return out


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
