"""The adversarial judges on real Fashion-MNIST: the classifier two-sample test and CAS."""

from __future__ import annotations

import math

import pytest
import torch

from genstyle.data.sources import load_fashion_mnist
from genstyle.errors import GenstyleError
from genstyle.metrics.binomial import p_at_least, p_two_sided, wilson_interval
from genstyle.metrics.cas import classification_accuracy_score, labelled_samples
from genstyle.metrics.judge_net import JudgeRecipe
from genstyle.metrics.two_sample import two_sample_test
from tests.helpers.fake_models import RealImagesOfTheClass


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


def test_labelled_samples_carry_the_label_they_were_drawn_for(fmnist) -> None:
    train, _ = fmnist
    model = RealImagesOfTheClass(train.images[:600], train.labels[:600])
    images, labels = labelled_samples(model, 95, seed=3, batch_size=20)
    assert labels.tolist() == [i % 10 for i in range(95)]  # balanced, in order
    assert model.batches == [20, 20, 20, 20, 15] and images.shape == (95, 1, 28, 28) and images.dtype == torch.float32
    drawn = torch.tensor(model.drawn)
    assert torch.equal(model.labels[drawn], labels)  # each image is of the class its label names ...
    assert torch.equal(images, model.images[drawn].float() / 127.5 - 1)  # ... and stays beside that label
    again, again_labels = labelled_samples(RealImagesOfTheClass(train.images[:600], train.labels[:600]), 95, 3, 20)
    other, _ = labelled_samples(RealImagesOfTheClass(train.images[:600], train.labels[:600]), 95, 4, 20)
    assert torch.equal(again, images) and torch.equal(again_labels, labels) and not torch.equal(other, images)
    plain = RealImagesOfTheClass(train.images[:10], train.labels[:10])
    plain.is_conditional = False
    with pytest.raises(GenstyleError, match="class-conditional"):
        labelled_samples(plain, 10, 0, 10)


def test_cas_of_a_model_that_draws_real_images_of_the_class_is_the_real_cas(fmnist, one_thread) -> None:
    """Fed through labelled_samples, a model whose samples are real images of the requested class
    scores what real data scores; one that ignores the label scores chance (0.1)."""
    train, test = fmnist
    pool, pool_labels = train.images[:3000], train.labels[:3000]
    real_test, real_labels = test.images[:1000], test.labels[:1000]
    recipe = JudgeRecipe(epochs=5)
    real = classification_accuracy_score(pool[:1500], pool_labels[:1500], real_test, real_labels, 10, 0, recipe)
    scores = {}
    for honest in (True, False):
        images, labels = labelled_samples(RealImagesOfTheClass(pool, pool_labels, honest), 1500, seed=0, batch_size=250)
        scores[honest] = classification_accuracy_score(images, labels, real_test, real_labels, 10, 0, recipe)
    assert real.accuracy > 0.7 and abs(scores[True].accuracy - real.accuracy) < 0.06, (real, scores[True])
    assert scores[False].accuracy < 0.2, scores[False]
    assert scores[True].ci95[0] > scores[False].ci95[1]


def test_the_linear_judge_cannot_tell_real_from_real(fmnist, one_thread) -> None:
    train, test = fmnist
    result = two_sample_test(train.images[2000:3000], train.images[1000:2000], test.images[:1000], judge="linear", seed=0)
    assert result.ci95[0] <= 0.5 <= result.ci95[1] and abs(result.accuracy - 0.5) < 0.06 and result.p_value > 0.05, result
    assert (result.total, result.protocol["train_real"], result.protocol["test_generated"]) == (1000, 500, 500)
    assert result.protocol["judge"] == "linear"


def test_a_model_half_of_whose_samples_are_noise_is_caught_half_the_time(fmnist, one_thread) -> None:
    """The per-class shares: the judge calls the noise generated and the real-looking samples real,
    so about half the samples and nearly all real images are called right."""
    train, test = fmnist
    noise = (torch.rand(300, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 255).to(torch.uint8)
    generated = torch.cat([noise, train.images[2000:2300]])
    result = two_sample_test(generated, train.images[:600], test.images[:600], judge="cnn", seed=0, recipe=JudgeRecipe(epochs=3))
    assert 0.35 < result.generated_accuracy < 0.7 and result.real_accuracy > 0.85, result
    assert result.accuracy == pytest.approx((result.generated_accuracy + result.real_accuracy) / 2)
