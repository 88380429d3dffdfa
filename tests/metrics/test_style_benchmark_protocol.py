"""The style benchmark's protocol: the FID reference holds none of the contents or styles, the
copies are the floors beside every FID, and source dependence / background change give the
copies their defining values; a stylizer that ignores its source or its style is caught."""

from __future__ import annotations

import pytest
import torch

from genstyle.classifier.fashion_classifier import load_classifier
from genstyle.data.sources import load_fashion_mnist
from genstyle.metrics import style_benchmark as sb


@pytest.fixture(scope="module")
def split(fmnist_root):
    data = load_fashion_mnist("test", root=str(fmnist_root), download=False)
    return data.images[:1200], data.labels[:1200]


@pytest.fixture(scope="module")
def classifier(classifier_weights):
    return load_classifier(classifier_weights)


@pytest.fixture(scope="module")
def pairs(split, classifier):
    torch.set_num_threads(1)
    return sb.prepare_pairs(*split, classifier, num_pairs=80, seed=3, grid=(6, 8))


def test_the_fid_reference_is_disjoint_from_the_contents_and_styles(split, pairs, classifier):
    images, labels = split
    used = set(pairs.content_idx.tolist()) | set(pairs.style_idx.tolist())
    used |= set(pairs.grid_references.tolist()) | set(pairs.grid_sources.flatten().tolist())
    reference = set(pairs.reference_idx.tolist())
    assert reference and not used & reference
    assert torch.equal(pairs.content, images[pairs.content_idx].float() / 127.5 - 1)
    assert set(labels[pairs.reference_idx].tolist()) == set(pairs.content_labels.tolist())
    assert pairs.protocol["num_reference"] == len(reference)
    pool, held_out = sb.split_halves(len(labels))
    assert len(pool) + len(held_out) == len(labels) and not set(pool.tolist()) & set(held_out.tolist())
    # A translator's pairs (one class pair) keep the same halves.
    pair_classes = sb.prepare_pairs(*split, classifier=classifier, num_pairs=10, seed=0, classes=(7, 9), grid=(2, 4))
    assert not set(pair_classes.content_idx.tolist()) & set(pair_classes.reference_idx.tolist())
    assert set(labels[pair_classes.reference_idx].tolist()) == {7, 9}


def test_the_copies_are_the_floors_and_score_their_defining_values(pairs, classifier):
    content_row, _ = sb.benchmark(sb.copy_content, pairs, classifier)
    style_row, _ = sb.benchmark(sb.copy_style, pairs, classifier)
    assert content_row["fid"] == pytest.approx(pairs.content_fid) and style_row["fid"] == pytest.approx(pairs.style_fid)
    for row in (content_row, style_row):
        assert row["content_fid"] == pairs.content_fid and row["style_fid"] == pairs.style_fid
    assert content_row["source_dependence"] == pytest.approx(1.0) and content_row["source_dependence_pixel"] == pytest.approx(1.0)
    assert style_row["source_dependence"] == 0.0 and style_row["source_dependence_pixel"] == 0.0
    assert content_row["background_change"] == 0.0 and style_row["background_change"] > 0.1
    table = sb.markdown_table([{"name": "copy content", **content_row}])
    assert f"{pairs.content_fid:.3f} / {pairs.style_fid:.3f}" in table and "1.000 / 1.000" in table


def test_a_stylizer_that_ignores_its_source_or_its_style_is_caught(pairs, classifier):
    """Ignoring the source: source dependence about 0. Ignoring the style: the style distance
    stays at the content's 1 (nothing moved). A real stylizer must do better on both."""
    ignores_source = lambda c, s, cl, sl: (0.9 * s - 0.05).clamp(-1, 1)  # noqa: E731
    ignores_style = lambda c, s, cl, sl: (0.9 * c - 0.05).clamp(-1, 1)  # noqa: E731
    source_row, _ = sb.benchmark(ignores_source, pairs, classifier)
    style_row, _ = sb.benchmark(ignores_style, pairs, classifier)
    assert source_row["source_dependence"] < 0.05 and source_row["source_dependence_pixel"] < 0.05
    assert style_row["gram_dist"] > 0.8 and style_row["source_dependence_pixel"] > 0.85
