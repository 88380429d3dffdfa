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

from genstyle import host_sync
from genstyle.errors import require


class MovingWindow:
    """The last `size` values of a series, with their variance and spread."""

    def __init__(self, size: int) -> None:
        require(size >= 2, f"window size {size} must be >= 2.")
        self.values: deque[float] = deque(maxlen=size)

    def add(self, value: float | torch.Tensor) -> None:
        if torch.is_tensor(value) and not host_sync.host_reads_are_free(value.device):
            # Device values stay on the device: reading each one back would stall it every step.
            if self.values and not torch.is_tensor(self.values[0]):  # floats restored from a checkpoint
                restored = torch.tensor(list(self.values), dtype=torch.float64, device=value.device)
                self.values = deque(restored.unbind(), maxlen=self.values.maxlen)
            self.values.append(value.detach().double().reshape(()))
        else:
            self.values.append(float(value))

    def __len__(self) -> int:
        return len(self.values)

    def variance(self) -> float:
        """Unbiased sample variance (needs two values)."""
        if len(self) < 2:
            return math.nan
        if torch.is_tensor(self.values[0]):
            return device_variance(torch.stack(list(self.values)))
        return float(torch.tensor(list(self.values), dtype=torch.float64).var())

    def floats(self) -> list[float]:
        return [float(v) for v in self.values]

    def spread(self) -> float:
        """Standard deviation of the window: how much a metric still moves between evaluations."""
        return math.sqrt(self.variance()) if len(self) >= 2 else math.nan


def device_variance(values: torch.Tensor) -> torch.Tensor:
    """Unbiased variance of the finite entries of `values`, computed on their device (a tensor,
    NaN with fewer than two finite entries): no read-back, so no wait for the device."""
    finite = torch.isfinite(values)
    count = finite.sum()
    masked = torch.where(finite, values, torch.zeros_like(values))
    mean = masked.sum() / count.clamp_min(1)
    squares = torch.where(finite, (values - mean) ** 2, torch.zeros_like(values)).sum()
    return torch.where(count >= 2, squares / (count - 1).clamp_min(1), torch.full_like(squares, math.nan))


def loss_name(key: str) -> str | None:
    """`train/d_loss_step` -> `d_loss`; None for keys that are not per-step training losses."""
    if not key.startswith("train/") or key.endswith("_epoch"):
        return None
    name = key[len("train/") :].removesuffix("_step")
    return name if "loss" in name else None


class StabilityMonitor(pl.Callback):
    """Logs `stability/var_<loss>`: the variance of each training loss over the last `window` steps
    (non-finite values are skipped here; the divergence guard reports them)."""

    def __init__(self, window: int = 50, every_n_steps: int | None = None) -> None:
        require(window >= 2, f"callbacks.stability.window={window} must be >= 2.")
        require(every_n_steps is None or every_n_steps >= 1,
                f"callbacks.stability.every_n_steps={every_n_steps} must be >= 1 (or null: when the loggers write).")
        self.window, self.every_n_steps = window, every_n_steps
        self.series: dict[str, MovingWindow] = {}

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs, batch, batch_idx: int) -> None:
        # On an accelerator the values stay device tensors (non-finite ones are masked out when
        # the variance is computed); on the CPU they are read as floats, as always.
        on_host = host_sync.host_reads_are_free(getattr(pl_module, "device", torch.device("cpu")))
        losses = {}
        for key, value in trainer.callback_metrics.items():
            name = loss_name(key)
            if name is not None and torch.is_tensor(value) and value.numel() == 1:
                losses[name] = float(value) if on_host else value.detach()
        if torch.is_tensor(outputs) or (isinstance(outputs, dict) and torch.is_tensor(outputs.get("loss"))):
            loss = outputs if torch.is_tensor(outputs) else outputs["loss"]
            losses.setdefault("loss", float(loss.detach()) if on_host else loss.detach())
        for name, value in losses.items():
            if on_host and not math.isfinite(value):
                continue
            self.series.setdefault(name, MovingWindow(self.window)).add(value)
        if self.logs_now(trainer):
            out = {f"stability/var_{name}": s.variance() for name, s in self.series.items() if len(s) >= 2}
            if out:
                pl_module.log_dict(out, on_step=True, on_epoch=False)

    def logs_now(self, trainer: pl.Trainer) -> bool:
        """Whether to log the variances on this step. By default (None) on the steps where the
        loggers write (`trainer.log_every_n_steps`): a value logged in between is never written,
        and each `self.log` key costs Lightning about a millisecond of bookkeeping per step,
        which is a tenth of a small model's CPU step."""
        if self.every_n_steps is not None:
            return trainer.global_step % self.every_n_steps == 0
        connector = getattr(trainer, "_logger_connector", None)
        return True if connector is None else bool(connector.should_update_logs)

    def state_dict(self) -> dict:
        return {"series": {k: s.floats() for k, s in self.series.items()}}

    def load_state_dict(self, state_dict: dict) -> None:
        for name, values in state_dict.get("series", {}).items():
            window = self.series.setdefault(name, MovingWindow(self.window))
            for v in values:
                window.add(v)
