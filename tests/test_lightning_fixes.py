"""The Lightning logging fix: installed by the training command (not by importing a model), the
early return changes nothing but the time spent, a move to another device still moves, and a
Lightning release it was not checked against is left untouched with a warning."""

from __future__ import annotations

import subprocess
import sys

import pytest
import pytorch_lightning
import torch
from pytorch_lightning.trainer.connectors.logger_connector import result
from pytorch_lightning.trainer.connectors.logger_connector.result import (
    _Metadata,
    _ResultCollection,
    _ResultMetric,
)

from genstyle import lightning_fixes
from tests.conftest import compose_train

META = torch.device("meta")


def metric(reduce_fx: str = "mean") -> _ResultMetric:
    """A logged tensor metric as `self.log` makes it: a mean keeps `value` and `cumulated_batch_size`,
    a max only `value`."""
    return _ResultMetric(_Metadata(fx="training_step", name="train/loss", on_step=True, on_epoch=True, reduce_fx=reduce_fx), is_tensor=True)


def lightnings_own() -> object:
    """`_ResultMetric.to` as Lightning ships it."""
    return _ResultMetric.to.__wrapped__ if lightning_fixes.is_installed() else _ResultMetric.to


@pytest.fixture
def unpatched(monkeypatch) -> object:
    """Lightning without the fix for the test's length (the fix is back afterwards)."""
    original = lightnings_own()
    monkeypatch.setattr(_ResultMetric, "to", original)
    assert not lightning_fixes.is_installed()
    return original


@pytest.fixture
def walks(monkeypatch) -> list[int]:
    """One entry per walk of Lightning's own `to` over a metric's state."""
    calls: list[int] = []
    real_walk = result.apply_to_collection
    monkeypatch.setattr(result, "apply_to_collection", lambda *a, **k: calls.append(1) or real_walk(*a, **k))
    return calls


def tensors_of(metric: _ResultMetric) -> dict[str, tuple]:
    """Every tensor in the metric's state (its values and the defaults `reset` restores), by path:
    (device, dtype, values; no values on the meta device, which has none)."""
    found: dict[str, tuple] = {}

    def walk(path: str, value: object) -> None:
        if isinstance(value, torch.Tensor):
            found[path] = (value.device, value.dtype, None if value.is_meta else value.tolist())
        elif isinstance(value, dict):
            for key, item in value.items():
                walk(f"{path}.{key}", item)
        elif isinstance(value, (list, tuple)):
            for i, item in enumerate(value):
                walk(f"{path}[{i}]", item)

    walk("", dict(metric.__dict__))
    return found


def test_importing_the_models_installs_nothing():
    """Only a command that runs a Trainer installs the fix: importing every model family, the base
    and the callbacks leaves Lightning as shipped."""
    code = (
        "import importlib, pkgutil, genstyle.models, genstyle.callbacks\n"
        "for package in (genstyle.models, genstyle.callbacks):\n"
        "    for info in pkgutil.walk_packages(package.__path__, package.__name__ + '.'):\n"
        "        importlib.import_module(info.name)\n"
        "from genstyle import lightning_fixes\n"
        "print('installed' if lightning_fixes.is_installed() else 'untouched')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "untouched"


def test_the_training_command_installs_it_once(unpatched, tmp_path, fmnist_root):
    from genstyle.cli.train import build

    build(compose_train(["model=vae", f"data.root={fmnist_root}"], tmp_path / "run"))
    assert lightning_fixes.is_installed()
    patched = _ResultMetric.to
    assert patched.__wrapped__ is unpatched
    assert lightning_fixes.install() and _ResultMetric.to is patched  # idempotent: not wrapped twice


def test_a_move_to_the_device_it_is_on_returns_without_walking(walks):
    assert lightning_fixes.install()
    m = metric()
    assert m.to(torch.device("cpu")) is m and m.to("cpu") is m
    assert walks == []
    # A dtype change is not a plain device move: it takes Lightning's own path and casts.
    assert m.to(torch.float64).value.dtype == torch.float64 and walks == [1]


def test_a_move_to_another_device_gets_there_through_the_patched_method(walks):
    """The early return must not be taken for a metric elsewhere: the patched `to` (the method the
    class holds) moves both tensors, and the defaults `reset` restores, to the meta device."""
    assert lightning_fixes.install() and lightning_fixes.is_installed()
    m = metric()
    assert m.to(META) is m
    assert m.value.device == META and m.cumulated_batch_size.device == META
    assert all(device == META for device, _, _ in tensors_of(m).values())
    assert walks == [1]  # Lightning's own walk did the move
    assert m.to("meta") is m and walks == [1]  # now it is there: the early return


MOVES = [(("cpu",), {}), ((torch.device("cpu"),), {}), (("meta",), {}), ((META,), {}), ((torch.float64,), {}),
         ((), {"device": "meta"}), ((), {"device": "cpu"})]
# From the meta device there is no way back (it holds no data): only moves that stay on it.
CASES = [("cpu", *move) for move in MOVES] + [("meta", *move) for move in MOVES if "cpu" not in str(move)]


@pytest.mark.parametrize("reduce_fx", ["mean", "max"])
@pytest.mark.parametrize(("start", "args", "kwargs"), CASES)
def test_the_patched_move_agrees_with_lightnings_own(reduce_fx, start, args, kwargs):
    """Same state after the patched and the unpatched `to`, for moves to the same device (the early
    return), to another device, with a dtype, and by keyword."""
    assert lightning_fixes.install()
    patched, original = _ResultMetric.to, lightnings_own()
    ours, theirs = metric(reduce_fx), metric(reduce_fx)
    original(ours, start)
    original(theirs, start)
    assert patched(ours, *args, **kwargs) is ours
    assert original(theirs, *args, **kwargs) is theirs
    assert tensors_of(ours) == tensors_of(theirs)


@pytest.mark.parametrize("version", ["3.0.0", "2.3.3", "2.7.0rc1", "1.9.5", "unknown"])
def test_an_unchecked_lightning_is_left_untouched_with_a_warning(unpatched, monkeypatch, version):
    monkeypatch.setattr(pytorch_lightning, "__version__", version)
    with pytest.warns(RuntimeWarning, match=rf"checked against pytorch-lightning 2\.4 to 2\.6, not {version}; it is not applied"):
        assert lightning_fixes.install() is False
    assert _ResultMetric.to is unpatched and not lightning_fixes.is_installed()


@pytest.mark.parametrize("version", ["2.4.0", "2.5.6", "2.6.6"])
def test_a_checked_lightning_is_patched(unpatched, monkeypatch, version, recwarn):
    monkeypatch.setattr(pytorch_lightning, "__version__", version)
    assert lightning_fixes.install() is True
    assert lightning_fixes.is_installed() and _ResultMetric.to.__wrapped__ is unpatched
    assert not [w for w in recwarn if "pytorch-lightning" in str(w.message)]


def test_logging_results_are_unchanged():
    """Epoch means through the patched collection equal the hand-computed weighted means."""
    assert lightning_fixes.install()
    results = _ResultCollection(training=True)
    values, sizes = [1.0, 2.0, 4.0], [4, 4, 2]
    for value, size in zip(values, sizes, strict=True):
        results.log("training_step", "train/loss", torch.tensor(value), on_step=True, on_epoch=True, batch_size=size)
    epoch = results.metrics(on_step=False)["callback"]["train/loss_epoch"]
    expected = sum(v * s for v, s in zip(values, sizes, strict=True)) / sum(sizes)
    assert float(epoch) == expected
    assert float(results.metrics(on_step=True)["callback"]["train/loss_step"]) == 4.0
