"""generate.py end to end on a checkpoint a test trains."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from genstyle.checkpoints import load_model
from genstyle.cli.train import train
from genstyle.images import grid_image
from genstyle.pixels import to_uint8
from tests.helpers.forked_cli import run_cli_forked as run_cli


@pytest.fixture(scope="module")
def vae_checkpoint(tmp_path_factory, fmnist_root) -> Path:
    from tests.conftest import compose_train

    run = tmp_path_factory.mktemp("vae_run")
    cfg = compose_train([f"data.root={fmnist_root}", "model=vae", "callbacks.evaluation=null"], run / "run")
    train(cfg)
    return run / "run" / "checkpoints" / "last.ckpt"


def expected_samples(ckpt: Path, n: int, seed: int) -> torch.Tensor:
    """What generate.py must write: the checkpoint's model sampled with a generator seeded `seed`."""
    model, _ = load_model(ckpt)
    return model.sample(n, generator=torch.Generator().manual_seed(seed))


def pixels(path: Path) -> torch.Tensor:
    with Image.open(path) as img:
        return torch.from_numpy(np.array(img))


def test_grid_beside_the_run(vae_checkpoint):
    result = run_cli("generate.py", f"ckpt_path={vae_checkpoint}", "n=16", "seed=3")
    assert result.returncode == 0, result.stderr
    out = vae_checkpoint.parent.parent / "generated" / "samples_seed3.png"
    written = pixels(out)
    assert tuple(written.shape[:2]) == (4 * 30 + 2, 4 * 30 + 2)  # 4x4 grid of 28px images, 2px padding
    expected = grid_image(expected_samples(vae_checkpoint, 16, 3), nrow=4).permute(1, 2, 0)  # (H, W, 3)
    assert torch.equal(written, expected)
    assert not torch.equal(expected, grid_image(expected_samples(vae_checkpoint, 16, 4), nrow=4).permute(1, 2, 0))  # the seed matters


def test_individual_pngs(vae_checkpoint, tmp_path):
    result = run_cli("generate.py", f"ckpt_path={vae_checkpoint}", "n=5", "grid=false", f"out={tmp_path / 'imgs'}", "seed=2")
    assert result.returncode == 0, result.stderr
    assert f"Wrote 5 samples to {tmp_path / 'imgs'}" in result.stdout
    files = sorted((tmp_path / "imgs").glob("*.png"))
    assert len(files) == 5
    with Image.open(files[0]) as img:
        assert img.size == (28, 28) and img.mode == "L"
    expected = to_uint8(expected_samples(vae_checkpoint, 5, 2))  # (5, 1, 28, 28)
    for image, file in zip(expected, files, strict=True):
        assert torch.equal(pixels(file), image[0])
    assert len({tuple(pixels(f).flatten().tolist()) for f in files}) == 5  # five different images


@pytest.mark.slow  # the same errors are checked through the CLIs in tests/test_bad_inputs.py
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
    out.write_bytes(before := b"the user's own picture")
    again = run_cli("generate.py", f"ckpt_path={vae_checkpoint}", "n=4", f"out={out}")
    assert again.returncode == 2 and "1 output file already exists" in again.stderr and "overwrite=true" in again.stderr
    assert out.read_bytes() == before
    replaced = run_cli("generate.py", f"ckpt_path={vae_checkpoint}", "n=4", f"out={out}", "overwrite=true")
    assert replaced.returncode == 0, replaced.stderr
    assert out.read_bytes() != before
