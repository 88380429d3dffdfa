"""generate.py uses the generator EMA when the run kept one; use_ema=false the trained weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from genstyle.cli.train import train
from tests.helpers.forked_cli import run_cli_forked as run_cli


@pytest.fixture(scope="module")
def ema_checkpoint(tmp_path_factory, fmnist_root) -> Path:
    from tests.conftest import compose_train

    run = tmp_path_factory.mktemp("dcgan_ema_run")
    cfg = compose_train([f"data.root={fmnist_root}", "model=dcgan", "callbacks.evaluation=null", "model.monitor=null",
                         "model.recipe.ema.decay=0.5", "model.recipe.augment=[translation,cutout]"], run / "run")
    train(cfg)
    return run / "run" / "checkpoints" / "last.ckpt"


def test_generate_uses_the_ema_generator_unless_told_not_to(ema_checkpoint, tmp_path):
    grids = {}
    for use_ema in ("null", "false", "true"):
        out = tmp_path / f"use_ema_{use_ema}.png"
        result = run_cli("generate.py", f"ckpt_path={ema_checkpoint}", "n=16", "seed=3", f"use_ema={use_ema}", f"out={out}")
        assert result.returncode == 0, result.stderr
        with Image.open(out) as img:
            grids[use_ema] = np.asarray(img)
    assert np.array_equal(grids["null"], grids["true"])  # the default is the EMA
    assert not np.array_equal(grids["null"], grids["false"])


@pytest.mark.slow  # a second training run for one error message
def test_use_ema_true_without_an_ema_is_a_user_error(tmp_path_factory, fmnist_root):
    from tests.conftest import compose_train

    run = tmp_path_factory.mktemp("dcgan_plain_run")
    train(compose_train([f"data.root={fmnist_root}", "model=dcgan", "callbacks.evaluation=null", "model.monitor=null"], run / "run"))
    result = run_cli("generate.py", f"ckpt_path={run / 'run' / 'checkpoints' / 'last.ckpt'}", "n=4", "use_ema=true")
    assert result.returncode == 2
    assert "kept no generator EMA" in result.stderr and "Traceback" not in result.stderr
