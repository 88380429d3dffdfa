"""FID, KID, IS and precision/recall from feature matrices, by torch-fidelity 0.4's own functions.

This module only prepares arguments (dtypes, subset sizes) and names the outputs `val/...`; the
arithmetic is torch-fidelity's (`fid_features_to_statistics`, `fid_statistics_to_metric`,
`kid_features_to_metric`, `isc_features_to_metric`, `prc_features_to_metric`), so a number here
equals what `torch_fidelity.calculate_metrics` reports for the same features.

Convention (torch-fidelity's): the first argument is the generated set, the second the real one.
Features are used as float32, the dtype torch-fidelity's extractors hand to these functions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch_fidelity.metric_fid import (
    KEY_METRIC_FID,
    fid_features_to_statistics,
    fid_statistics_to_metric,
)
from torch_fidelity.metric_isc import (
    KEY_METRIC_ISC_MEAN,
    KEY_METRIC_ISC_STD,
    isc_features_to_metric,
)
from torch_fidelity.metric_kid import (
    KEY_METRIC_KID_MEAN,
    KEY_METRIC_KID_STD,
    kid_features_to_metric,
)
from torch_fidelity.metric_prc import (
    KEY_METRIC_PRECISION,
    KEY_METRIC_RECALL,
    calc_cdist_part,
    prc_features_to_metric,
)

from genstyle.errors import GenstyleError, require

MIN_SAMPLES_FOR_FID = 2  # a covariance needs two points; the configured minimum is usually far higher


@dataclass
class FidelitySettings:
    """The knobs of the four metrics; defaults are torch-fidelity's."""

    kid_subsets: int = 100
    kid_subset_size: int = 1000
    kid_degree: int = 3
    kid_coef0: float = 1.0
    isc_splits: int = 10
    prc_neighborhood: int = 3
    prc_batch_size: int = 2000  # rows of the distance matrix held at once (memory, not the result)
    rng_seed: int = 2020
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        require(self.kid_subsets > 0, f"metrics.kid_subsets={self.kid_subsets} must be > 0.")
        require(self.kid_subset_size > 1, f"metrics.kid_subset_size={self.kid_subset_size} must be > 1.")
        require(self.isc_splits > 0, f"metrics.isc_splits={self.isc_splits} must be > 0.")
        require(self.prc_neighborhood > 0, f"metrics.prc_neighborhood={self.prc_neighborhood} must be > 0.")


def as_float32(features: torch.Tensor) -> torch.Tensor:
    if not (torch.is_tensor(features) and features.ndim == 2):
        raise GenstyleError(f"Expected a (N, D) feature matrix, got {getattr(features, 'shape', type(features))}.")
    return features.detach().to("cpu", torch.float32).contiguous()


def fid_statistics(features: torch.Tensor) -> dict[str, np.ndarray]:
    """`{'mu': (D,), 'sigma': (D, D)}` exactly as torch-fidelity computes and caches them."""
    features = as_float32(features)
    require(len(features) >= MIN_SAMPLES_FOR_FID, f"FID needs at least {MIN_SAMPLES_FOR_FID} images, got {len(features)}.")
    return fid_features_to_statistics(features)


def fid_from_statistics(stats_fake: dict[str, np.ndarray], stats_real: dict[str, np.ndarray]) -> float:
    return float(fid_statistics_to_metric(stats_fake, stats_real, verbose=False)[KEY_METRIC_FID])


def fid(features_fake: torch.Tensor, features_real: torch.Tensor) -> float:
    return fid_from_statistics(fid_statistics(features_fake), fid_statistics(features_real))


def kid_subset_size(n_fake: int, n_real: int, settings: FidelitySettings) -> tuple[int, str | None]:
    """The configured subset size, or the smaller sample size when a set is smaller (with a note)."""
    size = min(settings.kid_subset_size, n_fake, n_real)
    require(size > 1, f"KID needs at least 2 images in each set, got {n_fake} generated and {n_real} real.")
    if size == settings.kid_subset_size:
        return size, None
    return size, (
        f"KID subset size lowered from {settings.kid_subset_size} to {size} because only {n_fake} generated and "
        f"{n_real} real images are available; KID values with different subset sizes do not compare exactly."
    )


def on_accelerator(features: torch.Tensor) -> bool:
    """Features left on a GPU by the extractor: KID and precision/recall are computed there."""
    return torch.is_tensor(features) and features.device.type != "cpu"


