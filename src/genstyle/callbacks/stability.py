"""Training-stability signals: the moving variance of every training loss, and the windowed
spread used for FID over the last k evaluations (`stability/fid_spread`, logged by the evaluation
callback). GANs log `stability/grad_norm_g/d` and D's accuracies themselves. Divergence (a NaN or
infinite loss) is stopped by `fault_guard.NonFiniteLossGuard`, which raises before any checkpoint
with broken weights can replace the last good one.
"""

from __future__ import annotations

import math
from collections import deque

import pytorch_lightning as pl
import torch

from genstyle.errors import require


class MovingWindow:
    """The last `size` values of a series, with their variance and spread."""

    def __init__(self, size: int) -> None:
        require(size >= 2, f"window size {size} must be >= 2.")
        self.values: deque[float] = deque(maxlen=size)

    def add(self, value: float) -> None:
        self.values.append(float(value))

    def __len__(self) -> int:
        return len(self.values)

    def variance(self) -> float:
        """Unbiased sample variance (needs two values)."""
        return float(torch.tensor(list(self.values), dtype=torch.float64).var()) if len(self) >= 2 else math.nan

    def spread(self) -> float:
        """Standard deviation of the window: how much a metric still moves between evaluations."""
        return math.sqrt(self.variance()) if len(self) >= 2 else math.nan


def loss_name(key: str) -> str | None:
    """`train/d_loss_step` -> `d_loss`; None for keys that are not per-step training losses."""
    if not key.startswith("train/") or key.endswith("_epoch"):
        return None
    name = key[len("train/") :].removesuffix("_step")
    return name if "loss" in name else None


class StabilityMonitor(pl.Callback):
    """Logs `stability/var_<loss>`: the variance of each training loss over the last `window` steps
    (non-finite values are skipped here; the divergence guard reports them)."""

    def __init__(self, window: int = 50, log_every_n_steps: int = 1) -> None:
        require(window >= 2, f"callbacks.stability.window={window} must be >= 2.")
        require(log_every_n_steps >= 1, f"callbacks.stability.log_every_n_steps={log_every_n_steps} must be >= 1.")
        self.window, self.log_every_n_steps = window, log_every_n_steps
        self.series: dict[str, MovingWindow] = {}

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs, batch, batch_idx: int) -> None:
        losses = {}
        for key, value in trainer.callback_metrics.items():
            name = loss_name(key)
            if name is not None and torch.is_tensor(value) and value.numel() == 1:
                losses[name] = float(value)
        if torch.is_tensor(outputs) or (isinstance(outputs, dict) and torch.is_tensor(outputs.get("loss"))):
            loss = outputs if torch.is_tensor(outputs) else outputs["loss"]
            losses.setdefault("loss", float(loss.detach()))
        for name, value in losses.items():
            if not math.isfinite(value):
                continue
            self.series.setdefault(name, MovingWindow(self.window)).add(value)
        if trainer.global_step % self.log_every_n_steps == 0:
            out = {f"stability/var_{name}": s.variance() for name, s in self.series.items() if len(s) >= 2}
            if out:
                pl_module.log_dict(out, on_step=True, on_epoch=False)

    def state_dict(self) -> dict:
        return {"series": {k: list(s.values) for k, s in self.series.items()}}

    def load_state_dict(self, state_dict: dict) -> None:
        for name, values in state_dict.get("series", {}).items():
            window = self.series.setdefault(name, MovingWindow(self.window))
            for v in values:
                window.add(v)
