"""Reference-set features and FID statistics, computed once and cached on disk.

The cache key hashes everything the numbers depend on: dataset, split, feature extractor name
*and the sha256 of its weights*, image size and channels, and the reference subset (size and
seed). A retrained classifier therefore gets new files instead of stale statistics. Files hold
tensors and plain values only and load with `weights_only=True`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from genstyle.errors import GenstyleError, require
from genstyle.files import save_torch_atomic
from genstyle.metrics.backends import FeatureBackend
from genstyle.metrics.classes import class_histogram
from genstyle.metrics.fidelity import fid_statistics, knn_radii

log = logging.getLogger("genstyle.metrics")
CACHE_FORMAT_VERSION = 2
PRC_BATCH = 2000


@dataclass
class ReferenceStats:
    """Everything the metrics need from the real set (features float32 `(N, D)`)."""

    protocol: dict  # dataset, split, extractor, weights_sha256, image_size, channels, num_real, subset_seed
    features: torch.Tensor
    mu: torch.Tensor
    sigma: torch.Tensor
    class_counts: torch.Tensor
    prc_radii: torch.Tensor  # (N,) k-th nearest-neighbour distances among the real features
    path: Path | None = None
    from_cache: bool = False

    @property
    def fid_stats(self) -> dict:
        return {"mu": self.mu.numpy(), "sigma": self.sigma.numpy()}

    @property
    def num_real(self) -> int:
        return len(self.features)


def reference_protocol(
    backend: FeatureBackend, dataset: str, split: str, image_size: int, channels: int, num_real: int | None, subset_seed: int,
    prc_neighborhood: int = 3,
) -> dict:
    return {
        "dataset": dataset,
        "split": split,
        "extractor": backend.name,
        "weights_sha256": backend.weights_sha256,
        "image_size": int(image_size),
        "channels": int(channels),
        "num_real": None if num_real is None else int(num_real),
        "subset_seed": int(subset_seed),
        "prc_neighborhood": int(prc_neighborhood),
        "format_version": CACHE_FORMAT_VERSION,
    }


def cache_key(protocol: dict) -> str:
    return hashlib.sha256(json.dumps(protocol, sort_keys=True).encode()).hexdigest()


def cache_path(cache_dir: Path, protocol: dict) -> Path:
    p = protocol
    return cache_dir / f"{p['dataset']}-{p['split']}-{p['extractor']}-{p['image_size']}px-{cache_key(protocol)[:16]}.pt"


def select_subset(images: torch.Tensor, num_real: int | None, seed: int, what: str) -> torch.Tensor:
    """The first `num_real` images of a seeded permutation (all images when num_real is None)."""
    if num_real is None:
        return images
    require(
        0 < num_real <= len(images),
        f"metrics.num_real={num_real} must be between 1 and the {len(images)} images of {what}; use null for all of them.",
    )
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))
    return images[order[:num_real]]


def compute_reference(backend: FeatureBackend, images: torch.Tensor, protocol: dict) -> ReferenceStats:
    out = {k: v.cpu() for k, v in backend(images).items()}  # cached on disk: host tensors
    features = out["features"].to(torch.float32)
    stats = fid_statistics(features)
    return ReferenceStats(
        protocol={**protocol, "num_real": len(features)} if protocol.get("num_real") is None else protocol,
        features=features,
        mu=torch.from_numpy(stats["mu"]),
        sigma=torch.from_numpy(stats["sigma"]),
        class_counts=class_histogram(out["logits"]),
        prc_radii=knn_radii(features, protocol["prc_neighborhood"], PRC_BATCH),
    )


def _save(ref: ReferenceStats, path: Path) -> None:
    payload = {
        "protocol_json": json.dumps(ref.protocol, sort_keys=True),
        "features": ref.features,
        "mu": ref.mu,
        "sigma": ref.sigma,
        "class_counts": ref.class_counts,
        "prc_radii": ref.prc_radii,
    }
    save_torch_atomic(payload, path)  # a concurrent reader sees the old file or the whole new one


def _load(path: Path, protocol: dict) -> ReferenceStats | None:
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
        stored = json.loads(payload["protocol_json"])
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, KeyError, TypeError, ValueError) as err:
        log.warning("Ignoring unreadable reference cache %s (%s); recomputing.", path, type(err).__name__)
        return None
    expected = {k: v for k, v in protocol.items() if k != "num_real" or v is not None}
    if any(stored.get(k) != v for k, v in expected.items()):
        log.warning("Reference cache %s was written for another protocol; recomputing.", path)
        return None
    return ReferenceStats(
        stored, payload["features"], payload["mu"], payload["sigma"], payload["class_counts"], payload["prc_radii"], path, True
    )


def load_or_compute_reference(
    backend: FeatureBackend,
    load_images: Callable[[], torch.Tensor],
    *,
    dataset: str,
    split: str,
    image_size: int,
    channels: int,
    num_real: int | None = None,
    subset_seed: int = 0,
    cache_dir: str | Path | None = None,
    prc_neighborhood: int = 3,
) -> ReferenceStats:
    """Cached reference statistics; `load_images()` (uint8 `(N, C, H, W)`) runs only on a miss.

    `cache_dir=None` disables the cache (e.g. for a reference folder that may change)."""
    protocol = reference_protocol(backend, dataset, split, image_size, channels, num_real, subset_seed, prc_neighborhood)
    path = cache_path(Path(cache_dir).expanduser(), protocol) if cache_dir is not None else None
    if path is not None and path.is_file():
        ref = _load(path, protocol)
        if ref is not None:
            return ref
    images = load_images()
    if not (torch.is_tensor(images) and images.ndim == 4 and images.dtype == torch.uint8):
        raise GenstyleError(f"Reference {dataset}:{split} did not load as uint8 (N, C, H, W) images.")
    images = select_subset(images, num_real, subset_seed, f"{dataset}:{split}")
    ref = compute_reference(backend, images, protocol)
    if path is not None:
        _save(ref, path)
        ref.path = path
        log.info("Cached reference statistics of %s:%s (%d images) at %s", dataset, split, ref.num_real, path)
    return ref
