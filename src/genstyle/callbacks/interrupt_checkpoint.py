"""Ctrl-C and `kill -TERM` keep the work: the current step is checkpointed, then the run stops.

Lightning on its own ends a SIGTERM-ed run with exit status 0 and no checkpoint (its
`SIGTERMException` is a `SystemExit` without a code), and turns Ctrl-C into exit 1 with nothing
saved since the last checkpoint. Schedulers (SLURM, Kubernetes) send SIGTERM before pre-emption,
so a lost run must neither look like a success nor lose its steps.

This callback replaces both handlers while training runs. The first SIGINT or SIGTERM only sets a
flag (and says so on stderr); at the end of the batch that is running (or of the epoch's
validation, when the signal comes during it, at the start of the next epoch) `last.ckpt` is
written through the trainer's checkpoint IO (atomic, see `checkpoint_io.py`) at exactly the point
a mid-epoch `ModelCheckpoint` would write it, so `ckpt_path=last` resumes it like any mid-epoch
checkpoint. Then `TrainingInterrupted` ends the run; the CLI prints how to resume and exits 128 + the
signal number (130 for SIGINT, 143 for SIGTERM). A second Ctrl-C aborts at once (exit 130,
nothing more is saved).
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from types import FrameType
from typing import Any

import pytorch_lightning as pl

from genstyle.errors import AbortedByUser, TrainingInterrupted

HANDLED = (signal.SIGINT, signal.SIGTERM)


def _say(text: str) -> None:
    # os.write, not print: a signal handler may run while the main thread is inside print()
    try:
        os.write(2, f"\n{text}\n".encode())
    except OSError:
        pass


class GracefulInterrupt(pl.Callback):
    def __init__(self, checkpoint_path: str | os.PathLike) -> None:
        self.checkpoint_path = Path(checkpoint_path)
        self.requested: int | None = None  # the signal received, until it is acted on
        self.stopping: TrainingInterrupted | None = None  # checkpoint written; raised at the next hook
        self._previous: dict[int, Any] = {}

    # --- signal handling -------------------------------------------------------------------------

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self.requested is not None:
            if signum == signal.SIGINT:
                signal.signal(signal.SIGINT, signal.SIG_DFL)  # a third Ctrl-C kills the process outright
                raise AbortedByUser()
            return  # a repeated SIGTERM: the checkpoint is already on its way
        self.requested = signum
        _say(f"{signal.Signals(signum).name} received: saving a checkpoint of the current step, then stopping "
             "(press Ctrl-C again to abort at once without it).")

    def _install(self) -> None:
        """Take over SIGINT and SIGTERM. Called at every stage start because Lightning registers its
        own SIGTERM handler after `on_fit_start`; the handlers found first are restored at teardown."""
        for signum in HANDLED:
            current = signal.getsignal(signum)
            if current != self._on_signal:
                self._previous.setdefault(signum, current)
                signal.signal(signum, self._on_signal)

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if stage == "fit":
            self._install()

    def on_sanity_check_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._install()
        self._stop_if_requested(trainer)

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._install()
        self._stop_if_requested(trainer)

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        for signum, handler in self._previous.items():
            if handler is not None:
                signal.signal(signum, handler)
        self._previous = {}

    # --- acting on a signal at a resumable point -------------------------------------------------
    # The checkpoint is written where a mid-epoch ModelCheckpoint writes it (the end of a batch) or
    # at the start of the next epoch (a signal during validation); the run stops one hook later,
    # after Lightning has logged the batch's row, so the logs match an uninterrupted run's.

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int) -> None:
        if self.requested is not None:
            self._checkpoint_and_prepare_stop(trainer)

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int) -> None:
        self._stop_if_prepared()

    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._stop_if_prepared()

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._stop_if_requested(trainer)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._stop_if_prepared()
        if self.requested is not None:  # during the last validation: training is complete and saved
            last = self.checkpoint_path if self.checkpoint_path.is_file() else None
            raise TrainingInterrupted(self.requested, last, trainer.current_epoch, trainer.global_step)

    def _checkpoint_and_prepare_stop(self, trainer: pl.Trainer) -> None:
        signum, self.requested = self.requested, None
        checkpoint = None
        if trainer.global_step > 0:  # before the first step there is nothing worth resuming
            trainer.save_checkpoint(self.checkpoint_path, weights_only=False)  # the full state, as ModelCheckpoint writes it
            checkpoint = self.checkpoint_path
        self.stopping = TrainingInterrupted(signum, checkpoint, trainer.current_epoch, trainer.global_step)

    def _stop_if_prepared(self) -> None:
        if self.stopping is not None:
            stop, self.stopping = self.stopping, None
            raise stop

    def _stop_if_requested(self, trainer: pl.Trainer) -> None:
        if self.requested is not None:
            self._checkpoint_and_prepare_stop(trainer)
        self._stop_if_prepared()
