"""Writes every logged metric to the run directory: `metrics.json` (final values) and
`metrics_history.jsonl` (one line per validation/train epoch), readable without any logger."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytorch_lightning as pl
import torch
from pytorch_lightning.utilities import rank_zero_only

from genstyle.files import write_json_atomic, write_text_atomic


def scalar_metrics(metrics: dict) -> dict[str, float]:
    out = {}
    for key, value in metrics.items():
        if isinstance(value, torch.Tensor):
            if value.numel() != 1:
                continue
            value = value.item()
        if isinstance(value, (int, float)):
            out[key] = float(value)
    return out


class MetricsRecorder(pl.Callback):
    def __init__(self, dirpath: str) -> None:
        self.dirpath = Path(dirpath)
        self.final: dict[str, float] = {}

    @property
    def history_path(self) -> Path:
        return self.dirpath / "metrics_history.jsonl"

    @rank_zero_only
    def _record(self, trainer: pl.Trainer) -> None:
        if trainer.sanity_checking:
            return
        metrics = scalar_metrics(trainer.callback_metrics)
        self.final.update(metrics)
        self.dirpath.mkdir(parents=True, exist_ok=True)
        # Sorted keys: the order of callback_metrics depends on which keys an earlier epoch of the
        # same process logged first, so a resumed run would write the same numbers in another order.
        row = {"epoch": trainer.current_epoch, "step": trainer.global_step, **dict(sorted(metrics.items()))}
        with self.history_path.open("a") as fh:
            fh.write(json.dumps({k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}) + "\n")
        write_json_atomic(self.dirpath / "metrics.json", self.final)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._record(trainer)

    def on_test_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._record(trainer)

    def state_dict(self) -> dict:
        rows = sum(1 for _ in self.history_path.open()) if self.history_path.is_file() else 0
        return {"final": dict(self.final), "history_rows": rows}

    def load_state_dict(self, state_dict: dict) -> None:
        self.final = dict(state_dict.get("final", {}))
        # A resumed run drops the rows the killed run wrote after this checkpoint: it writes them again.
        rows = state_dict.get("history_rows")
        if rows is not None and self.history_path.is_file():
            lines = self.history_path.read_text().splitlines(keepends=True)
            if len(lines) > rows:
                write_text_atomic(self.history_path, "".join(lines[:rows]))
