"""conf/rate.yaml as a plain config for in-process calls (no Hydra run, so paths are set here)."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from tests.conftest import ROOT


def rate_cfg(tmp_path: Path, fmnist_root: Path, **overrides) -> DictConfig:
    cfg = OmegaConf.load(ROOT / "conf" / "rate.yaml")
    for key in ("defaults", "hydra"):
        cfg.pop(key)
    cfg.paths = {"data_dir": str(tmp_path / "data")}
    cfg.data_root = str(fmnist_root)
    cfg.merge_with(overrides)
    return cfg
