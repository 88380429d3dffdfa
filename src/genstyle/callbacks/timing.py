"""Wall time of a run, written to `timing.json` in the run directory (read by compare.py).

Kept out of the logged metrics on purpose: times differ from run to run, and the logged
metrics of a resumed run must equal those of the uninterrupted run bit for bit. The figures
are this process's: a resumed run counts from its resumption.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytorch_lightning as pl
from pytorch_lightning.utilities import rank_zero_only

from genstyle.files import write_json_atomic


class Timing(pl.Callback):
    """`time/fit_seconds`: fit start to now (training, validation, evaluation, checkpoints);
    `time/train_seconds`: the training batches alone; `time/step_ms`: their mean per batch."""

    def __init__(self, dirpath: str) -> None:
        self.dirpath = Path(dirpath)
        self.fit_start = self.batch_start = 0.0
        self.train_seconds, self.steps = 0.0, 0

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.fit_start = time.perf_counter()

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.batch_start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.train_seconds += time.perf_counter() - self.batch_start
        self.steps += 1

    @rank_zero_only
    def _write(self) -> None:
        if not self.steps:
            return
        self.dirpath.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.dirpath / "timing.json", {
            "time/fit_seconds": round(time.perf_counter() - self.fit_start, 3),
            "time/train_seconds": round(self.train_seconds, 3),
            "time/step_ms": round(1000 * self.train_seconds / self.steps, 3),
            "time/train_batches": self.steps,
        })  # fmt: skip

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._write()

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._write()
