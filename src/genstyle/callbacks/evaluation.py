"""The one evaluation callback: every model family, through `GenerativeModule.sample`.

At every `every_n_epochs`-th epoch, at the first evaluation of a fit (so a checkpoint monitoring
`val/fid` always finds it) and at the last epoch, it draws `num_samples` images with a fixed seed
(conditional models: labels drawn from the training label distribution), runs the feature
extractor over them once and logs `val/fid`, `val/kid_mean`, `val/kid_std`, `val/is_mean`,
`val/is_std`, `val/precision`, `val/recall`, `val/class_kl`, `val/modes_covered` (VAEs also
`val/active_units`) plus `stability/fid_spread`. Reference statistics come from the disk cache
(`genstyle.metrics.reference`). Each evaluation rewrites `<run dir>/eval.json` with the numbers,
their protocol and the per-class counts.

Translation models on unpaired data (`translate(x, direction)`, `data.unpaired`) are scored per
direction instead (`genstyle.metrics.translation`): the `reference_split` images of the source
domain, translated, against the real images of the target domain of the same split, logged as
`val/fid_a2b`, `val/kid_a2b_mean`, ..., `val/fid_b2a`, ... and the means `val/fid`, `val/kid_mean`.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from omegaconf import DictConfig, OmegaConf

from genstyle.callbacks.metrics_recorder import write_json_atomic
from genstyle.callbacks.stability import MovingWindow
from genstyle.errors import GenstyleError, require
from genstyle.images import log_image, save_grid
from genstyle.metrics.backends import FeatureBackend, build_backend
from genstyle.metrics.distributed import gather_features, owns_chunk, sync_buffers_from_rank_zero
from genstyle.metrics.fidelity import FidelitySettings
from genstyle.metrics.latent import collapse_warning, vae_latent_metrics
from genstyle.metrics.reference import ReferenceStats, load_or_compute_reference
from genstyle.metrics.suite import HIGHER_IS_BETTER, LOWER_IS_BETTER, EvalResult, evaluate_features
from genstyle.metrics.translation import (
    DIRECTIONS,
    TranslationTarget,
    load_targets,
    score_direction,
    translation_logs,
)
from genstyle.models.base import GenerativeModule

log = logging.getLogger("genstyle.evaluation")


def metric_settings(metrics: dict) -> FidelitySettings:
    return FidelitySettings(
        kid_subsets=int(metrics.get("kid_subsets", 100)),
        kid_subset_size=int(metrics.get("kid_subset_size", 1000)),
        isc_splits=int(metrics.get("isc_splits", 10)),
        prc_neighborhood=int(metrics.get("prc_neighborhood", 3)),
    )


@torch.no_grad()
def generate(
    model: GenerativeModule, n: int, seed: int, batch_size: int, label_distribution: torch.Tensor | None,
    rank: int = 0, world: int = 1,
) -> torch.Tensor:
    """`n` samples `(n, C, H, W)` in `[-1, 1]` on the CPU, a pure function of (weights, seed).

    Each chunk of `batch_size` samples has its own generator (seed, chunk index), so under DDP
    rank r makes only its chunks (`owns_chunk`) and the ranks together make exactly the
    single-process set; `gather_features` puts their features back in order."""
    generator = torch.Generator().manual_seed(seed)
    labels = None
    if model.is_conditional:
        require(
            label_distribution is not None,
            "This model is class-conditional but the data has no labels to draw a label distribution from.",
        )
        labels = torch.multinomial(label_distribution.double(), n, replacement=True, generator=generator)
    chunks = []
    for index, start in enumerate(range(0, n, batch_size)):
        if not owns_chunk(index, rank, world):
            continue
        size = min(batch_size, n - start)
        chunk_generator = torch.Generator().manual_seed(seed * 1_000_003 + index)
        chunk_labels = None if labels is None else labels[start : start + size].to(model.device)
        chunks.append(model.sample(size, labels=chunk_labels, generator=chunk_generator).float().cpu())
    return torch.cat(chunks) if chunks else torch.empty(0, *model.image_shape)


def check_monitor_source(monitor: str | None, callbacks: list) -> None:
    """A model that picks checkpoints by an evaluation metric needs the evaluation callback:
    say so at start-up rather than fail in ModelCheckpoint after the first epoch."""
    evaluation_keys = ("val/fid", "val/kid_mean", "val/is_mean", "val/precision", "val/recall", "val/class_kl",
                       *(f"val/{m}_{d}" for d in DIRECTIONS for m in ("fid", "precision", "recall")),
                       *(f"val/kid_{d}_mean" for d in DIRECTIONS))
    if monitor in evaluation_keys and not any(isinstance(c, Evaluation) for c in callbacks):
        raise GenstyleError(
            f"model.monitor={monitor} is computed by the evaluation callback, which this run has turned off. "
            "Keep callbacks.evaluation on, or pass model.monitor=null (last checkpoint only) or another logged metric."
        )


class Evaluation(pl.Callback):
    def __init__(
        self,
        dirpath: str,
        metrics: dict | DictConfig,
        num_samples: int = 2000,
        every_n_epochs: int = 1,
        seed: int = 0,
        batch_size: int = 500,
        reference_split: str = "test",
        latent_samples: int = 2000,
        fid_spread_window: int = 5,
        grid_samples: int = 64,
        kid_subsets: int | None = None,
    ) -> None:
        metrics = OmegaConf.to_container(metrics, resolve=True) if isinstance(metrics, DictConfig) else dict(metrics)
        require(num_samples > 0, f"callbacks.evaluation.num_samples={num_samples} must be > 0.")
        require(every_n_epochs >= 1, f"callbacks.evaluation.every_n_epochs={every_n_epochs} must be >= 1.")
        require(batch_size > 0, f"callbacks.evaluation.batch_size={batch_size} must be > 0.")
        require(reference_split in ("train", "test"), f"callbacks.evaluation.reference_split={reference_split!r} must be train or test.")
        min_samples = int(metrics.get("min_samples", 2))
        require(
            num_samples >= min_samples,
            f"callbacks.evaluation.num_samples={num_samples} is below metrics.min_samples={min_samples}, the fewest "
            "images for a stable estimate. Raise num_samples or lower metrics.min_samples (noisier numbers).",
        )
        self.dirpath, self.metrics_cfg = Path(dirpath), metrics
        self.num_samples, self.every_n_epochs, self.seed, self.batch_size = num_samples, every_n_epochs, seed, batch_size
        self.reference_split, self.latent_samples, self.grid_samples = reference_split, latent_samples, grid_samples
        if kid_subsets is not None:  # fewer KID subsets during training: same estimator, noisier kid_std
            metrics["kid_subsets"] = int(kid_subsets)
        self.settings = metric_settings(metrics)
        self.fid_window = MovingWindow(fid_spread_window)
        self.backend: FeatureBackend | None = None
        self.reference: ReferenceStats | None = None
        self.translation: dict[str, TranslationTarget] | None = None  # unpaired data: one target per direction
        self.history: list[dict[str, Any]] = []
        self._evaluated_epochs: set[int] = set()
        self._wandb_defined = False
        self.last_seconds = math.nan
        self.disabled: str | None = None

    # --- start-up: extractor and reference, so a missing file fails before training -----------

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if stage != "fit" or self.reference is not None or self.translation is not None or self.disabled:
            return
        datamodule = trainer.datamodule
        if datamodule is None or not hasattr(datamodule, "load_split"):
            self.disabled = (
                f"callbacks.evaluation is off for this run: {type(datamodule).__name__} offers no reference split "
                "(it needs the ImageDataModule). Add callbacks.evaluation=null to the command to silence this."
            )
            log.warning(self.disabled)
            return
        unpaired = bool(getattr(datamodule, "unpaired", False))
        if unpaired and not callable(getattr(pl_module, "translate", None)):
            # Two unpaired domains and no translate(): no single reference describes sample().
            self.disabled = (
                f"callbacks.evaluation is off for this run: data={datamodule.dataset} holds two unpaired domains, which "
                f"are scored through translate(x, direction), and {type(pl_module).__name__} has none. Add "
                "callbacks.evaluation=null to the command to silence this."
            )
            log.warning(self.disabled)
            return
        channels, height, width = pl_module.image_shape
        require(height == width, f"Evaluation expects square images, the model makes {height}x{width}.")
        m = self.metrics_cfg
        self.backend = build_backend(
            m.get("extractor", "auto"), channels, height, m.get("inception_weights"), m.get("classifier_weights"),
            device=str(pl_module.device) if m.get("device") is None else m["device"],
        )
        start = time.perf_counter()
        if unpaired:
            self.translation = load_targets(
                self.backend, datamodule, self.reference_split, self.num_samples, int(m.get("min_samples", 2)),
                image_size=height, channels=channels, num_real=m.get("num_real"), subset_seed=int(m.get("subset_seed", 0)),
                prc_neighborhood=int(m.get("prc_neighborhood", 3)), cache_dir=m.get("cache_dir"),
            )  # fmt: skip
            for t in self.translation.values():
                log.info(
                    "Translation evaluation %s: %d %s images against %s (%d images, %s, %.1fs)", t.direction, len(t.source),
                    t.source_name, t.reference.protocol["dataset"], t.reference.num_real,
                    "from cache" if t.reference.from_cache else "computed", time.perf_counter() - start,
                )  # fmt: skip
            return
        self.reference = load_or_compute_reference(
            self.backend,
            lambda: datamodule.load_split(self.reference_split).images,
            dataset=datamodule.dataset if datamodule.dataset != "image_folder" else f"folder-{Path(datamodule.root).name}",
            split=self.reference_split,
            image_size=height,
            channels=channels,
            num_real=m.get("num_real"),
            subset_seed=int(m.get("subset_seed", 0)),
            prc_neighborhood=int(m.get("prc_neighborhood", 3)),
            cache_dir=m.get("cache_dir"),
        )
        log.info(
            "Evaluation reference %s:%s, %d images, %s (%.1fs)", self.reference.protocol["dataset"], self.reference_split,
            self.reference.num_real, "from cache" if self.reference.from_cache else "computed", time.perf_counter() - start,
        )

    # --- when -----------------------------------------------------------------------------------

    def _due(self, trainer: pl.Trainer) -> bool:
        epoch = trainer.current_epoch
        if self.disabled or trainer.sanity_checking or epoch in self._evaluated_epochs:
            return False
        last = trainer.max_epochs is not None and trainer.max_epochs > 0 and epoch + 1 >= trainer.max_epochs
        # The first evaluation of each fit runs regardless of the interval: a checkpoint that
        # monitors val/fid must find it after the first validation.
        first = not self._evaluated_epochs
        return first or last or trainer.should_stop or (epoch + 1) % self.every_n_epochs == 0

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: GenerativeModule) -> None:
        if not trainer.state.fn == "fit" or not self._due(trainer):
            return
        self._evaluate(trainer, pl_module, in_validation=True)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: GenerativeModule) -> None:
        # Runs with no validation loop (data.val_size=0, limit_val_batches=0): evaluate here instead.
        if self._due(trainer):
            self._evaluate(trainer, pl_module, in_validation=False)

    # --- what -----------------------------------------------------------------------------------

    def _evaluate(self, trainer: pl.Trainer, pl_module: GenerativeModule, in_validation: bool) -> None:
        if self.translation is not None:
            self._evaluate_translation(trainer, pl_module)
            return
        require(self.reference is not None and self.backend is not None, "Evaluation used before setup().")
        start = time.perf_counter()
        epoch = trainer.current_epoch
        self._evaluated_epochs.add(epoch)
        datamodule = trainer.datamodule
        # Under DDP each rank makes and embeds its share of the samples (with rank 0's weights and
        # buffers); the gathered features cover every sample exactly once, so all ranks compute
        # the single-process numbers.
        sync_buffers_from_rank_zero(pl_module)
        images = generate(pl_module, self.num_samples, self.seed, self.batch_size, datamodule.label_distribution(),
                          rank=trainer.global_rank, world=trainer.world_size)
        features = gather_features(self.backend(images), self.num_samples, self.batch_size)
        result = evaluate_features(
            features, self.reference, self.settings,
            mode_min_share=float(self.metrics_cfg.get("mode_min_share", 0.01)),
            min_samples=int(self.metrics_cfg.get("min_samples", 2)),
        )
        logged = result.prefixed("val/")
        if getattr(pl_module, "family", None) == "vae":
            logged.update(self._latent_metrics(trainer, pl_module, datamodule, skip_kl=in_validation))
        self._log(pl_module, logged)
        self.last_seconds = time.perf_counter() - start
        for note in result.notes:
            log.warning(note)
        if trainer.is_global_zero:
            self._report(trainer, images, result, logged, epoch)

    def _log(self, pl_module: GenerativeModule, logged: dict[str, float]) -> None:
        """Track FID's spread over recent evaluations and send every number to the loggers."""
        self.fid_window.add(logged["val/fid"])
        if len(self.fid_window) >= 2:
            logged["stability/fid_spread"] = self.fid_window.spread()
        for key, value in logged.items():
            pl_module.log(key, torch.tensor(float(value), dtype=torch.float32), on_step=False, on_epoch=True)

    def _evaluate_translation(self, trainer: pl.Trainer, pl_module: GenerativeModule) -> None:
        start = time.perf_counter()
        epoch = trainer.current_epoch
        self._evaluated_epochs.add(epoch)
        sync_buffers_from_rank_zero(pl_module)
        fakes, results = {}, {}
        for direction, target in self.translation.items():
            fakes[direction], results[direction] = score_direction(
                pl_module, target, self.backend, self.settings, self.batch_size,
                mode_min_share=float(self.metrics_cfg.get("mode_min_share", 0.01)),
                min_samples=int(self.metrics_cfg.get("min_samples", 2)), rank=trainer.global_rank, world=trainer.world_size,
            )  # fmt: skip
        logged = translation_logs(results)
        self._log(pl_module, logged)
        self.last_seconds = time.perf_counter() - start
        for note in dict.fromkeys(n for r in results.values() for n in r.notes):
            log.warning(note)
        if trainer.is_global_zero:
            self._report_translation(trainer, fakes, results, logged, epoch)

    def _latent_metrics(self, trainer, pl_module, datamodule, skip_kl: bool) -> dict[str, float]:
        data = datamodule.val_set if datamodule.val_set is not None else datamodule.train_set
        images = data.images[: self.latent_samples]
        labels = data.labels[: self.latent_samples] if (pl_module.is_conditional and data.labels is not None) else None
        latent = vae_latent_metrics(pl_module, images, labels)
        message = collapse_warning(latent, float(self.metrics_cfg.get("collapse_min_active_fraction", 0.1)))
        # In the first epoch and during the KL warm-up few units are active by design: the alarm (once,
        # in the log and on the console) speaks only after both; the metric is logged throughout.
        warmed_up = trainer.current_epoch >= 1 and trainer.global_step >= int(getattr(pl_module, "kl_warmup_steps", 0) or 0)
        if message and warmed_up:
            log.warning(message)
        out = {"val/active_units": latent["active_units"], "val/posterior_collapse": float(message is not None)}
        if not skip_kl:  # inside validation the VAE logs val/kl itself, from the same formula
            out["val/kl"] = latent["kl"]
        return out

    # --- where ----------------------------------------------------------------------------------

    def _class_names(self, trainer: pl.Trainer, k: int) -> list[str]:
        names = list(getattr(trainer.datamodule, "classes", ()) or ())
        return names if len(names) == k else [str(i) for i in range(k)]

    def _report(self, trainer: pl.Trainer, images: torch.Tensor, result: EvalResult, logged: dict, epoch: int) -> None:
        names = self._class_names(trainer, len(result.class_counts))
        ref_counts = self.reference.class_counts
        counts = {n: int(c) for n, c in zip(names, result.class_counts, strict=False)}
        row = {"epoch": epoch, "step": trainer.global_step, **{k: float(v) for k, v in logged.items()}}
        self.history.append(row)
        payload = {
            "epoch": epoch,
            "step": trainer.global_step,
            "metrics": {k: float(v) for k, v in logged.items()},
            "protocol": result.protocol,
            "notes": result.notes,
            "class_counts": counts,
            "reference_class_counts": {n: int(c) for n, c in zip(names, ref_counts, strict=False)},
            "seconds": round(self.last_seconds, 3),
            "history": self.history,
        }
        self.dirpath.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.dirpath / "eval.json", json.loads(json.dumps(payload, default=str)))
        grid = save_grid(images[: self.grid_samples], self.dirpath / "eval_samples" / f"epoch_{epoch:03d}.png",
                         nrow=max(1, int(math.sqrt(self.grid_samples))))
        log_image(trainer, "val/samples", grid, step=trainer.global_step, caption=f"epoch {epoch}, seed {self.seed}")
        self._log_to_wandb(trainer, result, names, ref_counts)

    def _report_translation(
        self, trainer: pl.Trainer, fakes: dict[str, torch.Tensor], results: dict[str, EvalResult], logged: dict, epoch: int
    ) -> None:
        self.history.append({"epoch": epoch, "step": trainer.global_step, **{k: float(v) for k, v in logged.items()}})
        payload = {
            "epoch": epoch,
            "step": trainer.global_step,
            "metrics": {k: float(v) for k, v in logged.items()},
            "protocol": {d: r.protocol for d, r in results.items()},
            "notes": list(dict.fromkeys(n for r in results.values() for n in r.notes)),
            "seconds": round(self.last_seconds, 3),
            "history": self.history,
        }
        self.dirpath.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.dirpath / "eval.json", json.loads(json.dumps(payload, default=str)))
        for direction, images in fakes.items():
            grid = save_grid(images[: self.grid_samples], self.dirpath / "eval_samples" / f"epoch_{epoch:03d}_{direction}.png",
                             nrow=max(1, int(math.sqrt(self.grid_samples))))
            log_image(trainer, f"val/translations_{direction}", grid, step=trainer.global_step,
                      caption=f"epoch {epoch}, {results[direction].protocol['source']} translated {direction}")
        self._log_translation_to_wandb(trainer, results)

    def _wandb_loggers(self, trainer: pl.Trainer, lower: Iterable[str], higher: Iterable[str]) -> list:
        """The run's W&B loggers. On first use, W&B is told to keep the best value of each metric in
        the summary (min for `lower`, max for `higher`), so runs sort by val/fid in the dashboard."""
        from pytorch_lightning.loggers import WandbLogger

        loggers = [logger for logger in trainer.loggers if isinstance(logger, WandbLogger)]
        if loggers and not self._wandb_defined:
            for logger in loggers:
                for keys, summary in ((lower, "min"), (higher, "max")):
                    for key in keys:
                        logger.experiment.define_metric(f"val/{key}", summary=summary)
            self._wandb_defined = True
        return loggers

    def _log_translation_to_wandb(self, trainer: pl.Trainer, results: dict[str, EvalResult]) -> None:
        lower = [key for d in results for key in (f"fid_{d}", f"kid_{d}_mean")] + ["fid", "kid_mean"]
        higher = [key for d in results for key in (f"precision_{d}", f"recall_{d}")]
        for logger in self._wandb_loggers(trainer, lower, higher):
            logger.experiment.summary.update(
                {f"eval_protocol/{d}/{k}": v for d, r in results.items() for k, v in r.protocol.items()}
            )

    def _log_to_wandb(self, trainer: pl.Trainer, result: EvalResult, names: list[str], ref_counts: torch.Tensor) -> None:
        for logger in self._wandb_loggers(trainer, LOWER_IS_BETTER, HIGHER_IS_BETTER):
            logger.experiment.summary.update({f"eval_protocol/{k}": v for k, v in result.protocol.items()})
            total, ref_total = max(1, int(result.class_counts.sum())), max(1, int(ref_counts.sum()))
            rows = [
                [name, int(c), int(c) / total, int(r) / ref_total]
                for name, c, r in zip(names, result.class_counts, ref_counts, strict=False)
            ]
            logger.log_table(key="val/class_counts", columns=["class", "count", "share", "reference_share"],
                             data=rows, step=trainer.global_step)

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # The protocol also reaches CSV/TensorBoard (hparams) so every logger's numbers are labelled.
        if self.translation is not None:
            protocol = {"eval_seed": self.seed}
            for direction, t in self.translation.items():
                p = t.reference.protocol
                protocol |= {
                    "eval_extractor": p["extractor"], "eval_weights_sha256": p["weights_sha256"],
                    f"eval_{direction}_source": f"{t.source_name}:{t.split}", f"eval_{direction}_num_fake": len(t.source),
                    f"eval_{direction}_reference": f"{p['dataset']}:{p['split']}", f"eval_{direction}_num_real": t.reference.num_real,
                }  # fmt: skip
            for logger in trainer.loggers:
                logger.log_hyperparams(protocol)
            return
        if self.reference is None:
            return
        p = self.reference.protocol
        protocol = {
            "eval_extractor": p["extractor"], "eval_weights_sha256": p["weights_sha256"],
            "eval_reference": f"{p['dataset']}:{p['split']}", "eval_num_real": self.reference.num_real,
            "eval_num_fake": self.num_samples, "eval_seed": self.seed,
        }
        for logger in trainer.loggers:
            logger.log_hyperparams(protocol)

    def state_dict(self) -> dict:
        return {"history": self.history, "fid_window": list(self.fid_window.values)}

    def load_state_dict(self, state_dict: dict) -> None:
        self.history = list(state_dict.get("history", []))
        for value in state_dict.get("fid_window", []):
            self.fid_window.add(value)


__all__ = ["Evaluation", "GenstyleError", "generate"]
