"""Test-only callback: the process SIGKILLs itself at a chosen training step (a real, uncatchable
kill, at a reproducible point in the middle of an epoch)."""

from __future__ import annotations

import os
import signal

import pytorch_lightning as pl


class KillAtStep(pl.Callback):
    def __init__(self, global_step: int) -> None:
        self.global_step = global_step

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch, batch_idx: int) -> None:
        if trainer.global_step == self.global_step:
            os.kill(os.getpid(), signal.SIGKILL)
