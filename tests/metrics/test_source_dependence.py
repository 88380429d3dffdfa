"""Source dependence: copying the source scores exactly 1, copying the reference exactly 0, a
stylizer that ignores its source about 0, and the grid pairs each reference with distinct
sources of other classes."""

from __future__ import annotations

import pytest
import torch

from genstyle.data.sources import load_fashion_mnist
from genstyle.metrics import source_dependence as sd


@pytest.fixture(scope="module")
def test_split(fmnist_root):
    data = load_fashion_mnist("test", root=str(fmnist_root), download=False)
    return data.images[:600], data.labels[:600]


@pytest.fixture(scope="module")
def features():
    """A fixed random convolution and projection: any (N, C, H, W) -> (N, D) map will do here."""
    gen = torch.Generator().manual_seed(0)
    conv, proj = torch.randn(8, 1, 5, 5, generator=gen), torch.randn(8 * 12 * 12, 32, generator=gen)
    return lambda x: torch.relu(torch.nn.functional.conv2d(x, conv, stride=2)).flatten(1) @ proj


def copy_source(content, style, content_labels, style_labels):
    return content.clone()


def copy_reference(content, style, content_labels, style_labels):
    return style.clone()


def grid_scores(stylizer, test_split, features, **kwargs):
    images, labels = test_split
    refs, sources = sd.make_grid(labels, num_references=6, num_sources=8, seed=1, **kwargs)
    results, source_images = sd.stylize_grid(stylizer, images, labels, refs, sources, batch_size=20)
    return sd.grid_dependence(results, source_images, features)


def test_copying_the_source_scores_one_and_copying_the_reference_zero(test_split, features):
    source = grid_scores(copy_source, test_split, features)
    reference = grid_scores(copy_reference, test_split, features)
    assert source == {"source_dependence": pytest.approx(1.0, abs=1e-12), "source_dependence_pixel": pytest.approx(1.0, abs=1e-12)}
    assert reference == {"source_dependence": 0.0, "source_dependence_pixel": 0.0}


def test_a_stylizer_that_ignores_its_source_scores_about_zero(test_split, features):
    # The reference, brightened, plus a trace of the source: the result is the reference's.
    ignores = lambda c, s, cl, sl: (0.8 * s + 0.2 + 1e-3 * c).clamp(-1, 1)  # noqa: E731
    scores = grid_scores(ignores, test_split, features)
    assert scores["source_dependence"] < 0.02 and scores["source_dependence_pixel"] < 0.02
    # A stylizer that keeps its source and only shifts its shade is near 1.
    keeps = lambda c, s, cl, sl: (c + 0.1 * s.mean()).clamp(-1, 1)  # noqa: E731
    assert grid_scores(keeps, test_split, features)["source_dependence_pixel"] > 0.9


def test_the_halfway_blend_scores_one_half_in_pixels(test_split, features):
    blend = lambda c, s, cl, sl: (c + s) / 2  # noqa: E731
    assert grid_scores(blend, test_split, features)["source_dependence_pixel"] == pytest.approx(0.5, abs=1e-6)  # float32 results


def test_spread_is_in_distance_units_and_convention_free():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(3, 7, 5, generator=gen, dtype=torch.float64)
    assert torch.allclose(sd.spread(2 * x), 2 * sd.spread(x))
    assert torch.allclose(sd.spread(x + 5), sd.spread(x))
    # The ratio equals the ratio of root mean squared pairwise distances.
    y = torch.randn(3, 7, 5, generator=gen, dtype=torch.float64)
    pairwise = lambda v: torch.cdist(v, v).pow(2).mean(dim=(1, 2)).sqrt()  # noqa: E731
    assert torch.allclose(sd.dependence_ratio(y, x), pairwise(y) / pairwise(x))
    with pytest.raises(Exception, match="differ"):
        sd.source_dependence(y, torch.zeros_like(x))


def test_the_grid_is_seeded_and_its_sources_are_distinct_and_of_other_classes(test_split):
    _, labels = test_split
    refs, sources = sd.make_grid(labels, 10, 12, seed=4)
    again = sd.make_grid(labels, 10, 12, seed=4)
    assert torch.equal(refs, again[0]) and torch.equal(sources, again[1])
    assert not torch.equal(sources, sd.make_grid(labels, 10, 12, seed=5)[1])
    assert sources.shape == (10, 12)
    assert bool((labels[sources] != labels[refs][:, None]).all())
    assert all(len(set(row.tolist())) == 12 for row in sources)
    refs, sources = sd.make_grid(labels, 4, 5, seed=0, classes=(7, 9))
    assert labels[refs].tolist() == [9, 7, 9, 7]
    assert bool((labels[sources] == torch.tensor([7, 9, 7, 9])[:, None]).all())