def kid(features_fake: torch.Tensor, features_real: torch.Tensor, settings: FidelitySettings) -> dict[str, float]:
    size, note = kid_subset_size(len(features_fake), len(features_real), settings)
    if note and note not in settings.notes:
        settings.notes.append(note)
    if on_accelerator(features_fake):
        from genstyle.metrics.device_fidelity import kid_on_device

        mean, std = kid_on_device(
            features_fake, features_real, settings.kid_subsets, size, settings.kid_degree, settings.kid_coef0, settings.rng_seed
        )
        return {"kid_mean": mean, "kid_std": std, "kid_subset_size": float(size)}
    fake, real = as_float32(features_fake), as_float32(features_real)
    out = kid_features_to_metric(
        fake, real,
        kid_subsets=settings.kid_subsets, kid_subset_size=size, kid_kernel="poly",
        kid_kernel_poly_degree=settings.kid_degree, kid_kernel_poly_gamma=None, kid_kernel_poly_coef0=settings.kid_coef0,
        rng_seed=settings.rng_seed, verbose=False,
    )
    return {"kid_mean": out[KEY_METRIC_KID_MEAN], "kid_std": out[KEY_METRIC_KID_STD], "kid_subset_size": float(size)}


def inception_score(logits_fake: torch.Tensor, settings: FidelitySettings) -> dict[str, float]:
    logits = as_float32(logits_fake)
    require(
        len(logits) >= settings.isc_splits,
        f"The Inception Score splits the samples into {settings.isc_splits} parts; {len(logits)} images are too few.",
    )
    out = isc_features_to_metric(logits, splits=settings.isc_splits, shuffle=True, rng_seed=settings.rng_seed)
    return {"is_mean": out[KEY_METRIC_ISC_MEAN], "is_std": out[KEY_METRIC_ISC_STD]}


def knn_radii(features: torch.Tensor, k: int, batch_size: int) -> torch.Tensor:
    """Distance of each point to its k-th nearest neighbour in its own set, `(N,)`: the radius of
    its ball in the precision/recall manifold. Computed as torch-fidelity's
    `calculate_precision_recall_part` does (its `calc_cdist_part`, `kthvalue(k + 1)`)."""
    features = as_float32(features)
    return torch.cat([calc_cdist_part(chunk, features, batch_size).kthvalue(k + 1).values for chunk in features.split(batch_size)])


def precision_recall(
    features_fake: torch.Tensor,
    features_real: torch.Tensor,
    settings: FidelitySettings,
    real_radii: torch.Tensor | None = None,
) -> dict[str, float]:
    """Improved precision/recall (Kynkaanniemi et al. 2019), k = `settings.prc_neighborhood`.

    Without `real_radii` this is torch-fidelity's `prc_features_to_metric` (chunked variant).
    With the reference's radii cached (`knn_radii` of the real features, which depend on the
    reference only) the real-vs-real distance matrix, the largest part of the cost, is skipped;
    the remaining steps are those of torch-fidelity's `calculate_precision_recall_full` (one
    real-vs-generated distance matrix read both ways), in row chunks to bound memory, and the
    result is identical (tests/metrics/test_fidelity.py checks it against torch-fidelity).
    """
    k, batch = settings.prc_neighborhood, settings.prc_batch_size
    require(
        len(features_fake) > k and len(features_real) > k,
        f"Precision/recall with a {k}-nearest-neighbour radius needs more than {k} images per set, "
        f"got {len(features_fake)} and {len(features_real)}.",
    )
    if real_radii is not None:
        require(real_radii.shape == (len(features_real),), f"real_radii must be ({len(features_real)},), got {tuple(real_radii.shape)}.")
    if on_accelerator(features_fake):
        from genstyle.metrics.device_fidelity import precision_recall_on_device

        precision, recall = precision_recall_on_device(features_fake, features_real, k, batch, real_radii)
        return {"precision": precision, "recall": recall}
    fake, real = as_float32(features_fake), as_float32(features_real)
    if real_radii is None:
        # save_cpu_ram selects torch-fidelity's chunked variant: same result, bounded memory.
        out = prc_features_to_metric(fake, real, prc_neighborhood=k, prc_batch_size=batch, save_cpu_ram=True, verbose=False)
        return {"precision": out[KEY_METRIC_PRECISION], "recall": out[KEY_METRIC_RECALL]}
    fake_radii = knn_radii(fake, k, batch)
    recall, covered = [], torch.zeros(len(fake), dtype=torch.bool)
    for chunk, radii in zip(real.split(batch), real_radii.split(batch), strict=True):
        dist = calc_cdist_part(chunk, fake, batch)  # (chunk, N_fake): one pass serves both, as dist_1_2 = dist_2_1.T
        # Recall: is each real sample inside some generated sample's ball?
        recall.append((dist <= fake_radii).any(dim=1).float())
        # Precision: is each generated sample inside some real sample's ball?
        covered |= (dist <= radii[:, None]).any(dim=0)
    return {"precision": covered.float().mean().item(), "recall": torch.cat(recall).mean().item()}
