"""The numbers themselves: FID/KID/IS/PR on real Fashion-MNIST features behave as they must and
equal torch-fidelity's own pipeline on the same images."""

from __future__ import annotations

import pytest
import torch
import torch_fidelity
from torch_fidelity.metric_prc import prc_features_to_metric
from torchvision.transforms.functional import gaussian_blur

import genstyle.metrics  # noqa: F401  registers fmnist-classifier with torch-fidelity
from genstyle.data.sources import load_fashion_mnist
from genstyle.errors import GenstyleError
from genstyle.metrics.backends import ClassifierBackend
from genstyle.metrics.extractor import ImageTensorDataset
from genstyle.metrics.fidelity import (
    FidelitySettings,
    fid,
    kid,
    kid_subset_size,
    knn_radii,
    precision_recall,
)
from genstyle.metrics.reference import compute_reference, reference_protocol
from genstyle.metrics.suite import evaluate_features
from genstyle.pixels import to_model_range, to_uint8

N = 800


@pytest.fixture(scope="module")
def backend(classifier_weights) -> ClassifierBackend:
    return ClassifierBackend(classifier_weights)


@pytest.fixture(scope="module")
def real(fmnist_root) -> dict[str, torch.Tensor]:
    """Seeded subsets of the official splits, uint8 (N, 1, 28, 28)."""
    g = torch.Generator().manual_seed(0)
    train = load_fashion_mnist("train", str(fmnist_root), download=False).images
    test = load_fashion_mnist("test", str(fmnist_root), download=False).images
    return {
        "train": train[torch.randperm(len(train), generator=g)[:N]],
        "test": test[torch.randperm(len(test), generator=g)[:N]],
    }


@pytest.fixture(scope="module")
def test_features(backend, real) -> torch.Tensor:
    return backend(real["test"])["features"]


def test_fid_of_a_set_against_itself_is_zero(test_features):
    assert abs(fid(test_features, test_features)) < 1e-6


def test_train_vs_test_fid_is_small_and_far_below_noise(backend, real, test_features):
    g = torch.Generator().manual_seed(1)
    noise = torch.randint(0, 256, real["test"].shape, generator=g, dtype=torch.uint8)
    test = test_features
    real_vs_real = fid(backend(real["train"])["features"], test)
    noise_vs_real = fid(backend(noise)["features"], test)
    assert 0 < real_vs_real < 0.05 * noise_vs_real, (real_vs_real, noise_vs_real)


def test_fid_rises_monotonically_with_noise_and_blur(backend, real):
    clean = to_model_range(real["test"][:300])
    reference = backend(real["train"][:500])["features"]
    g = torch.Generator().manual_seed(2)
    noise = torch.randn(clean.shape, generator=g)
    noisy = [fid(backend(to_uint8(clean + s * noise))["features"], reference) for s in (0.0, 0.15, 0.4, 0.8)]
    blurred = [fid(backend(to_uint8(gaussian_blur(clean, 7, s)))["features"], reference) for s in (0.5, 1.0, 2.0)]
    assert all(a < b for a, b in zip(noisy, noisy[1:], strict=False)), noisy
    assert all(a < b for a, b in zip(blurred, blurred[1:], strict=False)), blurred


def test_metrics_equal_torch_fidelity_on_the_same_images(backend, real, classifier_weights):
    fake_images = to_uint8(gaussian_blur(to_model_range(real["train"][:400]), 5, 1.0))  # a plausible "model"
    real_images = real["test"][:500]
    settings = FidelitySettings(kid_subsets=10, kid_subset_size=300)
    protocol = reference_protocol(backend, "fashion_mnist", "test", 28, 1, None, 0)
    ours = evaluate_features(backend(fake_images), compute_reference(backend, real_images, protocol), settings).metrics
    theirs = torch_fidelity.calculate_metrics(
        input1=ImageTensorDataset(fake_images), input2=ImageTensorDataset(real_images),
        feature_extractor="fmnist-classifier", feature_extractor_weights_path=classifier_weights,
        fid=True, kid=True, isc=True, prc=True, kid_subsets=10, kid_subset_size=300,
        cuda=False, cache=False, verbose=False, batch_size=200, save_cpu_ram=True,  # no worker processes
    )
    pairs = {
        "fid": "frechet_inception_distance", "kid_mean": "kernel_inception_distance_mean",
        "kid_std": "kernel_inception_distance_std", "is_mean": "inception_score_mean",
        "precision": "precision", "recall": "recall",
    }
    for ours_key, their_key in pairs.items():
        assert ours[ours_key] == pytest.approx(theirs[their_key], rel=1e-6, abs=1e-12), ours_key


def test_precision_recall_with_cached_radii_equals_torch_fidelity():
    g = torch.Generator().manual_seed(5)
    fake, real = torch.rand(700, 16, generator=g), torch.rand(900, 16, generator=g) * 1.2
    settings = FidelitySettings(prc_batch_size=256)
    plain = precision_recall(fake, real, settings)  # torch-fidelity's prc_features_to_metric
    cached = precision_recall(fake, real, settings, real_radii=knn_radii(real, 3, 256))
    full = prc_features_to_metric(fake, real, prc_neighborhood=3, prc_batch_size=10000, save_cpu_ram=False, verbose=False)
    assert cached == plain and cached["precision"] == full["precision"] and cached["recall"] == full["recall"]
    assert 0 < cached["precision"] < 1 and 0 < cached["recall"] < 1


def test_kid_subset_adapts_to_small_samples_and_says_so():
    settings = FidelitySettings(kid_subsets=5, kid_subset_size=1000)
    size, note = kid_subset_size(300, 5000, settings)
    assert size == 300 and "lowered from 1000 to 300" in note
    out = kid(torch.rand(300, 8), torch.rand(400, 8), settings)
    assert out["kid_subset_size"] == 300 and any("300" in n for n in settings.notes)
    with pytest.raises(GenstyleError, match="at least 2"):
        kid_subset_size(1, 10, settings)
