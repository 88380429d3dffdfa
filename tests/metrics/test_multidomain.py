"""The multi-domain translation metrics on features with known answers."""

from __future__ import annotations

import math

import pytest
import torch

from genstyle.errors import GenstyleError
from genstyle.metrics.multidomain import (
    domain_fids,
    mean_pairwise_distance,
    real_groups,
    summary_logs,
    target_share,
)


def test_mean_pairwise_distance_of_known_points():
    # One group: the corners of a 3-4-5 right triangle -> distances 3, 4, 5.
    group = torch.tensor([[[0.0, 0.0], [3.0, 0.0], [0.0, 4.0]]])
    assert mean_pairwise_distance(group) == pytest.approx(4.0)
    assert mean_pairwise_distance(torch.zeros(2, 5, 3)) == 0.0  # identical results: no diversity
    with pytest.raises(GenstyleError, match="K >= 2"):
        mean_pairwise_distance(torch.zeros(2, 1, 3))


def test_target_share_counts_argmax_hits():
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0], [3.0, 1.0], [0.0, 5.0]])
    assert target_share(logits, torch.tensor([0, 1, 1, 0])) == 0.5


def test_domain_fids_zero_for_the_same_features_and_large_for_shifted_ones():
    g = torch.Generator().manual_seed(0)
    real = {0: torch.randn(400, 4, generator=g), 1: torch.randn(400, 4, generator=g)}
    fids = domain_fids({0: real[0].clone(), 1: real[1] + 3.0}, real)
    assert fids[0] == pytest.approx(0.0, abs=1e-6)
    assert fids[1] == pytest.approx(4 * 9.0, rel=0.05)  # |mean shift|^2 = 4 dims x 3^2
    with pytest.raises(GenstyleError, match="No real features"):
        domain_fids({2: real[0]}, real)


def test_real_groups_are_distinct_images_and_repeatable():
    features = torch.arange(20.0)[:, None]
    groups = real_groups(features, 5, 3, torch.Generator().manual_seed(1))
    assert groups.shape == (3, 5, 1)
    assert all(len(set(g.flatten().tolist())) == 5 for g in groups)
    assert torch.equal(groups, real_groups(features, 5, 3, torch.Generator().manual_seed(1)))


def test_summary_logs_means_and_names():
    logs = summary_logs({"latent": {0: 2.0, 1: 4.0}}, {"latent": 0.5}, {"latent": 1.0, "real": 2.0}, ["coat", "bag"])
    assert logs == {
        "val/fid_latent": 3.0, "val/fid_latent_coat": 2.0, "val/fid_latent_bag": 4.0,
        "val/target_share_latent": 0.5, "val/diversity_feature_latent": 1.0, "val/diversity_feature_real": 2.0,
    }  # fmt: skip
    assert all(math.isfinite(v) for v in logs.values())
