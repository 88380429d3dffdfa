"""Reference statistics are computed once per (data, split, extractor weights, size) and reused;
other weights or a damaged file mean a recomputation, never stale numbers."""

from __future__ import annotations

import pytest
import torch

from genstyle.errors import GenstyleError
from genstyle.metrics.backends import ClassifierBackend
from genstyle.metrics.reference import load_or_compute_reference


@pytest.fixture
def images() -> torch.Tensor:
    return torch.randint(0, 256, (300, 1, 28, 28), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)


def counting_loader(images: torch.Tensor):
    calls = []

    def load() -> torch.Tensor:
        calls.append(1)
        return images

    return load, calls


def reference(backend, load, cache_dir, **kw):
    return load_or_compute_reference(backend, load, dataset="fashion_mnist", split="test", image_size=28, channels=1, cache_dir=cache_dir, **kw)


def test_cache_is_reused_then_invalidated_by_new_weights(tmp_path, images, random_classifier_weights):
    first = ClassifierBackend(random_classifier_weights(0))
    load, calls = counting_loader(images)
    cache = tmp_path / "cache"
    computed = reference(first, load, cache)
    cached = reference(first, load, cache)
    assert len(calls) == 1 and not computed.from_cache and cached.from_cache
    assert torch.equal(computed.features, cached.features) and torch.equal(computed.sigma, cached.sigma)
    assert cached.protocol["weights_sha256"] == first.weights_sha256 and cached.num_real == 300

    retrained = ClassifierBackend(random_classifier_weights(1))  # same architecture, other weights
    assert retrained.weights_sha256 != first.weights_sha256
    fresh = reference(retrained, load, cache)
    assert len(calls) == 2 and not fresh.from_cache and fresh.path != computed.path
    assert not torch.allclose(fresh.mu, computed.mu)
    assert len(list(cache.glob("*.pt"))) == 2


def test_subset_size_is_part_of_the_key_and_checked(tmp_path, images, random_classifier_weights):
    backend = ClassifierBackend(random_classifier_weights(0))
    load, calls = counting_loader(images)
    small = reference(backend, load, tmp_path, num_real=100)
    full = reference(backend, load, tmp_path)
    assert (small.num_real, full.num_real, len(calls)) == (100, 300, 2)
    with pytest.raises(GenstyleError, match="num_real=1000"):
        reference(backend, load, tmp_path, num_real=1000)


def test_damaged_cache_file_is_recomputed(tmp_path, images, random_classifier_weights):
    backend = ClassifierBackend(random_classifier_weights(0))
    load, calls = counting_loader(images)
    ref = reference(backend, load, tmp_path)
    ref.path.write_bytes(b"not a torch file")
    again = reference(backend, load, tmp_path)
    assert len(calls) == 2 and torch.equal(again.features, ref.features)
