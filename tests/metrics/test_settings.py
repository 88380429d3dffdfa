"""The typed metrics settings keep the defaults of conf/metrics/default.yaml, and refuse keys
they do not know (a typo is an error, not a silently ignored setting)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from genstyle.cli.common import CONFIG_DIR
from genstyle.errors import GenstyleError
from genstyle.metrics.settings import MetricSettings


def test_defaults_are_the_configs():
    config = OmegaConf.to_container(OmegaConf.load(Path(CONFIG_DIR) / "metrics" / "default.yaml"), resolve=False)
    defaults = asdict(MetricSettings())
    assert set(config) == set(defaults)
    differing = {k: (v, defaults[k]) for k, v in config.items() if v != defaults[k] and k != "cache_dir"}
    assert differing == {}  # cache_dir interpolates the run's paths: no fixed default


def test_unknown_key_is_an_error_and_overrides_win():
    with pytest.raises(GenstyleError, match="metrics.min_sample is not a metrics setting"):
        MetricSettings.from_mapping({"min_sample": 5})
    settings = MetricSettings.from_mapping({"min_samples": 5, "kid_subsets": 50}, kid_subsets=20)
    assert (settings.min_samples, settings.fidelity.kid_subsets, settings.fidelity.isc_splits) == (5, 20, 10)
