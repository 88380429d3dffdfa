"""The adversarial judges on real Fashion-MNIST: the classifier two-sample test and CAS."""

from __future__ import annotations

import math

import pytest
import torch

from genstyle.data.sources import load_fashion_mnist
from genstyle.errors import GenstyleError
from genstyle.metrics.binomial import p_at_least, p_two_sided, wilson_interval
from genstyle.metrics.cas import classification_accuracy_score
from genstyle.metrics.judge_net import JudgeRecipe
from genstyle.metrics.two_sample import two_sample_test


@pytest.fixture(scope="module")
def fmnist(fmnist_root):
    return load_fashion_mnist("train", str(fmnist_root), None, False), load_fashion_mnist("test", str(fmnist_root), None, False)


def test_binomial_helpers_match_hand_computed_values() -> None:
    low, high = wilson_interval(71, 100)
    assert (low, high) == pytest.approx((0.61462, 0.78986), abs=1e-5)  # Wilson 1927, z = 1.96, by hand
    assert wilson_interval(0, 0) == (0.0, 1.0)
    assert p_at_least(10, 10) == pytest.approx(0.5**10)
    assert p_at_least(6, 10) == pytest.approx(386 / 1024)  # sum of C(10, k) for k >= 6, over 2^10
    assert p_two_sided(5, 10) == 1.0 and p_two_sided(0, 10) == pytest.approx(2 * 0.5**10)


def test_two_halves_of_real_data_are_indistinguishable(fmnist, one_thread) -> None:
    train, test = fmnist
    result = two_sample_test(train.images[:1000], train.images[1000:2000], test.images[:1000], judge="cnn", seed=0)
    low, high = result.ci95
    assert low <= 0.5 <= high, result
    assert abs(result.accuracy - 0.5) < 0.06 and result.p_value > 0.05
    assert (result.total, result.protocol["train_generated"], result.protocol["test_real"]) == (1000, 500, 500)


def test_real_against_noise_is_trivially_separable(fmnist, one_thread) -> None:
    train, test = fmnist
    noise = torch.rand(1000, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
    for judge in ("cnn", "linear"):
        result = two_sample_test(noise, train.images[:1000], test.images[:1000], judge=judge, seed=0)
        assert result.accuracy > 0.97 and result.ci95[0] > 0.95 and result.p_value < 1e-100, (judge, result)
        assert result.metrics()["c2st_acc"] == result.accuracy


def test_two_sample_test_is_deterministic_and_leaves_the_global_rng(fmnist, one_thread) -> None:
    train, test = fmnist
    generated = (train.images[:400].float() / 127.5 - 1).flip(-1)  # mirrored clothes: a subtle difference
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    recipe = JudgeRecipe(epochs=2)
    first = two_sample_test(generated, train.images[400:800], test.images[:400], seed=3, recipe=recipe)
    after = torch.rand(1)
    second = two_sample_test(generated, train.images[400:800], test.images[:400], seed=3, recipe=recipe)
    assert torch.equal(before, after)
    assert first.correct == second.correct and first.protocol == second.protocol


def test_bad_input_is_a_user_error(fmnist) -> None:
    train, test = fmnist
    with pytest.raises(GenstyleError, match="judge='svm'"):
        two_sample_test(train.images[:10], train.images[10:20], test.images[:10], judge="svm")
    with pytest.raises(GenstyleError, match=r"\[-1, 1\]"):
        two_sample_test(train.images[:10].float(), train.images[10:20], test.images[:10])
    with pytest.raises(GenstyleError, match="at least 2 images"):
        two_sample_test(train.images[:2], train.images[10:20], test.images[:10])


def test_cas_of_real_training_data_equals_a_real_classifiers_accuracy(fmnist, one_thread) -> None:
    """CAS with real training images as the "samples" is the accuracy of a classifier trained on
    real data: an independent one (other images, other seed) lands inside its interval. With
    labels shuffled (a model that ignores its class), CAS falls to chance."""
    train, test = fmnist
    real_test, real_labels = test.images[:1000], test.labels[:1000]
    recipe = JudgeRecipe(epochs=5)
    cas = classification_accuracy_score(train.images[:1500], train.labels[:1500], real_test, real_labels, 10, 0, recipe)
    other = classification_accuracy_score(train.images[1500:3000], train.labels[1500:3000], real_test, real_labels, 10, 1, recipe)
    assert cas.ci95[0] <= other.accuracy <= cas.ci95[1], (cas, other)
    assert cas.accuracy > 0.7 and cas.total == 1000 and len(cas.per_class) == 10
    shuffled = train.labels[:1500][torch.randperm(1500, generator=torch.Generator().manual_seed(0))]
    chance = classification_accuracy_score(train.images[:1500], shuffled, real_test, real_labels, 10, 0, recipe)
    assert chance.accuracy < 0.25 and not math.isnan(chance.ci95[1])
