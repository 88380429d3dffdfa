"""model=munit (the earlier MUNIT-style exemplar design): a real training step on
Fashion-MNIST and on a generated RGB folder, the stylize/sample contract (shapes, ranges, repeatability) and the style x content grid."""

from __future__ import annotations

import json
import math
from pathlib import Path

import hydra
import pytest
import torch
from PIL import Image

from genstyle.callbacks.translation_views import stylize_grid
from genstyle.cli.train import train
from genstyle.errors import GenstyleError
from genstyle.images import LABEL_STRIP, save_png

OFF = ["model=munit", "callbacks.evaluation=null"]
TRAIN_TERMS = ["train/d_loss", "train/g_loss", "train/recon", "train/adv", "train/content_recon", "train/style_recon"]
VAL_TERMS = ["val/recon_l1", "val/content_ssim", "val/ssim_to_style", "val/style_dist", "val/style_stat_dist"]


def check_run(run: Path, metrics: dict, side: int, grid_cells: int) -> None:
    assert (run / "checkpoints" / "last.ckpt").is_file()
    for key in TRAIN_TERMS + VAL_TERMS:
        assert key in metrics or f"{key}_epoch" in metrics, key
        assert math.isfinite(metrics.get(key, metrics.get(f"{key}_epoch"))), key
    assert -1.0 <= metrics["val/content_ssim"] <= 1.0 and metrics["val/style_dist"] >= 0
    recorded = json.loads((run / "metrics.json").read_text())
    assert recorded["val/content_ssim"] == pytest.approx(metrics["val/content_ssim"])
    with Image.open(run / "samples" / "style_content_epoch_001.png") as grid:
        cell = side + 2  # make_grid pads 2 px
        assert grid.size == (grid_cells * cell + 2 + LABEL_STRIP, grid_cells * cell + 2 + LABEL_STRIP)  # axes named


def test_training_step_on_fashion_mnist(make_cfg):
    cfg = make_cfg(*OFF)
    metrics = train(cfg)
    run = Path(cfg.paths.output_dir)
    check_run(run, metrics, side=28, grid_cells=cfg.model.grid_size + 1)
    assert (run / "samples" / "epoch_001.png").is_file()  # SampleGrid through sample()


def write_two_domain_folder(root: Path, n: int = 24, size: int = 32) -> Path:
    """Stripes and checkerboards in random colours: structure and colour vary independently."""
    g = torch.Generator().manual_seed(0)
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    for i in range(n):
        period = int(torch.randint(3, 9, (1,), generator=g))
        mask = ((xx // period) % 2 == 0) if i % 2 == 0 else (((xx // period) + (yy // period)) % 2 == 0)
        colour = torch.randint(0, 256, (3, 1, 1), generator=g)
        image = torch.where(mask, colour, 255 - colour).to(torch.uint8)
        save_png(image, root / ("stripes" if i % 2 == 0 else "checks") / f"{i:03d}.png")
    return root


def test_training_step_on_generated_rgb_folder(make_cfg, tmp_path):
    root = write_two_domain_folder(tmp_path / "images")
    cfg = make_cfg(
        *OFF, "data=image_folder", f"data.root={root}", "data.image_size=32", "data.channels=3",
        "data.val_size=8", "data.batch_size=8", "model.grid_size=4",
    )
    metrics = train(cfg)
    check_run(Path(cfg.paths.output_dir), metrics, side=32, grid_cells=5)


@pytest.fixture
def model(make_cfg):
    torch.manual_seed(0)
    return hydra.utils.instantiate(make_cfg(*OFF).model)


def test_stylize_shapes_ranges_and_style_broadcast(model):
    content, style = torch.rand(5, 1, 28, 28) * 2 - 1, torch.rand(5, 1, 28, 28) * 2 - 1
    out = model.stylize(content, style)
    assert out.shape == (5, 1, 28, 28) and out.min() >= -1 and out.max() <= 1
    one = model.stylize(content, style[:1])  # one style image for every content image
    assert torch.allclose(one, model.stylize(content, style[:1].expand(5, -1, -1, -1)), atol=1e-6)
    assert not torch.allclose(one[0], model.stylize(content[:1], style[1:2])[0])  # the style matters
    with pytest.raises(GenstyleError, match=r"content must be a \(B, 1, 28, 28\)"):
        model.stylize(torch.zeros(2, 3, 28, 28), style[:2])
    with pytest.raises(GenstyleError, match="give 1 or 5"):
        model.stylize(content, style[:2])


def test_sample_draws_pairs_from_stored_real_images(model):
    with pytest.raises(GenstyleError, match="has not seen training images"):
        model.sample(4)
    model.remember(torch.rand(40, 1, 28, 28) * 2 - 1)
    assert int(model.reference_count) == len(model.reference) == 32  # keeps only reference_size
    a = model.sample(6, generator=torch.Generator().manual_seed(1))
    b = model.sample(6, generator=torch.Generator().manual_seed(1))
    assert a.shape == (6, 1, 28, 28) and torch.equal(a, b) and a.abs().max() <= 1

    # The reference batch is part of the weights, so a reloaded checkpoint samples the same pairs.
    fresh = type(model)(**{k: getattr(model, k) for k in ("content_encoder", "style_encoder", "decoder", "discriminator")},
                        g_optimizer=model.g_optimizer_factory, d_optimizer=model.d_optimizer_factory, image_shape=model.image_shape)
    assert int(fresh.reference_count) == 0
    fresh.load_state_dict(model.state_dict())
    assert torch.equal(fresh.sample(6, generator=torch.Generator().manual_seed(1)), a)


def test_style_content_grid_rows_share_a_style(model):
    content, style = torch.rand(3, 1, 28, 28) * 2 - 1, torch.rand(2, 1, 28, 28) * 2 - 1
    grid = stylize_grid(model, content, style)
    s = LABEL_STRIP  # the axis names above and left of the cells
    assert grid.shape == (3, s + 3 * 30 + 2, s + 4 * 30 + 2)  # make_grid repeats gray to RGB  # (1 + 2 styles) rows x (1 + 3 contents) columns
    cell = lambda r, c: grid[:, s + 2 + 30 * r : s + 30 * (r + 1), s + 2 + 30 * c : s + 30 * (c + 1)]  # noqa: E731
    expected = model.stylize(content[1:2], style[1:2])
    from genstyle.pixels import to_uint8

    assert torch.equal(cell(2, 2)[0], to_uint8(expected[0])[0])  # row 2 = style 1, column 2 = content 1


def test_mismatched_networks_are_a_config_error(make_cfg):
    cfg = make_cfg(*OFF, "model.decoder.content_channels=32")
    with pytest.raises(Exception) as info:
        hydra.utils.instantiate(cfg.model)
    assert "model.decoder.content_channels=64" in str(info.value) or "content_channels=64" in repr(info.getrepr())
