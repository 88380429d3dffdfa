"""cli/common.exit_without_full_collections: the end of a finished command collects its garbage
(every finalizer still runs) and freezes the rest, so that the interpreter's exit skips its full
garbage collections over torch and Lightning (more than a second of `train.py debug=fast`)."""

from __future__ import annotations

import gc

import pytest

from genstyle.cli import common


@pytest.fixture
def unfrozen():
    yield
    gc.unfreeze()  # the rest of the test session collects as usual


def test_the_garbage_left_is_finalized_and_the_rest_frozen(unfrozen):
    finalized = []

    class Cycle:
        def __del__(self):
            finalized.append(True)

    a, b = Cycle(), Cycle()
    a.other, b.other = b, a  # unreachable after `del`: only a collection frees it
    del a, b
    common.exit_without_full_collections()
    assert finalized == [True, True]
    assert gc.get_freeze_count() > 1000  # the modules, functions and classes in memory


def test_train_main_ends_with_it(monkeypatch):
    from genstyle.cli import train

    calls = []
    monkeypatch.setattr(train, "run", lambda: calls.append("run") or 0.5)
    monkeypatch.setattr(train, "exit_without_full_collections", lambda: calls.append("exit"))
    monkeypatch.setattr("sys.argv", ["train.py", "debug=fast"])
    assert train.main() == 0.5
    assert calls == ["run", "exit"]
