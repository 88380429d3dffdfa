"""All image-set metrics from one pass of the feature extractor over the generated images.

`evaluate_features` turns generated features/logits plus cached reference statistics into the
`val/...` numbers and the protocol that says how they were produced; the evaluation callback and
`evaluate.py` both call it, so training-time and standalone numbers are the same computation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from genstyle.errors import require
from genstyle.metrics.classes import class_histogram, class_kl, modes_covered
from genstyle.metrics.fidelity import (
    FidelitySettings,
    fid_from_statistics,
    fid_statistics,
    inception_score,
    kid,
    precision_recall,
)
from genstyle.metrics.reference import ReferenceStats

# Which direction is better, for W&B summaries and for the printed table.
LOWER_IS_BETTER = ("fid", "kid_mean", "class_kl")
HIGHER_IS_BETTER = ("is_mean", "precision", "recall", "modes_covered", "active_units")


@dataclass
class EvalResult:
    metrics: dict[str, float]  # un-prefixed: fid, kid_mean, ...
    class_counts: torch.Tensor  # (K,) predicted classes of the generated images
    protocol: dict
    notes: list[str] = field(default_factory=list)

    def prefixed(self, prefix: str = "val/") -> dict[str, float]:
        return {f"{prefix}{k}": v for k, v in self.metrics.items()}


def evaluate_features(
    fake: dict[str, torch.Tensor],
    reference: ReferenceStats,
    settings: FidelitySettings | None = None,
    mode_min_share: float = 0.01,
    min_samples: int = 2,
) -> EvalResult:
    """`fake` = `{'features': (N, D), 'logits': (N, K)}` of generated images."""
    settings = settings or FidelitySettings()
    settings.notes = []
    n_fake = len(fake["features"])
    require(
        n_fake >= min_samples,
        f"{n_fake} generated images are fewer than the {min_samples} required for a stable estimate "
        f"(metrics.min_samples). Generate more images, or lower metrics.min_samples to accept a noisier estimate.",
    )
    require(
        fake["features"].shape[1] == reference.features.shape[1],
        f"Generated features have {fake['features'].shape[1]} dimensions, the reference {reference.features.shape[1]}: "
        "they come from different extractors.",
    )
    metrics: dict[str, float] = {"fid": fid_from_statistics(fid_statistics(fake["features"]), reference.fid_stats)}
    metrics.update(kid(fake["features"], reference.features, settings))
    subset_size = int(metrics.pop("kid_subset_size"))  # protocol, not a metric
    metrics.update(inception_score(fake["logits"], settings))
    radii = reference.prc_radii if reference.protocol.get("prc_neighborhood") == settings.prc_neighborhood else None
    metrics.update(precision_recall(fake["features"], reference.features, settings, real_radii=radii))
    counts = class_histogram(fake["logits"], len(reference.class_counts))
    metrics["class_kl"] = class_kl(counts, reference.class_counts)
    metrics["modes_covered"] = float(modes_covered(counts, mode_min_share))
    protocol = {
        "extractor": reference.protocol["extractor"],
        "weights_sha256": reference.protocol["weights_sha256"],
        "reference": f"{reference.protocol['dataset']}:{reference.protocol['split']}",
        "image_size": reference.protocol["image_size"],
        "num_real": reference.num_real,
        "num_fake": n_fake,
        "kid_subsets": settings.kid_subsets,
        "kid_subset_size": subset_size,
        "isc_splits": settings.isc_splits,
        "prc_neighborhood": settings.prc_neighborhood,
        "mode_min_share": mode_min_share,
        "rng_seed": settings.rng_seed,
    }
    return EvalResult(metrics, counts, protocol, list(settings.notes))
