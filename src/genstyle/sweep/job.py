"""One job of a `python train.py -m ...` sweep, run so that the sweep survives it.

Hydra's basic launcher stops the whole sweep at the first exception, so in MULTIRUN mode the
task function catches the error, records it in the job directory (`failed`) and returns None;
the sweep goes on and `SweepSummary` reports the failure (and the exit status) at the end.
A job whose directory already holds a `done` marker for the same overrides is skipped, so a
restarted sweep (`hydra.sweep.dir=<the same directory>`) only runs what is missing.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

from genstyle.sweep import markers

log = logging.getLogger("genstyle.sweep")
WANDB_TAG_MAX = 64  # W&B rejects longer tags


def is_multirun() -> bool:
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def sweep_group(sweep_dir: str | Path) -> str:
    """W&B group of a sweep: its directory name, with the date folder above it when there is one
    (`outputs/multirun/2026-12-01/10-00-00` -> `2026-12-01_10-00-00`), so groups stay unique."""
    path = Path(sweep_dir)
    parent = path.parent.name
    return f"{parent}_{path.name}" if parent and parent[:1].isdigit() else path.name


def label_wandb_run(cfg: DictConfig, overrides: list[str], sweep_dir: str) -> None:
    """Group the job's W&B run by sweep and tag it with its overrides (user-set values win)."""
    logger_cfg = cfg.get("logger")
    if not logger_cfg or not logger_cfg.get("wandb"):
        return
    with open_dict(cfg):
        wandb_cfg = cfg.logger.wandb
        if wandb_cfg.get("group") is None:
            wandb_cfg.group = sweep_group(sweep_dir)
        tags = [str(t) for t in (wandb_cfg.get("tags") or [])]
        tags += [o[:WANDB_TAG_MAX] for o in overrides if o[:WANDB_TAG_MAX] not in tags]
        wandb_cfg.tags = tags


def run_sweep_job(cfg: DictConfig, objective: Callable[[DictConfig], tuple[float | None, dict[str, float]]]) -> float | None:
    """Run `objective` (-> (value for the sweeper, final metrics)) as one isolated sweep job."""
    hydra_cfg = HydraConfig.get()
    job_dir = Path(cfg.paths.output_dir)
    overrides = [str(o) for o in hydra_cfg.overrides.task]
    done = markers.read_done(job_dir)
    if done is not None and done.get("overrides") == overrides:
        log.info("Job %s already finished (%s): skipped. Delete its `done` file to run it again.", job_dir, done.get("finished"))
        return done.get("return_value")
    markers.clear(job_dir)
    label_wandb_run(cfg, overrides, hydra_cfg.sweep.dir)
    try:
        value, metrics = objective(cfg)
    except Exception as exc:  # KeyboardInterrupt/SystemExit still stop the sweep
        from genstyle.cli.common import user_error_in

        user_error = user_error_in(exc)
        summary = f"error: {user_error}" if user_error is not None else f"{type(exc).__name__}: {exc}"
        markers.write_failed(job_dir, summary.replace("\n", " "), traceback.format_exc())
        log.error("Job %s failed, the sweep goes on: %s (details in %s)", job_dir.name, summary, job_dir / markers.FAILED)
        return None
    markers.write_done(job_dir, overrides, metrics, return_value=value)
    return value
