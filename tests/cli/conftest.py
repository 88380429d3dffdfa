"""Fixtures shared by the command tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra.core.global_hydra import GlobalHydra

from genstyle.cli.train import train
from tests.conftest import compose_train


@pytest.fixture(scope="session")
def style_swap_ckpt(tmp_path_factory, fmnist_root) -> Path:
    """A real (tiny) model=style_swap checkpoint, trained once for stylize.py and the style benchmark."""
    run = tmp_path_factory.mktemp("style_swap_run") / "run"
    train(compose_train([f"data.root={fmnist_root}", "model=style_swap", "callbacks.evaluation=null"], run))
    GlobalHydra.instance().clear()
    return run / "checkpoints" / "last.ckpt"
