"""Stops training with a clear message when a training loss becomes NaN or infinite.

Lightning keeps training on a NaN loss, and the checkpoint written next would hold NaN weights
and replace the last good `last.ckpt`. This callback checks every loss the model logged for the
batch (`train/*loss*`, and the loss returned by `training_step`) and raises before
`ModelCheckpoint` runs (Lightning always calls ModelCheckpoint last), so the newest checkpoint
on disk is always the last good one. It works for every family: it reads only logged metrics.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch

from genstyle import host_sync
from genstyle.callbacks.epoch_names import shown_epoch
from genstyle.errors import GenstyleError


def non_finite_losses(trainer: pl.Trainer, outputs: Any) -> dict[str, float]:
    """Loss values of the batch that just ran which are NaN or +-inf."""
    found: dict[str, float] = {}
    candidates = dict(trainer.callback_metrics)
    if isinstance(outputs, dict) and "loss" in outputs:
        candidates["training_step loss"] = outputs["loss"]
    elif isinstance(outputs, torch.Tensor):
        candidates["training_step loss"] = outputs
    for key, value in candidates.items():
        if not (key.startswith("train/") or key == "training_step loss") or "loss" not in key:
            continue
        if isinstance(value, torch.Tensor):
            if value.numel() != 1:
                continue
            value = value.detach().float().item()
        if isinstance(value, (int, float)) and not math.isfinite(value):
            found[key] = float(value)
    return found


def loss_tensors(trainer: pl.Trainer, outputs: Any) -> list[torch.Tensor]:
    """The batch's scalar loss tensors (the keys `non_finite_losses` checks), left where they are."""
    candidates = dict(trainer.callback_metrics)
    if isinstance(outputs, dict) and "loss" in outputs:
        candidates["training_step loss"] = outputs["loss"]
    elif isinstance(outputs, torch.Tensor):
        candidates["training_step loss"] = outputs
    return [
        v.detach().float().reshape(())
        for k, v in candidates.items()
        if (k.startswith("train/") or k == "training_step loss") and "loss" in k and isinstance(v, torch.Tensor) and v.numel() == 1
    ]


class NonFiniteLossGuard(pl.Callback):
    """On the CPU every `check_every_n_steps` batches are checked as they end. On an accelerator
    reading a loss back stalls the device, so each batch only folds "all losses finite" into a
    flag on the device, which is read every `device_check_every_n_steps` batches and always
    before a checkpoint is written: a checkpoint with broken weights still never replaces a good one."""

    def __init__(self, check_every_n_steps: int = 1, device_check_every_n_steps: int = 50) -> None:
        if check_every_n_steps < 1:
            raise GenstyleError(f"callbacks.non_finite_loss_guard.check_every_n_steps={check_every_n_steps} must be >= 1.")
        if device_check_every_n_steps < 1:
            raise GenstyleError(
                f"callbacks.non_finite_loss_guard.device_check_every_n_steps={device_check_every_n_steps} must be >= 1."
            )
        self.check_every_n_steps, self.device_check_every_n_steps = check_every_n_steps, device_check_every_n_steps
        self.finite: torch.Tensor | None = None  # accelerators: all losses finite since the last check
        self.since: tuple[int, int] = (0, 0)  # (epoch, batch) of the last check

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int) -> None:
        if not host_sync.host_reads_are_free(pl_module.device):
            losses = loss_tensors(trainer, outputs)
            if losses:
                finite = torch.isfinite(torch.stack(losses)).all()
                self.finite = finite if self.finite is None else self.finite & finite
            if (batch_idx + 1) % self.device_check_every_n_steps == 0:
                self.check_device_flag(trainer, outputs, batch_idx)
            return
        if batch_idx % self.check_every_n_steps:
            return
        self.stop_if_bad(trainer, non_finite_losses(trainer, outputs), batch_idx)

    def on_save_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict) -> None:
        # Raised here, the checkpoint is never written (Lightning fills it before writing it).
        if trainer.training:
            self.check_device_flag(trainer, None, trainer.fit_loop.epoch_loop.batch_idx)

    def check_device_flag(self, trainer: pl.Trainer, outputs: Any, batch_idx: int) -> None:
        flag, self.finite = self.finite, None
        since, self.since = self.since, (shown_epoch(trainer.current_epoch), batch_idx + 1)
        if flag is None or bool(flag):
            return
        bad = non_finite_losses(trainer, outputs) or {
            f"a training loss between epoch {since[0]} batch {since[1]} and this batch": math.nan
        }
        self.stop_if_bad(trainer, bad, batch_idx)

    def stop_if_bad(self, trainer: pl.Trainer, bad: dict[str, float], batch_idx: int) -> None:
        if not bad:
            return
        values = ", ".join(f"{k}={v}" for k, v in sorted(bad.items()))
        last = last_checkpoint(trainer)
        raise GenstyleError(
            f"Training diverged at epoch {shown_epoch(trainer.current_epoch)}, batch {batch_idx} (global step {trainer.global_step}): "
            f"{values}. No checkpoint was written after this batch; "
            + (f"the last good checkpoint is {last}. " if last else "no checkpoint had been written yet. ")
            + "Lower the learning rate (model.*optimizer.lr), add gradient clipping (trainer.gradient_clip_val=1.0, "
            "automatic-optimisation models only) or use precision=32-true, then resume with ckpt_path=last or start again."
        )


def last_checkpoint(trainer: pl.Trainer) -> str | None:
    callback = trainer.checkpoint_callback
    if callback is None or not callback.dirpath:
        return None
    path = Path(callback.dirpath) / f"{callback.CHECKPOINT_NAME_LAST}{callback.FILE_EXTENSION}"
    return str(path) if path.is_file() else (callback.last_model_path or None)
