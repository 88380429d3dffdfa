"""A model is not scored, unflagged, in the features its losses use: the models declare their
loss networks, and the check refuses (or, when allowed, flags) exactly those."""

from __future__ import annotations

import hydra
import pytest
import torch

from genstyle.classifier import fashion_classifier, independent
from genstyle.errors import GenstyleError
from genstyle.metrics.own_features import check_own_features
from genstyle.stylization.optimise import optimisation_stylizer


def test_the_check_refuses_only_a_declared_network_and_flags_it_when_allowed():
    ours, other = "a" * 64, "b" * 64
    with pytest.raises(GenstyleError, match=r"adain.*own loss.*metrics.allow_own_features=true"):
        check_own_features("adain", "fmnist-classifier", ours, (ours,), allow=False)
    assert check_own_features("adain", "fmnist-classifier", ours, (ours,), allow=True) is True  # computed, flagged
    assert check_own_features("adain", "fmnist-independent", other, (ours,), allow=False) is False
    assert check_own_features("copy content", "fmnist-classifier", ours, (), allow=False) is False
    assert check_own_features("in memory", "fmnist-classifier", None, (), allow=False) is False


def test_the_loaders_attach_their_file_hash():
    assert fashion_classifier.load_classifier().weights_sha256 == fashion_classifier.weights_sha256()
    assert independent.load_independent().weights_sha256 == independent.weights_sha256()


def test_adain_declares_its_encoder_and_other_models_nothing(make_cfg):
    torch.manual_seed(0)
    adain = hydra.utils.instantiate(make_cfg("model=adain", "callbacks.evaluation=null").model)
    assert adain.loss_feature_networks == (fashion_classifier.weights_sha256(),)
    vae = hydra.utils.instantiate(make_cfg("model=vae", "callbacks.evaluation=null").model)
    assert vae.loss_feature_networks == ()
    # Scoring adain in the shipped classifier is refused, in the independent network it is not.
    shipped = fashion_classifier.weights_sha256()
    with pytest.raises(GenstyleError, match="own loss"):
        check_own_features("adain", "fmnist-classifier", shipped, adain.loss_feature_networks, allow=False)
    assert not check_own_features("adain", "fmnist-independent", independent.weights_sha256(), adain.loss_feature_networks, allow=False)


def test_the_optimisation_declares_the_network_it_optimises_in():
    classifier = fashion_classifier.load_classifier()
    assert optimisation_stylizer(classifier).loss_feature_networks == (fashion_classifier.weights_sha256(),)
    assert optimisation_stylizer(independent.load_independent()).loss_feature_networks == (independent.weights_sha256(),)
    assert optimisation_stylizer(fashion_classifier.FashionClassifier()).loss_feature_networks == ()
