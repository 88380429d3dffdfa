"""Saves a grid of samples from fixed noise after every epoch, to disk and to the loggers."""

from __future__ import annotations

import math
from pathlib import Path

import pytorch_lightning as pl
import torch
from pytorch_lightning.utilities import rank_zero_only

from genstyle.callbacks.epoch_names import shown_epoch
from genstyle.images import log_image, save_grid
from genstyle.models.base import GenerativeModule


def grid_labels(n: int, num_classes: int | None) -> torch.Tensor | None:
    """For conditional models: each row of the grid shows one class."""
    if not num_classes:
        return None
    return torch.arange(n) % num_classes


class SampleGrid(pl.Callback):
    """`samples/epoch_XXX.png` from the same noise every epoch, so epochs compare (XXX counts from 1:
    `epoch_001.png` after the first epoch)."""

    def __init__(self, dirpath: str, num_samples: int = 64, seed: int = 1234, every_n_epochs: int = 1) -> None:
        if num_samples <= 0 or every_n_epochs <= 0:
            raise ValueError("callbacks.sample_grid: num_samples and every_n_epochs must be > 0.")
        self.dirpath, self.num_samples, self.seed, self.every_n_epochs = Path(dirpath), num_samples, seed, every_n_epochs

    @rank_zero_only
    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: GenerativeModule) -> None:
        epoch = trainer.current_epoch
        last = trainer.max_epochs is not None and epoch + 1 >= trainer.max_epochs
        if (epoch + 1) % self.every_n_epochs and not last:
            return
        generator = torch.Generator().manual_seed(self.seed)
        labels = grid_labels(self.num_samples, pl_module.num_classes if pl_module.is_conditional else None)
        images = pl_module.sample(self.num_samples, labels=None if labels is None else labels.to(pl_module.device), generator=generator)
        nrow = pl_module.num_classes if labels is not None else int(math.sqrt(self.num_samples))
        shown = shown_epoch(epoch)
        path = save_grid(images, self.dirpath / f"epoch_{shown:03d}.png", nrow=nrow)
        log_image(trainer, "samples", path, step=trainer.global_step, caption=f"epoch {shown}")
