"""Fixtures shared by the command tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra.core.global_hydra import GlobalHydra

from genstyle.cli.train import train
from tests.conftest import compose_train


@pytest.fixture(scope="session")
def adain_ckpt(tmp_path_factory, fmnist_root) -> Path:
    """A real (tiny) model=adain checkpoint, trained once for stylize.py and the style benchmark."""
    run = tmp_path_factory.mktemp("adain_run") / "run"
    train(compose_train([f"data.root={fmnist_root}", "model=adain", "callbacks.evaluation=null"], run))
    GlobalHydra.instance().clear()
    return run / "checkpoints" / "last.ckpt"
