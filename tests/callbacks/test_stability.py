"""Moving loss variance and FID spread."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

from genstyle.callbacks.evaluation import check_monitor_source
from genstyle.callbacks.stability import MovingWindow, StabilityMonitor, loss_name
from genstyle.errors import GenstyleError


def test_window_keeps_the_last_values_and_their_variance():
    w = MovingWindow(3)
    assert math.isnan(w.variance())
    for v in [100.0, 1.0, 2.0, 3.0]:
        w.add(v)
    assert list(w.values) == [1.0, 2.0, 3.0]
    assert w.variance() == pytest.approx(1.0) and w.spread() == pytest.approx(1.0)


def test_loss_names():
    assert loss_name("train/d_loss_step") == "d_loss" and loss_name("train/loss") == "loss"
    assert loss_name("train/d_loss_epoch") is None and loss_name("val/loss") is None and loss_name("train/d_real_acc") is None


class Recorder:
    def __init__(self) -> None:
        self.logged: dict[str, float] = {}

    def log_dict(self, values, **kwargs) -> None:
        self.logged.update(values)


def test_monitor_logs_variance_per_loss_and_skips_non_finite():
    monitor, module = StabilityMonitor(window=4), Recorder()
    series = [1.0, 3.0, float("nan"), 5.0]
    for step, value in enumerate(series):
        trainer = SimpleNamespace(global_step=step, callback_metrics={"train/g_loss_step": torch.tensor(value), "train/d_loss": torch.tensor(2.0)})
        monitor.on_train_batch_end(trainer, module, None, None, step)
    assert module.logged["stability/var_g_loss"] == pytest.approx(torch.tensor([1.0, 3.0, 5.0]).var().item())
    assert module.logged["stability/var_d_loss"] == 0.0


def test_monitor_logs_only_on_the_steps_the_loggers_write_but_keeps_every_value():
    monitor, module = StabilityMonitor(window=10), Recorder()
    for step in range(4):
        connector = SimpleNamespace(should_update_logs=step == 3)  # e.g. trainer.log_every_n_steps=4
        trainer = SimpleNamespace(global_step=step, _logger_connector=connector,
                                  callback_metrics={"train/loss_step": torch.tensor(float(step))})
        monitor.on_train_batch_end(trainer, module, None, None, step)
        assert ("stability/var_loss" in module.logged) == (step == 3)
    assert module.logged["stability/var_loss"] == pytest.approx(torch.tensor([0.0, 1.0, 2.0, 3.0]).var().item())


def test_fid_monitor_without_evaluation_fails_at_start_up():
    with pytest.raises(GenstyleError, match="model.monitor=val/fid"):
        check_monitor_source("val/fid", [])
    check_monitor_source("val/loss", [])  # metrics the model logs itself need no evaluation callback
