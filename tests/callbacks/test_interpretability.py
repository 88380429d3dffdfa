"""Interpretability views: interpolation, traversal and the style x content grid, and which
models the callback draws them for."""

from __future__ import annotations

import json

import pytest
import torch
from PIL import Image

from genstyle.callbacks import latent_views
from genstyle.callbacks.interpretability import InterpretabilityViews, same_class_pairs
from tests.models.helpers import build_model


def images(n: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_interpolation_runs_between_the_two_images(make_cfg):
    model = build_model(make_cfg, "vae")
    a, b = images(2, 0), images(2, 1)
    grid = latent_views.interpolation(model, a, b, steps=5).view(2, 7, 1, 28, 28)
    assert torch.equal(grid[:, 0], a) and torch.equal(grid[:, -1], b)  # real images framing each row
    with torch.no_grad():
        za, _ = model.encode(a)
        zb, _ = model.encode(b)
        assert torch.allclose(grid[:, 1], model.decode_mean(za), atol=1e-6)  # t = 0
        assert torch.allclose(grid[:, 5], model.decode_mean(zb), atol=1e-6)  # t = 1


def test_traversal_varies_one_dimension_per_row(make_cfg):
    model = build_model(make_cfg, "vae")
    x = images(1)
    values = torch.tensor([-3.0, 0.0, 3.0])
    grid = latent_views.traversal(model, x, [4, 7], values=values).view(2, 3, 1, 28, 28)
    with torch.no_grad():
        z, _ = model.encode(x)
        z[0, 7] = 3.0
        assert torch.allclose(grid[1, 2], model.decode_mean(z)[0], atol=1e-6)
    assert not torch.allclose(grid[0, 0], grid[0, 2])


def test_top_kl_dims_are_the_most_informative():
    kl = torch.tensor([0.1, 2.0, 0.0, 5.0, 1.0])
    assert latent_views.top_kl_dims(kl, 3) == [3, 1, 4]
    assert latent_views.top_kl_dims(kl, 10) == [3, 1, 4, 0, 2]


@pytest.mark.parametrize("name", ["cgan", "cvae"])
def test_style_content_grid_rows_share_style_columns_share_class(make_cfg, name):
    model = build_model(make_cfg, name)
    styles = torch.randn(3, model.latent_dim, generator=torch.Generator().manual_seed(0))
    grid = latent_views.class_style_grid(model, styles).view(3, 10, 1, 28, 28)
    with torch.no_grad():
        expected = model.decode_latent(styles[2:3].expand(10, -1), torch.arange(10))
    assert torch.allclose(grid[2], expected, atol=1e-5)
    assert not torch.allclose(grid[0, 0], grid[0, 1])  # same style, another class


def test_style_content_grid_needs_a_conditional_model(make_cfg):
    with pytest.raises(Exception, match="class-conditional"):
        latent_views.class_style_grid(build_model(make_cfg, "dcgan"), torch.randn(2, 100))


def test_same_class_pairs():
    labels = torch.tensor([0, 1, 0, 2, 1, 0, 3])
    starts, ends = same_class_pairs(labels, 5)
    assert starts == [0, 1] and ends == [2, 4]
    assert all(labels[a] == labels[b] for a, b in zip(starts, ends, strict=True))


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("vae", {"interpolation", "traversal"}),
        ("cvae", {"interpolation", "traversal", "style_content"}),
        ("cgan", {"style_content"}),
        ("dcgan", set()),
    ],
)
def test_callback_draws_the_views_that_apply(make_cfg, tmp_path, name, expected):
    model = build_model(make_cfg, name)
    batch = {"image": images(16), "label": torch.arange(16) % 5}
    views = InterpretabilityViews(str(tmp_path / "views"), num_pairs=3, steps=4, num_dims=5, num_styles=4).render(model, batch)
    assert set(views) == expected
    for path, _ in views.values():
        assert Image.open(path).size[0] > 28
    if expected:
        facts = json.loads((tmp_path / "views" / "views.json").read_text())
        if "traversal" in expected:
            assert len(facts["traversal"]["dims"]) == 5
            assert facts["traversal"]["kl_nats"] == sorted(facts["traversal"]["kl_nats"], reverse=True)
    else:
        assert not (tmp_path / "views").exists()


def test_style_content_png_names_its_axes_beside_the_cells(make_cfg, tmp_path):
    """"class (content) ->" above the columns, "style ->" down the rows; the cells after the strips,
    the first of each row the real image whose code is the row's style."""
    import numpy as np

    from genstyle.images import LABEL_STRIP
    from genstyle.pixels import to_uint8

    model = build_model(make_cfg, "cvae")
    batch = {"image": images(16), "label": torch.arange(16) % 5}
    views = InterpretabilityViews(str(tmp_path / "views"), num_pairs=3, steps=4, num_dims=5, num_styles=4).render(model, batch)
    with Image.open(views["style_content"][0]) as png:
        picture = torch.from_numpy(np.array(png.convert("L")))
    s = LABEL_STRIP
    assert picture.shape == (s + 4 * 30 + 2, s + (1 + 10) * 30 + 2)  # 4 styles x (their image + 10 classes)
    assert (picture[:s, s:] < 128).sum() > 20 and (picture[s:, :s] < 128).sum() > 20  # the axis names
    for row in range(4):
        y, x = s + 2 + 30 * row, s + 2
        assert torch.equal(picture[y : y + 28, x : x + 28], to_uint8(batch["image"][row])[0])
