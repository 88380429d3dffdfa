"""One console line per evaluation with the numbers a run is for, instead of only losses in the
progress bar: `val/fid` and the family's own (`val/elbo` for the VAEs, `val/fid_a2b` /
`val/fid_b2a` for translators, `val/source_dependence` for the models that take a source image:
1 = their results vary as their sources, 0 = one result whatever the source). `headline()` also picks the numbers of the results block that
`train.py` prints at the end."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import pytorch_lightning as pl

# In this order; a family shows those it logs. `val/loss` only when none of the others is logged.
HEADLINE = ("val/fid", "val/fid_a2b", "val/fid_b2a", "val/source_dependence", "val/elbo", "val/kid")
FALLBACK = ("val/loss",)


def headline(metrics: Mapping[str, float], names: Sequence[str] = HEADLINE) -> dict[str, float]:
    """The headline metrics among `metrics` (plus their `test/` counterparts), in display order."""
    chosen = {n: float(metrics[n]) for n in names if n in metrics}
    if not chosen:
        chosen = {n: float(metrics[n]) for n in FALLBACK if n in metrics}
    for name in list(chosen):
        test = "test/" + name.split("/", 1)[1]
        if test in metrics:
            chosen[test] = float(metrics[test])
    return chosen


def format_value(value: float) -> str:
    if not math.isfinite(value):
        return str(value)
    return f"{value:.4g}" if abs(value) < 1e4 else f"{value:.1f}"


def headline_line(epoch: int, max_epochs: int | None, step: int, metrics: Mapping[str, float], batches: int | None = None) -> str:
    """`epoch 2/5 (step 16): ...`; when the optimiser steps are not the batches (adversarial families
    step several optimisers per batch) both are said: `(step 3600 = optimiser steps, 1148 batches)`."""
    total = f"/{max_epochs}" if max_epochs and max_epochs > 0 else ""
    values = "  ".join(f"{k} {format_value(v)}" for k, v in metrics.items())
    where = f"step {step}" if batches is None or batches == step else f"step {step} = optimiser steps, {batches} batches"
    return f"epoch {epoch + 1}{total} ({where}): {values}"


class HeadlineMetrics(pl.Callback):
    """Prints `epoch E/N (step S): val/fid 12.3  val/elbo -301.2` after every validation (or, without
    a validation loop, when the next epoch starts). Printing goes above the rich progress bar."""

    def __init__(self, metrics: Sequence[str] = HEADLINE) -> None:
        self.metrics = tuple(metrics)
        self._printed: set[tuple[int, int]] = set()
        self._last: dict[str, float] = {}
        self._pending: int | None = None  # an epoch trained without validation, printed once its metrics are reduced

    def _print(self, trainer: pl.Trainer, epoch: int) -> None:
        # once per epoch and step: a run validated twice in one epoch (val_check_interval, or the final
        # evaluation of a run that max_time stops mid-epoch) shows both, the last as in the results block
        key = (epoch, trainer.global_step)
        if key in self._printed or not trainer.is_global_zero:
            return
        values = headline({k: v.item() if hasattr(v, "item") else v for k, v in trainer.callback_metrics.items()
                           if k.startswith("val/")}, self.metrics)
        if values and values != self._last:  # new numbers only: never the same line again at a later step
            self._printed.add(key)
            self._last = values
            batches = trainer.fit_loop.epoch_loop.batch_progress.total.completed  # across epochs, kept on resume
            print(headline_line(epoch, trainer.max_epochs, trainer.global_step, values, batches), flush=True)

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """The run in one line (Lightning's model-summary table is off: `trainer.enable_model_summary`)."""
        if trainer.is_global_zero:
            params = sum(p.numel() for p in pl_module.parameters())
            epochs = f"{trainer.max_epochs} epochs" if trainer.max_epochs and trainer.max_epochs > 0 else "no epoch limit"
            batches = trainer.num_training_batches
            print(f"Training {type(pl_module).__name__} ({params / 1e6:.2f} M parameters): {epochs} of "
                  f"{batches} batches, from epoch {trainer.current_epoch + 1}; run directory {trainer.default_root_dir}", flush=True)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.sanity_checking and trainer.state.fn == "fit":
            self._print(trainer, trainer.current_epoch)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if (trainer.current_epoch, trainer.global_step) not in self._printed:
            self._pending = trainer.current_epoch

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._flush(trainer)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._flush(trainer)
        self._print(trainer, trainer.current_epoch)  # a final evaluation after the last validation (max_time)

    def _flush(self, trainer: pl.Trainer) -> None:
        if self._pending is not None:
            epoch, self._pending = self._pending, None
            self._print(trainer, epoch)
