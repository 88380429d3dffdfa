"""`python train.py model=vae data=fashion_mnist`: train one model, leave a complete run directory.

Order (as in lightning-hydra-template): seed, data, model, callbacks, loggers, trainer, fit, test.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import TYPE_CHECKING

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from genstyle.cli.common import CONFIG_DIR, discard_unstarted_run, exit_without_full_collections
from genstyle.cli.failed_start import discard_failed_start
from genstyle.cli.quiet import quiet_third_party
from genstyle.cli.run_dir import RunDirRecord, ValidateConfig, release_run_lock
from genstyle.cli.signals import stop_on_signals
from genstyle.config_check import check_config
from genstyle.errors import GenstyleError, explain_failure, report_user_errors
from genstyle.sweep.job import is_multirun, run_sweep_job

if TYPE_CHECKING:
    import pytorch_lightning as pl

# Only hydra, omegaconf and light genstyle modules are imported here: `--help` and a config error
# answer without importing torch, Lightning or W&B (each imported below, where a run needs it).
log = logging.getLogger("genstyle.train")


def instantiate_group(group: DictConfig | None, **kwargs) -> list:
    """Instantiate every entry of a `callbacks` or `logger` group (entries set to null are off)."""
    if not group:
        return []
    return [hydra.utils.instantiate(node, **kwargs) for node in group.values() if node is not None and "_target_" in node]


def check_several_devices(trainer_cfg: DictConfig) -> None:
    """Several processes need the DDP configs (the data's own sampler hands each rank its share;
    Lightning's default would replace it in every process and fail there, once per process)."""
    devices = trainer_cfg.get("devices")
    several = (isinstance(devices, int) and (devices > 1 or devices == -1)) or (
        not isinstance(devices, (int, str)) and devices is not None and len(devices) > 1)
    if several and trainer_cfg.get("use_distributed_sampler", True):
        raise GenstyleError(
            f"trainer.devices={devices}: training on several devices needs the DDP settings: trainer=ddp_cpu "
            f"trainer.devices={devices} on CPU processes, or trainer=ddp trainer.devices={devices} on GPUs. "
            "With one device, leave trainer.devices=1."
        )


def instantiate_trainer(trainer_cfg: DictConfig, callbacks: list, loggers: list) -> pl.Trainer:
    from pytorch_lightning.utilities.exceptions import MisconfigurationException

    check_several_devices(trainer_cfg)

    try:
        return hydra.utils.instantiate(trainer_cfg, callbacks=callbacks, logger=loggers or False)
    except Exception as err:
        cause = err.__cause__ if isinstance(err.__cause__, MisconfigurationException) else err
        accelerator = str(trainer_cfg.get("accelerator"))
        if isinstance(cause, MisconfigurationException) and accelerator not in ("cpu", "auto"):
            raise GenstyleError(
                f"trainer.accelerator={accelerator}: {str(cause).strip()} This machine has no such device; use "
                "trainer.accelerator=cpu (or auto, which picks what this machine has)."
            ) from err
        raise


def build(cfg: DictConfig) -> tuple[pl.LightningDataModule, pl.LightningModule, pl.Trainer]:
    """Everything `fit` needs, in the order that surfaces config errors before any slow work."""
    import pytorch_lightning as pl

    from genstyle import lightning_fixes
    from genstyle.callbacks.evaluation import check_monitor_source
    lightning_fixes.install()  # skip Lightning's per-key no-op device walk in self.log (checked releases only)
    pl.seed_everything(cfg.seed, workers=True)
    datamodule = hydra.utils.instantiate(cfg.data)
    datamodule.prepare_data()  # finds (or downloads) the data before any logger writes to the run dir
    model = hydra.utils.instantiate(cfg.model)
    model.run_config = OmegaConf.to_container(cfg, resolve=True)
    callbacks = instantiate_group(cfg.get("callbacks"))
    if cfg.trainer.get("enable_progress_bar") is False:  # alone, without also removing the bar's callback
        callbacks = [c for c in callbacks if not isinstance(c, pl.callbacks.ProgressBar)]
    check_monitor_source(getattr(model, "monitor", None), callbacks)
    loggers = instantiate_group(cfg.get("logger"))
    trainer = instantiate_trainer(cfg.trainer, callbacks, loggers)
    for logger in loggers:
        logger.log_hyperparams(model.run_config)
    return datamodule, model, trainer


def fit_validation_interval(trainer: pl.Trainer, datamodule: pl.LightningDataModule) -> None:
    """A recipe's `trainer.val_check_interval` (a number of batches) larger than an epoch that the
    command line made shorter (trainer.limit_train_batches, data.train_subset) would stop Lightning
    before the first step: the run validates at the end of each epoch instead, with a note."""
    interval = trainer.val_check_interval
    if not isinstance(interval, int) or trainer.check_val_every_n_epoch is None or not trainer.limit_val_batches:
        return
    datamodule.setup("fit")
    batches = len(datamodule.train_dataloader())
    limit = trainer.limit_train_batches
    batches = min(batches, limit) if isinstance(limit, int) else int(batches * limit)
    if 0 < batches < interval:
        log.warning("trainer.val_check_interval=%d is more than the %d training batches of an epoch; validating at the "
                    "end of each epoch instead (val_check_interval=%d).", interval, batches, batches)
        trainer.val_check_interval = batches


def is_single_run() -> bool:
    """True for `python train.py ...` (not -m, not a config composed in a test)."""
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.RUN


def finish_wandb() -> None:
    """End the W&B run so the next job of a multirun starts its own."""
    import sys

    if "wandb" in sys.modules:
        import wandb

        if wandb.run is not None:
            try:
                wandb.finish()
            except Exception as err:  # a W&B problem never turns a finished run into a failed one
                log.warning("W&B could not close its run (%s: %s); the run's results are complete on disk.", type(err).__name__, err)


def train(cfg: DictConfig, run_dir: RunDirRecord | None = None) -> dict[str, float]:
    """Fit (and test) one model. `run_dir` says what this command found before Hydra created the
    run directory (`ValidateConfig`); a single run that fails before training removes what it made."""
    import pytorch_lightning as pl

    from genstyle.callbacks.metrics_recorder import scalar_metrics
    from genstyle.checkpoints import check_resumable, resolve_ckpt_path

    output_dir = Path(cfg.paths.output_dir)
    started = False
    trainer = None
    try:
        check_config(cfg)  # already done before the run dir existed (Hydra callback); sweeps and tests land here
        ckpt_path = resolve_ckpt_path(cfg.get("ckpt_path"), output_dir)
        datamodule, model, trainer = build(cfg)
        if ckpt_path is not None:
            check_resumable(ckpt_path, model)
        fit_validation_interval(trainer, datamodule)
        started = True
        trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True)
        metrics = scalar_metrics(trainer.callback_metrics)
        if cfg.get("test") and type(model).test_step is not pl.LightningModule.test_step:
            best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
            trainer.test(model, datamodule=datamodule, ckpt_path=best or None, weights_only=True, verbose=False)  # in the results block
            metrics.update(scalar_metrics(trainer.callback_metrics))
    except BaseException as exc:
        fresh = is_single_run() and not (run_dir is not None and run_dir.existed)  # never clean up a resumed run's folder
        release_run_lock(output_dir)  # before removing the folders it would keep
        if fresh and not started:
            discard_failed_start(output_dir, HydraConfig.get().job.name)  # what the loggers wrote (csv/hparams.yaml)
            discard_unstarted_run(output_dir, HydraConfig.get().job.name)
            if run_dir is not None:
                run_dir.remove_created_folders(output_dir)
        elif fresh and trainer is not None and trainer.global_step == 0:  # failed before its first step: only the log stays
            discard_failed_start(output_dir, HydraConfig.get().job.name)
        explained = explain_failure(exc, output_dir, cfg.get("data", {}).get("batch_size"))  # OOM, full disk
        if explained is not None:
            raise explained from exc
        raise
    finally:
        finish_wandb()
    log.info("Run finished. Results in %s (checkpoints/, samples/, metrics.json)", output_dir)
    print(results_block(metrics, output_dir))
    return metrics


