"""The independent evaluation network: shipped weights checked by hash, accuracy, and features
that differ from the shipped classifier's (the network some models train against)."""

from __future__ import annotations

import shutil

import pytest
import torch

import genstyle.classifier.independent as independent
from genstyle.classifier.fashion_classifier import load_classifier
from genstyle.classifier.independent import (
    WEIGHTS_PATH,
    IndependentClassifier,
    load_independent,
    weights_sha256,
)
from genstyle.classifier.train_independent import IndependentConfig, cutout, train
from genstyle.data.sources import load_fashion_mnist
from genstyle.errors import GenstyleError
from genstyle.metrics.features import extract_features
from genstyle.metrics.style_benchmark import gram_matrix
from genstyle.pixels import to_model_range


@pytest.fixture(scope="module")
def test_split():
    return load_fashion_mnist("test")


def linear_cka(x: torch.Tensor, y: torch.Tensor) -> float:
    """Linear centred kernel alignment of two feature matrices of the same images (Kornblith et
    al. 2019): 1 = the same features up to rotation and scale, 0 = unrelated."""
    x, y = x - x.mean(0), y - y.mean(0)
    return float((y.T @ x).norm() ** 2 / ((x.T @ x).norm() * (y.T @ y).norm()))


def test_shipped_weights_load_checked_and_reach_their_accuracy(test_split):
    payload = torch.load(WEIGHTS_PATH, map_location="cpu", weights_only=True)
    assert payload["test_accuracy"] >= 0.91 and payload["seed"] != 0 and payload["epochs"] > 0
    assert WEIGHTS_PATH.stat().st_size < 1.5 * 2**20  # well under the 2 MB a shipped network may take
    assert weights_sha256() == independent.SHIPPED_SHA256

    model = load_independent()
    assert isinstance(model, IndependentClassifier) and model.weights_sha256 == independent.SHIPPED_SHA256
    assert not model.training and not any(p.requires_grad for p in model.parameters())
    images, labels = test_split.images[:2000], test_split.labels[:2000]
    with torch.no_grad():
        predicted = model(to_model_range(images)).argmax(1)
    assert (predicted == labels).float().mean().item() >= 0.90


def test_a_file_with_another_hash_is_refused(tmp_path, monkeypatch):
    copy = tmp_path / "weights.pt"
    shutil.copy(WEIGHTS_PATH, copy)
    load_independent(copy, expected_sha256=weights_sha256(copy))  # the right hash loads
    with pytest.raises(GenstyleError, match="sha256"):
        load_independent(copy, expected_sha256="0" * 64)
    # The shipped file is always checked: a changed file (or a stale constant) is refused.
    monkeypatch.setattr(independent, "SHIPPED_SHA256", "f" * 64)
    with pytest.raises(GenstyleError, match="SHIPPED_SHA256"):
        load_independent()


def test_features_differ_from_the_shipped_classifiers(test_split):
    images = test_split.images[:1000]
    ours = extract_features(images, model=load_independent())
    theirs = extract_features(images, model=load_classifier())
    assert ours["features"].shape == (1000, 128) and theirs["features"].shape == (1000, 256)
    assert ours["logits"].shape == theirs["logits"].shape == (1000, 10)
    # Both networks know the classes (they mostly agree on them) ...
    agree = (ours["logits"].argmax(1) == theirs["logits"].argmax(1)).double().mean()
    assert agree > 0.85
    # ... but their features are far from a rotation of each other (a copy of the network scores 1).
    assert linear_cka(ours["features"], theirs["features"]) < 0.8
    assert linear_cka(ours["features"], ours["features"]) == pytest.approx(1.0)
    # And so are the Gram matrices of the stage maps the style benchmark's distances compare.
    x = to_model_range(images[:500])
    with torch.no_grad():
        pairs = zip(load_independent().stage_outputs(x, 2), load_classifier().stage_outputs(x, 2), strict=True)
        for ours_maps, theirs_maps in pairs:
            assert linear_cka(gram_matrix(ours_maps).flatten(1).double(), gram_matrix(theirs_maps).flatten(1).double()) < 0.75


def test_wrong_input_shape_is_a_user_error():
    with pytest.raises(GenstyleError, match="28"):
        IndependentClassifier().eval()(torch.zeros(2, 1, 32, 32))
    with pytest.raises(GenstyleError, match="n_stages"):
        IndependentClassifier().stage_outputs(torch.zeros(1, 1, 28, 28), 4)


def test_cutout_blanks_one_square_in_about_half_the_images():
    x = torch.ones(200, 1, 28, 28)
    out = cutout(x, 8, torch.Generator().manual_seed(0))
    blanked = (out == -1).flatten(1).sum(1)
    assert 60 < int((blanked > 0).sum()) < 140
    assert int(blanked.max()) <= 9 * 9 and bool((out[blanked == 0] == 1).all())


def test_training_runs_and_is_deterministic_in_its_seed(test_split):
    images, labels = test_split.images[:256], test_split.labels[:256]
    cfg = IndependentConfig(epochs=1, batch_size=64)
    first, second = (train(images, labels, cfg, log=lambda s: None) for _ in range(2))
    for a, b in zip(first.state_dict().values(), second.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b)


def test_backend_and_torch_fidelity_extractor_give_its_features(test_split):
    import torch_fidelity

    import genstyle.metrics  # noqa: F401  (registers the extractors)
    from genstyle.metrics.backends import INDEPENDENT, build_backend, choose_backend
    from genstyle.metrics.extractor import ImageTensorDataset
    from genstyle.metrics.fidelity import fid

    backend = build_backend(INDEPENDENT)
    a, b = test_split.images[:300], test_split.images[300:600]
    fa, fb = backend(a), backend(b)
    assert backend.name == INDEPENDENT and backend.weights_sha256 == independent.SHIPPED_SHA256
    assert fa["features"].shape == (300, 128) and fa["logits"].shape == (300, 10)
    with pytest.raises(GenstyleError, match="28x28 grayscale"):
        choose_backend(INDEPENDENT, 3, 32, None)
    scores = torch_fidelity.calculate_metrics(
        input1=ImageTensorDataset(a), input2=ImageTensorDataset(b), feature_extractor=INDEPENDENT,
        fid=True, isc=True, isc_splits=2, cuda=False, verbose=False, cache=False, batch_size=200,
    )  # fmt: skip
    assert scores["frechet_inception_distance"] == pytest.approx(fid(fa["features"], fb["features"]), rel=1e-3, abs=1e-3)
    assert 1.0 < scores["inception_score_mean"] <= 10.0  # from its 10 class logits
