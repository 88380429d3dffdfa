"""One job of a `python train.py -m ...` sweep, run so that the sweep survives it.

Hydra's basic launcher stops the whole sweep at the first exception, so in MULTIRUN mode the
task function catches the error, records it in the job directory (`failed`) and returns None;
the sweep goes on and `SweepSummary` reports the failure (and the exit status) at the end.
A job whose directory already holds a `done` marker for the same overrides and the same resolved
config is skipped, so a restarted sweep (`hydra.sweep.dir=<the same directory>`) only runs what is missing.
"""

from __future__ import annotations

import hashlib
import logging
import traceback
from collections.abc import Callable
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf, open_dict

from genstyle.errors import GenstyleError
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


def relaunching_ddp(trainer_cfg: DictConfig | None) -> bool:
    """True when Lightning would start the other DDP ranks itself by re-running the command line:
    strategy ddp (not ddp_spawn) over several devices or nodes, outside SLURM or torchrun (which
    start every rank themselves). Under `-m` that re-runs the whole sweep in every rank."""
    if not trainer_cfg:
        return False
    strategy = trainer_cfg.get("strategy")
    if isinstance(strategy, DictConfig):
        name = f"{strategy.get('_target_', '')} {strategy.get('start_method', '')}".lower()
    else:
        name = str(strategy).lower()
    if "ddp" not in name or "spawn" in name:
        return False
    devices, nodes = trainer_cfg.get("devices"), trainer_cfg.get("num_nodes") or 1
    if devices in (1, "1", [0]) and nodes == 1:
        return False
    from lightning_fabric.plugins.environments import SLURMEnvironment, TorchElasticEnvironment

    return not (SLURMEnvironment.detect() or TorchElasticEnvironment.detect())


def config_digest(cfg: DictConfig) -> str:
    """Hash of the job's resolved config: a restart skips a job only if nothing in it changed,
    including defaults edited in conf/ since the job finished."""
    text = OmegaConf.to_yaml(cfg, resolve=True, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def finished_before(done: dict | None, overrides: list[str], digest: str) -> bool:
    return done is not None and done.get("overrides") == overrides and done.get("config_sha256") == digest


def run_sweep_job(cfg: DictConfig, objective: Callable[[DictConfig], tuple[float | None, dict[str, float]]]) -> float | None:
    """Run `objective` (-> (value for the sweeper, final metrics)) as one isolated sweep job."""
    hydra_cfg = HydraConfig.get()
    job_dir = Path(cfg.paths.output_dir)
    overrides = [str(o) for o in hydra_cfg.overrides.task]
    digest = config_digest(cfg)
    done = markers.read_done(job_dir)
    if finished_before(done, overrides, digest):
        log.info("Job %s already finished (%s): skipped. Delete its `done` file to run it again.", job_dir, done.get("finished"))
        return done.get("return_value")
    if done is not None and done.get("overrides") == overrides:
        log.warning("Job %s finished before with a different resolved config (were defaults edited?): running it again.", job_dir)
    # Under SLURM every task (one per GPU) runs this function: rank 0 keeps the books.
    from pytorch_lightning.utilities.rank_zero import rank_zero_only

    is_rank_zero = getattr(rank_zero_only, "rank", 0) == 0
    if is_rank_zero:
        markers.clear(job_dir)
    if relaunching_ddp(cfg.get("trainer")):
        raise GenstyleError(
            f"trainer.strategy={cfg.trainer.strategy} with trainer.devices={cfg.trainer.devices} under -m: Lightning would "
            "start the other ranks by re-running this command, which re-runs the whole sweep in every rank. Sweep DDP "
            "jobs on SLURM with hydra/launcher=submitit_slurm (one task per GPU), use trainer.strategy=ddp_spawn for a "
            "local sweep, or run the DDP job on its own without -m (docs/sweeps.md)."
        )
    label_wandb_run(cfg, overrides, hydra_cfg.sweep.dir)
    try:
        value, metrics = objective(cfg)
    except Exception as exc:  # KeyboardInterrupt/SystemExit still stop the sweep
        from genstyle.errors import user_error_in

        user_error = user_error_in(exc)
        summary = f"error: {user_error}" if user_error is not None else f"{type(exc).__name__}: {exc}"
        if is_rank_zero:
            markers.write_failed(job_dir, summary.replace("\n", " "), traceback.format_exc())
        log.error("Job %s failed, the sweep goes on: %s (details in %s)", job_dir.name, summary, job_dir / markers.FAILED)
        return None
    if is_rank_zero:
        markers.write_done(job_dir, overrides, metrics, return_value=value, config_sha256=digest)
    return value
