"""Small real training runs shared by the reliability tests (in-process, a few seconds each)."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, open_dict

from genstyle.cli.train import train
from tests.conftest import compose_train

EVALUATION_METRICS = ("val/fid", "val/kid", "val/is", "val/precision", "val/recall")


def cheap_cfg(run_dir: Path, fmnist_root: Path, *overrides: str) -> DictConfig:
    """The shared cheap config without the evaluation callback (its cost and its classifier
    weights are not what these tests are about)."""
    cfg = compose_train([f"data.root={fmnist_root}", *overrides], run_dir)
    with open_dict(cfg):
        if cfg.get("callbacks") and "evaluation" in cfg.callbacks:
            del cfg.callbacks["evaluation"]
            if str(cfg.model.get("monitor")).startswith(EVALUATION_METRICS):
                cfg.model.monitor = None  # the best checkpoint is chosen by a metric only that callback logs
    return cfg


def trained_run(base: Path, fmnist_root: Path, model: str = "vae", *overrides: str) -> Path:
    """A finished run directory of `model` under `base` (trained once, then reused)."""
    run_dir = base / f"trained_{model}"
    if not (run_dir / "checkpoints" / "last.ckpt").is_file():
        train(cheap_cfg(run_dir, fmnist_root, f"model={model}", "test=false", *overrides))
    return run_dir
