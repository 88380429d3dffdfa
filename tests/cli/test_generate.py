"""generate.py end to end on a checkpoint a test trains."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from genstyle.cli.train import train
from tests.conftest import run_cli


@pytest.fixture(scope="module")
def vae_checkpoint(tmp_path_factory, fmnist_root) -> Path:
    from tests.conftest import compose_train

    run = tmp_path_factory.mktemp("vae_run")
    cfg = compose_train([f"data.root={fmnist_root}", "model=vae", "callbacks.evaluation=null"], run / "run")
    train(cfg)
    return run / "run" / "checkpoints" / "last.ckpt"


def test_grid_beside_the_run(vae_checkpoint):
    result = run_cli("generate.py", f"ckpt_path={vae_checkpoint}", "n=16", "seed=3")
    assert result.returncode == 0, result.stderr
    out = vae_checkpoint.parent.parent / "generated" / "samples_seed3.png"
    with Image.open(out) as img:
        assert img.size == (4 * 30 + 2, 4 * 30 + 2)  # 4x4 grid of 28px images, 2px padding


def test_individual_pngs(vae_checkpoint, tmp_path):
    result = run_cli("generate.py", f"ckpt_path={vae_checkpoint}", "n=5", "grid=false", f"out={tmp_path / 'imgs'}")
    assert result.returncode == 0, result.stderr
    assert f"Wrote 5 samples to {tmp_path / 'imgs'}" in result.stdout
    files = sorted((tmp_path / "imgs").glob("*.png"))
    assert len(files) == 5
    with Image.open(files[0]) as img:
        assert img.size == (28, 28) and img.mode == "L"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["ckpt_path=/nonexistent/last.ckpt"], "no such file"),
        (["n=0"], "n=0 must be a positive integer"),
        (["labels=[1,2]"], "not class-conditional"),
    ],
)
def test_bad_input(vae_checkpoint, args, expected):
    ckpt = [] if any(a.startswith("ckpt_path") for a in args) else [f"ckpt_path={vae_checkpoint}"]
    result = run_cli("generate.py", *ckpt, *args)
    assert result.returncode == 2
    assert expected in result.stderr and "Traceback" not in result.stderr


def test_existing_output_is_kept_unless_overwrite(vae_checkpoint, tmp_path):
    out = tmp_path / "grid.png"
    first = run_cli("generate.py", f"ckpt_path={vae_checkpoint}", "n=1", f"out={out}")
    assert first.returncode == 0, first.stderr
    assert f"Wrote a grid of 1 sample to {out}" in first.stdout
    before = out.read_bytes()
    again = run_cli("generate.py", f"ckpt_path={vae_checkpoint}", "n=4", f"out={out}")
    assert again.returncode == 2 and "1 output file already exists" in again.stderr and "overwrite=true" in again.stderr
    assert out.read_bytes() == before
    replaced = run_cli("generate.py", f"ckpt_path={vae_checkpoint}", "n=4", f"out={out}", "overwrite=true")
    assert replaced.returncode == 0, replaced.stderr
    assert out.read_bytes() != before
