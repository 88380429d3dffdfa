"""What Lightning does not put in a checkpoint but an exact resume needs.

Lightning restores model, optimisers, schedulers and loop counters, and (through
`ResumableLoader`) the position in the data. Three things are missing, and this callback keeps
them in its own checkpoint section:

1. the global RNG states (torch, CUDA, numpy, Python): dropout masks, VAE reparameterisation
   noise and GAN latent draws after a resume are the ones the uninterrupted run would draw;
2. the running sums behind epoch-level metrics (`train/loss_epoch` ...): after a mid-epoch
   resume the epoch mean still covers the whole epoch, not only the batches after the resume;
3. the position of the local logs: CSV rows logged after the checkpoint (by the run that was
   killed) are dropped on resume, so the resumed run does not log them twice;
4. the trainer's `callback_metrics`: values logged in earlier epochs stay there until logged
   again (an evaluation every few epochs, a monitored metric), and both the per-epoch records
   (`metrics_history.jsonl`) and ModelCheckpoint's monitor read them.

The epoch sums live in Lightning's private `fit_loop.epoch_loop._results`; tests/test_resume.py
fails if a Lightning upgrade changes them.
"""

from __future__ import annotations

import csv
import io
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.loggers import CSVLogger

from genstyle.files import write_text_atomic


def capture_rng_state() -> dict[str, Any]:
    """Every global RNG as tensors and plain values, so `torch.load(weights_only=True)` reads it back."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {"kind": str(kind), "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
        "python": random.getstate(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np_state = state["numpy"]
    np.random.set_state((np_state["kind"], np_state["keys"].numpy().astype(np.uint32), np_state["pos"],
                         np_state["has_gauss"], np_state["cached_gaussian"]))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def epoch_sums(trainer: pl.Trainer) -> dict[str, dict[str, torch.Tensor]]:
    """The running sums of the training metrics reduced at epoch end, keyed as Lightning keys them."""
    sums = {}
    for key, metric in trainer.fit_loop.epoch_loop._results.items():
        if getattr(metric, "is_tensor", False) and metric.meta.on_epoch:
            entry = {"value": metric.value.detach().cpu().clone()}
            if metric.meta.is_mean_reduction:
                entry["cumulated_batch_size"] = metric.cumulated_batch_size.detach().cpu().clone()
            sums[key] = entry
    return sums


def add_epoch_sums(trainer: pl.Trainer, saved: dict[str, dict[str, torch.Tensor]]) -> dict[str, dict[str, torch.Tensor]]:
    """Fold the sums of the batches before the resume into the live ones; returns those whose
    metric has not been logged yet since the resume (they are folded in when it first is).

    The live sum holds exactly `v * b` of the first resumed batch (0 + x is exact), so
    `saved + live` is the same floating-point addition the uninterrupted run performed."""
    results = trainer.fit_loop.epoch_loop._results
    left = {}
    for key, entry in saved.items():
        metric = results.get(key)
        if metric is None or not getattr(metric, "is_tensor", False):
            left[key] = entry
            continue
        device = metric.value.device
        if metric.meta.is_mean_reduction or metric.meta.is_sum_reduction:
            metric.value = entry["value"].to(device) + metric.value
        elif metric.meta.is_max_reduction or metric.meta.is_min_reduction:
            metric.value = metric.meta.reduce_fx(entry["value"].to(device), metric.value)
        if "cumulated_batch_size" in entry and metric.meta.is_mean_reduction:
            metric.cumulated_batch_size = entry["cumulated_batch_size"].to(device) + metric.cumulated_batch_size
    return left


def trim_csv(path: Path, max_step: int) -> int:
    """Drop the rows logged after step `max_step` (by a run that was then killed); returns how many."""
    if not path.is_file():
        return 0
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        fields, rows = reader.fieldnames or [], list(reader)
    keep = [row for row in rows if not row.get("step") or int(float(row["step"])) <= max_step]
    if len(keep) == len(rows):
        return 0
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=fields)
    writer.writeheader()
    writer.writerows(keep)
    write_text_atomic(path, text.getvalue())
    return len(rows) - len(keep)


class ResumeState(pl.Callback):
    """RNG states, partial-epoch metric sums and the logged-step high-water mark, saved with
    every checkpoint. `state_dict` runs while the checkpoint is written (after the batch it
    follows), so the stored RNG state is the one the next batch starts from; on resume it is
    applied right before the first training batch, after anything Lightning does at start-up."""

    def __init__(self) -> None:
        self.trainer: pl.Trainer | None = None
        self.pending: dict[str, Any] | None = None
        self.pending_sums: dict[str, dict[str, torch.Tensor]] = {}

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self.trainer = trainer

    def state_dict(self) -> dict[str, Any]:
        trainer = self.trainer
        state: dict[str, Any] = {"rng": capture_rng_state()}
        if trainer is not None and trainer.state.fn == "fit":
            loop = trainer.fit_loop.epoch_loop
            # The step of the last row the checkpointed state has logged or will log: after a batch
            # (mid-epoch) the counter is not yet advanced; at an epoch's end it already is.
            at_epoch_end = trainer.training and loop.batch_progress.current.completed >= loop.batch_progress.current.processed
            state["logged_step"] = loop._batches_that_stepped - (1 if at_epoch_end else 0)
            state["callback_metrics"] = {
                key: value.detach().cpu().clone() for key, value in trainer.callback_metrics.items()
                if isinstance(value, torch.Tensor) and value.numel() == 1
            }
            if trainer.training:  # mid-epoch (not the validation at an epoch's end)
                state.update(epoch=trainer.current_epoch, batches_done=loop.batch_progress.current.processed,
                             epoch_sums=epoch_sums(trainer))
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.pending = state_dict

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.pending is None or "logged_step" not in self.pending:
            return
        # Before anything is logged in this fit: what the uninterrupted run still holds from earlier epochs.
        held = trainer._logger_connector._callback_metrics
        for key, value in self.pending.get("callback_metrics", {}).items():
            held.setdefault(key, value.to(pl_module.device))
        for logger in trainer.loggers:
            if isinstance(logger, CSVLogger):
                trim_csv(Path(logger.experiment.metrics_file_path), self.pending["logged_step"])

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int) -> None:
        if self.pending is None:
            return
        state, self.pending = self.pending, None
        restore_rng_state(state["rng"])
        # sums of a partly trained epoch only belong to that same epoch, resumed where it stopped
        if state.get("epoch") == trainer.current_epoch and state.get("batches_done") == batch_idx:
            self.pending_sums = dict(state.get("epoch_sums", {}))

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int) -> None:
        if self.pending_sums:
            self.pending_sums = add_epoch_sums(trainer, self.pending_sums)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.pending_sums = {}  # a metric never logged again in the resumed epoch has nothing to add to
