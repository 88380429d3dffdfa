"""The torch KID and precision/recall (used when features are on a GPU) against today's CPU path."""

from __future__ import annotations

import torch

from genstyle.metrics.device_fidelity import (
    kid_on_device,
    knn_radii_on_device,
    precision_recall_on_device,
)
from genstyle.metrics.fidelity import FidelitySettings, kid, knn_radii, precision_recall


def features(seed: int, n: int, shift: float) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 32, generator=g) + shift  # well apart from zero: KID is not tiny


def test_kid_in_torch_equals_the_cpu_path():
    fake, real = features(0, 400, 0.3), features(1, 500, 0.0)
    settings = FidelitySettings(kid_subsets=8, kid_subset_size=100)
    expected = kid(fake, real, settings)
    mean, std = kid_on_device(fake.double(), real.double(), 8, 100, 3, 1.0, settings.rng_seed)
    # torch-fidelity sums float32 kernels in numpy; the torch path sums float64: equal to rounding.
    assert abs(mean - expected["kid_mean"]) <= 1e-6 * abs(expected["kid_mean"])
    assert abs(std - expected["kid_std"]) <= 1e-4 * abs(expected["kid_std"])
    assert mean > 0.01  # the sets differ, so a broken kernel could not pass by accident


def test_precision_recall_in_torch_equals_the_cpu_path():
    fake, real = features(2, 300, 0.5), features(3, 350, 0.0)
    settings = FidelitySettings(prc_neighborhood=3, prc_batch_size=128)
    radii = knn_radii(real, 3, 128)
    assert torch.equal(knn_radii_on_device(real, 3, 128), radii)
    for cached in (None, radii):
        expected = precision_recall(fake, real, settings, real_radii=cached)
        precision, recall = precision_recall_on_device(fake, real, 3, 128, cached)
        assert abs(precision - expected["precision"]) <= 1e-6 * expected["precision"]
        assert abs(recall - expected["recall"]) <= 1e-6 * expected["recall"]
        assert 0 < precision < 1 and 0 < recall < 1
