"""evaluate_features (metrics/suite.py) hands each metric the generated and the reference side in
the right places: checked on features whose answers are known."""

from __future__ import annotations

import math

import pytest
import torch

from genstyle.metrics.fidelity import FidelitySettings, fid_statistics, knn_radii
from genstyle.metrics.reference import ReferenceStats
from genstyle.metrics.suite import evaluate_features


def reference(features: torch.Tensor, class_counts: torch.Tensor) -> ReferenceStats:
    stats = fid_statistics(features)
    protocol = {"dataset": "toy", "split": "test", "extractor": "toy", "weights_sha256": "0", "image_size": 28, "prc_neighborhood": 3}
    return ReferenceStats(protocol, features, torch.from_numpy(stats["mu"]), torch.from_numpy(stats["sigma"]), class_counts,
                          knn_radii(features, 3, 256))


def test_a_model_that_draws_two_of_ten_classes_from_the_reference_itself():
    real = torch.randn(600, 8, generator=torch.Generator().manual_seed(0))
    ref = reference(real, torch.full((10,), 60))  # the reference shows every class alike
    fake = real[:300]  # real images, so precision is 1 ...
    logits = torch.eye(10)[torch.arange(300) % 2]  # ... but of two classes only
    result = evaluate_features({"features": fake, "logits": logits}, ref, FidelitySettings(kid_subsets=5))
    m = result.metrics
    assert m["class_kl"] == pytest.approx(math.log(5))  # KL(generated || reference), finite; the other way is infinite
    assert m["modes_covered"] == 2.0
    assert m["precision"] == 1.0 and m["recall"] < 1.0
    assert result.protocol["num_fake"] == 300 and result.protocol["num_real"] == 600
