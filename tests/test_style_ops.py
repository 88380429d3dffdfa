"""genstyle.style_ops: the style operations defined once, and used by the models, the style
benchmark and the optimisation instead of their own copies."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
from torch import nn

from genstyle import style_ops
from genstyle.errors import GenstyleError

SRC = Path(__file__).resolve().parents[1] / "src" / "genstyle"


def maps(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def test_adain_gives_the_content_the_style_channel_statistics():
    content, style = maps(2, 3, 8, 8, seed=1) * 3 + 1, maps(2, 3, 5, 5, seed=2) * 0.5 - 2
    out = style_ops.adain(content, style)
    (out_mean, out_std), (s_mean, s_std) = style_ops.channel_stats(out), style_ops.channel_stats(style)
    assert torch.allclose(out_mean, s_mean, atol=1e-5) and torch.allclose(out_std, s_std, atol=1e-4)
    # the content's pattern stays: out is an affine map of content per channel
    assert torch.allclose(style_ops.adain(out, content), content, atol=1e-3)  # up to the EPS in the std


def test_modulate_is_instance_norm_then_scale_and_shift():
    x, gamma, beta = maps(2, 4, 6, 6, seed=3), maps(2, 4, seed=4), maps(2, 4, seed=5)
    expected = nn.InstanceNorm2d(4, affine=False)(x) * (1 + gamma[:, :, None, None]) + beta[:, :, None, None]
    assert torch.equal(style_ops.modulate(x, gamma, beta), expected)
    assert torch.equal(style_ops.modulate(x, gamma[:, :, None, None], beta[:, :, None, None]), expected)


def test_gram_pixel_statistics_and_relative_distance():
    f = maps(2, 3, 4, 5, seed=6)
    gram = style_ops.gram_matrix(f)
    assert gram.shape == (2, 3, 3) and torch.allclose(gram[0, 1, 2], (f[0, 1] * f[0, 2]).mean())
    x = torch.rand(3, 1, 6, 6) * 2 - 1
    stats = style_ops.pixel_statistics(x)
    assert stats.shape == (3, 4) and torch.allclose(stats[:, 0], x.mean(dim=(1, 2, 3)))
    assert torch.allclose(stats[:, 2], (x[..., 1:] - x[..., :-1]).abs().mean(dim=(1, 2, 3)))
    style, content = maps(5, 4, seed=7), maps(5, 4, seed=8)
    assert float(style_ops.relative_distance(style, style, content)) == 0.0
    assert float(style_ops.relative_distance(content, style, content)) == pytest.approx(1.0)


def test_style_count_check():
    style_ops.check_style_count(4, 1)
    style_ops.check_style_count(4, 4)
    with pytest.raises(GenstyleError, match="style has 2 images for 4 content images; give 1 or 4"):
        style_ops.check_style_count(4, 2)


def test_each_style_operation_is_defined_once():
    names = ("adain", "channel_stats", "gram", "gram_matrix", "relative_distance", "pixel_statistics", "style_statistics", "modulate")
    found: dict[str, list[str]] = {}
    for path in sorted(SRC.rglob("*.py")):
        for name in re.findall(r"^\s*def (\w+)\(", path.read_text(), re.M):
            if name in names:
                found.setdefault(name, []).append(str(path.relative_to(SRC)))
    assert all(places == ["style_ops.py"] for places in found.values()), found
    copies = [str(p.relative_to(SRC)) for p in SRC.rglob("*.py") if "images for {len(content)} content images" in p.read_text()]
    assert copies == [], copies  # the style count message lives in check_style_count only
