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


class KillAtBatch(pl.Callback):
    """SIGKILLs the process before training batch `batch_idx` of `epoch` (counted the same way in
    every family, whatever its optimiser steps per batch)."""

    def __init__(self, epoch: int, batch_idx: int) -> None:
        self.epoch, self.batch_idx = epoch, batch_idx

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch, batch_idx: int) -> None:
        if trainer.current_epoch == self.epoch and batch_idx == self.batch_idx:
            os.kill(os.getpid(), signal.SIGKILL)


class SignalAtStep(pl.Callback):
    """Sends `signum` to its own process (`times` times) before the batch of `global_step`: a real
    signal through the real handlers, at a reproducible point in the middle of an epoch."""

    def __init__(self, global_step: int, signum: str = "SIGTERM", times: int = 1) -> None:
        self.global_step = global_step
        self.signum = signal.Signals[signum]
        self.times = times

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch, batch_idx: int) -> None:
        if trainer.global_step == self.global_step:
            for _ in range(self.times):
                os.kill(os.getpid(), self.signum)


def signalling_datamodule(**kwargs):
    """The Fashion-MNIST DataModule, built after the process has sent itself SIGTERM: a signal
    that arrives before training starts (while the data loads)."""
    from genstyle.data import ImageDataModule

    os.kill(os.getpid(), signal.SIGTERM)
    return ImageDataModule(**kwargs)
