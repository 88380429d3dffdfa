"""The `metrics` config group as a typed object: how generated images are measured.

The defaults are those of conf/metrics/default.yaml (tests/metrics/test_settings.py holds them
together), so code that builds settings without the config measures the same way as a run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from genstyle.errors import require
from genstyle.metrics.fidelity import FidelitySettings


@dataclass(frozen=True)
class MetricSettings:
    extractor: str = "auto"  # auto | fmnist-classifier | inception-v3-compat
    inception_weights: str | None = None
    classifier_weights: str | None = None
    # The network of the metrics that judge style and translation (the style benchmark, the
    # multi-domain evaluation) and of the linear two-sample judge: one no model trains against.
    judge_extractor: str = "fmnist-independent"  # fmnist-independent | fmnist-classifier
    allow_own_features: bool = False  # score a model in a network its losses use anyway (flagged)
    device: str | None = None  # where the extractor runs; None = the model's device
    cache_dir: str | None = None  # reference statistics cache; None = no cache
    num_real: int | None = None  # reference images used (a seeded subset); None = the whole split
    subset_seed: int = 0
    min_samples: int = 1000  # fewer generated images is an error: FID/KID are too noisy below this
    kid_subsets: int = 100
    kid_subset_size: int = 1000
    isc_splits: int = 10
    prc_neighborhood: int = 3
    mode_min_share: float = 0.01  # val/modes_covered counts classes with at least this share
    collapse_min_active_fraction: float = 0.1  # VAE: warn below this fraction of active latent dims

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None, **overrides: Any) -> MetricSettings:
        """Settings from the `metrics` config (a dict or DictConfig); keys not given keep their
        defaults, an unknown key is an error."""
        merged = {**dict(values or {}), **overrides}
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(merged) - known)
        require(not unknown, f"metrics.{unknown[0] if unknown else ''} is not a metrics setting; known: {', '.join(sorted(known))}.")
        return cls(**merged)

    @property
    def fidelity(self) -> FidelitySettings:
        """The FID/KID/IS/precision-recall knobs."""
        return FidelitySettings(
            kid_subsets=int(self.kid_subsets), kid_subset_size=int(self.kid_subset_size),
            isc_splits=int(self.isc_splits), prc_neighborhood=int(self.prc_neighborhood),
        )


def metric_settings(values: Mapping[str, Any] | None) -> FidelitySettings:
    """The FID/KID/IS/precision-recall knobs of a `metrics` config."""
    return MetricSettings.from_mapping(values).fidelity
