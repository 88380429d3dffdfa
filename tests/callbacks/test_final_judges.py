"""The end-of-training judges' wiring (callbacks/final_judges.py): which images each judge is
trained and scored on. Stand-in models whose samples are real images make the right answer known:
real against real is 0.5 for the two-sample test, real images of the asked class score the real
CAS, a model that ignores its label scores chance."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from genstyle.callbacks.final_judges import (
    conditional_cas,
    sample_two_sample,
    translation_two_sample,
)
from genstyle.data.sources import load_fashion_mnist
from tests.helpers.fake_models import RealImagesOfTheClass


@pytest.fixture(scope="module")
def fmnist(fmnist_root):
    return load_fashion_mnist("train", str(fmnist_root), None, False), load_fashion_mnist("test", str(fmnist_root), None, False)


class FakeData:
    """The two things the judges read from a DataModule: the training set and a labelled split."""

    def __init__(self, train_set, reference) -> None:
        self.train_set, self.reference = train_set, reference

    def load_split(self, split: str):
        assert split == "test", split  # the judges score on the run's reference split
        return self.reference


def test_sample_two_sample_trains_on_the_training_set_and_scores_on_the_reference_split(fmnist, one_thread) -> None:
    train, test = fmnist
    data = FakeData(SimpleNamespace(images=train.images[600:1200]), SimpleNamespace(images=test.images[:200]))
    logged, section = sample_two_sample(data, train.images[:600], "cnn", 0, "test")
    # 300 held-out samples against the 200 reference images: 200 of each; 300 of each to train on.
    assert (section["protocol"]["train_real"], section["protocol"]["test_real"], section["total"]) == (300, 200, 400)
    assert abs(section["accuracy"] - 0.5) < 0.07 and section["ci95"][0] <= 0.5 <= section["ci95"][1], section
    assert logged == {"val/c2st_acc": section["accuracy"], "val/c2st_acc_low": section["ci95"][0],
                      "val/c2st_acc_high": section["ci95"][1], "val/c2st_p": section["p_value"]}
    noise = torch.rand(600, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
    _, separable = sample_two_sample(data, noise, "cnn", 0, "test")
    assert separable["accuracy"] > 0.95, separable  # the samples given are the ones judged


def test_translation_two_sample_judges_each_direction_against_its_target_domain(fmnist, one_thread) -> None:
    """Domain a = T-shirts, b = sneakers; a perfect translator's output is a real image of the
    target domain, so each direction's judge is at chance, and at certainty against the source."""
    train, test = fmnist
    of = lambda s, c: s.images[s.labels == c]  # noqa: E731
    tees, sneakers = of(train, 0), of(train, 7)
    data = FakeData(SimpleNamespace(a=SimpleNamespace(images=tees[:400]), b=SimpleNamespace(images=sneakers[:400])),
                    SimpleNamespace(a=SimpleNamespace(images=of(test, 0)[:200]), b=SimpleNamespace(images=of(test, 7)[:200])))
    logged, section = translation_two_sample(data, {"a2b": sneakers[400:800], "b2a": tees[400:800]}, "cnn", 0, "test")
    for direction in ("a2b", "b2a"):
        result = section[direction]
        assert result["ci95"][0] <= 0.5 <= result["ci95"][1] and result["total"] == 400, (direction, result)
        assert logged[f"val/c2st_acc_{direction}"] == result["accuracy"] and logged[f"val/c2st_p_{direction}"] == result["p_value"]
    _, wrong = translation_two_sample(data, {"a2b": tees[400:800]}, "cnn", 0, "test")  # a2b that copies its input
    assert wrong["a2b"]["accuracy"] > 0.95, wrong


def test_conditional_cas_uses_the_label_each_sample_was_drawn_for(fmnist, one_thread) -> None:
    train, test = fmnist
    data = FakeData(None, SimpleNamespace(images=test.images[:500], labels=test.labels[:500]))
    pool, pool_labels = train.images[:3000], train.labels[:3000]
    logged, honest = conditional_cas(RealImagesOfTheClass(pool, pool_labels), data, 600, 0, 200, "test")
    _, ignores = conditional_cas(RealImagesOfTheClass(pool, pool_labels, honest=False), data, 600, 0, 200, "test")
    assert (honest["protocol"]["train_generated"], honest["total"]) == (600, 500)
    assert honest["accuracy"] > 0.6 and ignores["accuracy"] < 0.2, (honest["accuracy"], ignores["accuracy"])
    assert logged == {"val/cas": honest["accuracy"], "val/cas_low": honest["ci95"][0], "val/cas_high": honest["ci95"][1]}
