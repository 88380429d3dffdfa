"""The Lightning logging fix: the early return changes nothing but the time spent."""

from __future__ import annotations

import torch
from pytorch_lightning.trainer.connectors.logger_connector.result import (
    _Metadata,
    _ResultCollection,
    _ResultMetric,
)

from genstyle import lightning_fixes


def metric() -> _ResultMetric:
    return _ResultMetric(_Metadata(fx="training_step", name="train/loss", on_step=True, on_epoch=True), is_tensor=True)


def test_the_patch_is_installed_by_the_model_base_and_only_once():
    import genstyle.models.base  # noqa: F401 - installs it

    patched = _ResultMetric.to
    assert patched.__wrapped__ is not None
    lightning_fixes.install()
    assert _ResultMetric.to is patched


def test_a_move_to_the_device_it_is_on_returns_without_walking(monkeypatch):
    from pytorch_lightning.trainer.connectors.logger_connector import result

    import genstyle.models.base  # noqa: F401

    walks = []
    real_walk = result.apply_to_collection
    monkeypatch.setattr(result, "apply_to_collection", lambda *a, **k: walks.append(1) or real_walk(*a, **k))
    m = metric()
    assert m.to(torch.device("cpu")) is m and m.to("cpu") is m
    assert walks == []
    # A dtype change is not a plain device move: it takes Lightning's own path and casts.
    assert m.to(torch.float64).value.dtype == torch.float64 and walks == [1]


def test_logging_results_are_unchanged():
    """Epoch means through the patched collection equal the hand-computed weighted means."""
    import genstyle.models.base  # noqa: F401

    results = _ResultCollection(training=True)
    values, sizes = [1.0, 2.0, 4.0], [4, 4, 2]
    for value, size in zip(values, sizes, strict=True):
        results.log("training_step", "train/loss", torch.tensor(value), on_step=True, on_epoch=True, batch_size=size)
    epoch = results.metrics(on_step=False)["callback"]["train/loss_epoch"]
    expected = sum(v * s for v, s in zip(values, sizes, strict=True)) / sum(sizes)
    assert float(epoch) == expected
    assert float(results.metrics(on_step=True)["callback"]["train/loss_step"]) == 4.0
