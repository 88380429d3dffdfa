"""The style benchmark's numbers: trivial references give their defining values, pairs are fixed
and cross classes, and the optimisation reference moves the style distance down."""

from __future__ import annotations

import pytest
import torch

from genstyle.classifier.fashion_classifier import load_classifier
from genstyle.data.sources import load_fashion_mnist
from genstyle.metrics import style_benchmark as sb
from genstyle.stylization.optimise import optimise_style


@pytest.fixture(scope="module")
def test_split(fmnist_root):
    return load_fashion_mnist("test", root=str(fmnist_root), download=False)


@pytest.fixture(scope="module")
def classifier(classifier_weights):
    return load_classifier(classifier_weights)


@pytest.fixture(scope="module")
def pairs(test_split, classifier):
    torch.set_num_threads(1)
    subset = slice(0, 1000)  # 1000 test images: a cheap FID reference, every class present
    return sb.prepare_pairs(test_split.images[subset], test_split.labels[subset], classifier, num_pairs=60, seed=3)


def test_pairs_are_seeded_and_cross_classes(test_split):
    labels = test_split.labels
    a = sb.make_pairs(labels, 500, seed=1)
    b = sb.make_pairs(labels, 500, seed=1)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], sb.make_pairs(labels, 500, seed=2)[0])
    assert bool((labels[a[0]] != labels[a[1]]).all())
    content, style = sb.make_pairs(labels, 11, seed=0, classes=(7, 9))
    assert set(labels[content].tolist()) == {7, 9} and bool((labels[content] != labels[style]).all())


def test_copy_content_and_copy_style_give_their_defining_numbers(pairs, classifier):
    content_row, _ = sb.benchmark(sb.copy_content, pairs, classifier)
    style_row, _ = sb.benchmark(sb.copy_style, pairs, classifier)
    for key in ("style_dist", "pixel_dist", "gram_dist"):
        assert content_row[key] == pytest.approx(1.0)
        assert style_row[key] == pytest.approx(0.0, abs=1e-9)
    assert content_row["fid_ratio"] == pytest.approx(1.0)
    # The class shares are the classifier's accuracy on the contents / the styles: exact counts.
    logits_c = classifier(pairs.content).argmax(1)
    logits_s = classifier(pairs.style).argmax(1)
    assert content_row["content_class"] == pytest.approx(float((logits_c == pairs.content_labels).float().mean()))
    assert style_row["style_class"] == pytest.approx(float((logits_s == pairs.style_labels).float().mean()))
    assert content_row["style_class"] == pytest.approx(float((logits_c == pairs.style_labels).float().mean()))
    assert content_row["sec_per_image"] >= 0


def test_a_halfway_blend_sits_between_the_references(pairs, classifier):
    blend = lambda c, s, cl, sl: (c + s) / 2  # noqa: E731
    row, _ = sb.benchmark(blend, pairs, classifier)
    assert 0.05 < row["pixel_dist"] < 0.95


def test_optimisation_moves_the_style_distance_down(pairs, classifier):
    content, style = pairs.content[:4], pairs.style[:4]
    before = sb.style_distances(sb.style_descriptors(content, classifier), sb.style_descriptors(style, classifier), sb.style_descriptors(content, classifier))
    result = optimise_style(content, style, classifier, steps=10, style_weight=100.0)
    after = sb.style_distances(sb.style_descriptors(result, classifier), sb.style_descriptors(style, classifier), sb.style_descriptors(content, classifier))
    assert before["gram_dist"] == pytest.approx(1.0)
    assert after["gram_dist"] < 0.9 and after["style_dist"] < before["style_dist"]
    assert result.min() >= -1 and result.max() <= 1
    # Each image is optimised on its own: the batch does not change a result.
    alone = optimise_style(content[:1], style[:1], classifier, steps=10, style_weight=100.0)
    assert torch.allclose(alone, result[:1], atol=1e-4)


def test_refinement_starts_from_the_given_result_and_keeps_the_content_term(pairs, classifier):
    from genstyle.stylization.optimise import refining_stylizer

    content, style = pairs.content[:4], pairs.style[:4]
    start = (content + style) / 2
    assert torch.equal(optimise_style(content, style, classifier, steps=0, init=start), start)
    assert torch.equal(optimise_style(content, style, classifier, steps=0), content)
    # From the blend, a content-only objective pulls back towards the content (its term compares with content).
    pulled = optimise_style(content, style, classifier, steps=20, style_weight=0.0, init=start)
    assert (pulled - content).abs().mean() < (start - content).abs().mean()
    blend = lambda c, s, cl, sl: (c + s) / 2  # noqa: E731
    blend.loss_feature_networks = ("decoder-net",)
    refine = refining_stylizer(blend, classifier, steps=0, style_weight=10.0)
    assert torch.equal(refine(content, style, None, None), start)
    assert refine.loss_feature_networks[0] == "decoder-net" and len(refine.loss_feature_networks) == 1 + bool(
        getattr(classifier, "weights_sha256", None))


def test_refine_entries_refine_each_curve_at_its_strongest_point(classifier):
    from genstyle.cli.style_benchmark import Entry, refine_entries

    def constant(value):
        return lambda c, s, cl, sl: torch.full_like(c, value)

    entries = [Entry("adain, alpha 0.5", constant(0.5), curve="adain", strength=0.5),
               Entry("adain, alpha 1", constant(1.0), curve="adain", strength=1.0),
               Entry("cvae", constant(0.0))]
    rows = refine_entries(entries, classifier, steps=0, weights=[3.0, 10.0], max_pairs=50)
    assert [r.name for r in rows] == ["adain, alpha 1 + refine (0 steps, style weight 3)", "adain, alpha 1 + refine (0 steps, style weight 10)"]
    assert [r.strength for r in rows] == [3.0, 10.0] and {r.max_pairs for r in rows} == {50}
    x = torch.zeros(2, 1, 28, 28)
    assert torch.equal(rows[0].stylizer(x, x, None, None), torch.ones_like(x))