def results_block(metrics: dict[str, float], output_dir: Path) -> str:
    """The closing lines of a run: its headline numbers, then where everything is."""
    from genstyle.callbacks.headline import format_value, headline

    numbers = headline(metrics)
    width = max((len(k) for k in numbers), default=0)
    lines = ["", f"Results: {output_dir}"]
    lines += [f"  {name:<{width}}  {format_value(value)}" for name, value in numbers.items()]
    lines += [f"  checkpoints: {output_dir / 'checkpoints'}", f"  samples:     {output_dir / 'samples'}",
              f"  metrics:     {output_dir / 'metrics.json'} (every logged number)"]
    lines += [f"  W&B:         wandb sync {run}" for run in sorted((output_dir / "wandb").glob("offline-run-*"))[-1:]]
    return "\n".join(lines)


def objective(cfg: DictConfig, run_dir: RunDirRecord | None = None) -> tuple[float | None, dict[str, float]]:
    """Train, then pick `optimized_metric` (what sweepers such as Optuna minimise) from the results."""
    metrics = train(cfg, run_dir)
    name = cfg.get("optimized_metric")
    if name is None:
        return None, metrics
    value = metrics.get(name)
    if value is None:
        raise GenstyleError(f"optimized_metric={name} was not logged by this run; logged: {', '.join(sorted(metrics))}.")
    return (value if math.isfinite(value) else float("inf")), metrics


def main() -> float | None:
    """`python train.py ...`: misspelt keys are answered before Hydra composes the config."""
    import sys

    from genstyle.cli.typos import check_overrides
    from genstyle.errors import exit_with_user_error

    try:
        check_overrides(sys.argv[1:], CONFIG_DIR, "train")
    except GenstyleError as err:
        exit_with_user_error(err)
    result = run()
    exit_without_full_collections()  # the last thing before exit (train.py calls nothing after main)
    return result


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
@report_user_errors
def run(cfg: DictConfig) -> float | None:
    quiet_third_party()
    with stop_on_signals(Path(str(cfg.paths.output_dir))):  # Ctrl-C / SIGTERM: checkpoint, resume hint, 130 / 143
        if is_multirun():  # one failing job must not end the sweep; finished jobs are skipped on restart
            return run_sweep_job(cfg, objective)
        try:
            return objective(cfg, ValidateConfig.record_for(cfg.paths.output_dir))[0]
        finally:
            release_run_lock(cfg.paths.output_dir)  # taken by ValidateConfig before Hydra wrote into the folder


if __name__ == "__main__":
    main()
