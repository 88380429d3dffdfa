"""Sample evaluation: `num_samples` images from `sample()` with a fixed seed against the
reference split, as `val/fid`, `val/kid_mean`, `val/kid_std`, `val/is_mean`, `val/is_std`,
`val/precision`, `val/recall`, `val/class_kl`, `val/modes_covered`; models with an encoder
(VAEs) add `val/active_units`, `val/posterior_collapse` and `val/kl`. With a second network
(`callbacks.evaluation.second_network`) the same images are also measured in its features, as
`val/<network>/fid`, `val/<network>/kid_mean`, ... against that network's own reference
statistics: one set of samples, two feature spaces, so a number that only one network believes
shows up beside the other."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytorch_lightning as pl
import torch

from genstyle.callbacks.epoch_names import shown_epoch
from genstyle.callbacks.eval_report import EvalReport
from genstyle.metrics.backends import FeatureBackend
from genstyle.metrics.distributed import gather_features
from genstyle.metrics.generation import generate
from genstyle.metrics.latent import collapse_warning, vae_latent_metrics
from genstyle.metrics.reference import ReferenceStats, load_or_compute_reference
from genstyle.metrics.settings import MetricSettings
from genstyle.metrics.suite import HIGHER_IS_BETTER, LOWER_IS_BETTER, EvalResult, evaluate_features
from genstyle.models.base import GenerativeModule

log = logging.getLogger("genstyle.evaluation")


class SampleEvaluation:
    def __init__(self, settings: MetricSettings, report: EvalReport, num_samples: int, seed: int, batch_size: int,
                 reference_split: str, latent_samples: int) -> None:  # fmt: skip
        self.settings, self.report = settings, report
        self.num_samples, self.seed, self.batch_size = num_samples, seed, batch_size
        self.reference_split, self.latent_samples = reference_split, latent_samples
        self.reference: ReferenceStats | None = None
        self.second: tuple[FeatureBackend, ReferenceStats] | None = None

    def prepare(self, datamodule, backend: FeatureBackend, image_size: int, channels: int) -> None:
        self.reference = self._reference(datamodule, backend, image_size, channels)

    def prepare_second(self, datamodule, backend: FeatureBackend, image_size: int, channels: int) -> None:
        """Measure the same samples again in `backend`, against its own reference statistics."""
        self.second = (backend, self._reference(datamodule, backend, image_size, channels))

    def _reference(self, datamodule, backend: FeatureBackend, image_size: int, channels: int) -> ReferenceStats:
        start = time.perf_counter()
        m = self.settings
        reference = load_or_compute_reference(
            backend,
            lambda: datamodule.load_split(self.reference_split).images,
            dataset=datamodule.dataset if datamodule.dataset != "image_folder" else f"folder-{Path(datamodule.root).name}",
            split=self.reference_split, image_size=image_size, channels=channels, num_real=m.num_real,
            subset_seed=m.subset_seed, prc_neighborhood=m.prc_neighborhood, cache_dir=m.cache_dir,
        )  # fmt: skip
        log.info(
            "Evaluation reference %s:%s in %s, %d images, %s (%.1fs)", reference.protocol["dataset"], self.reference_split,
            backend.name, reference.num_real, "from cache" if reference.from_cache else "computed", time.perf_counter() - start,
        )
        return reference

    def protocol(self) -> dict:
        p = self.reference.protocol
        second = {}
        if self.second is not None:
            second = {"eval_second_extractor": self.second[0].name, "eval_second_weights_sha256": self.second[1].protocol["weights_sha256"]}
        return {
            "eval_extractor": p["extractor"], "eval_weights_sha256": p["weights_sha256"],
            "eval_reference": f"{p['dataset']}:{p['split']}", "eval_num_real": self.reference.num_real,
            "eval_num_fake": self.num_samples, "eval_seed": self.seed, **second,
        }  # fmt: skip

    def measure(self, trainer: pl.Trainer, pl_module: GenerativeModule, backend: FeatureBackend, in_validation: bool):
        """(logged numbers, what the report needs) for this epoch."""
        datamodule = trainer.datamodule
        images = generate(pl_module, self.num_samples, self.seed, self.batch_size, datamodule.label_distribution(),
                          rank=trainer.global_rank, world=trainer.world_size)
        result = self._score(backend, self.reference, images)
        logged = result.prefixed("val/")
        if self.second is not None:
            network, reference = self.second
            logged.update(self._score(network, reference, images).prefixed(f"val/{network.name}/"))
        if pl_module.has_encoder:
            logged.update(self._latent_metrics(pl_module, datamodule, skip_kl=in_validation))
        for note in result.notes:
            log.warning(note)
        return logged, (images, result)

    def _score(self, backend: FeatureBackend, reference: ReferenceStats, images: torch.Tensor) -> EvalResult:
        """The sample metrics of `images` in `backend`'s features against `reference`."""
        features = gather_features(backend(images), self.num_samples, self.batch_size)
        return evaluate_features(features, reference, self.settings.fidelity,
                                 mode_min_share=self.settings.mode_min_share, min_samples=self.settings.min_samples)  # fmt: skip

    def write(self, trainer: pl.Trainer, epoch: int, logged: dict, seconds: float, measured, **sections) -> None:
        """`sections`: more parts of eval.json (the end-of-training two-sample test)."""
        images, result = measured
        if self.second is not None:  # which network the val/<network>/* numbers of this record come from
            network, reference = self.second
            sections["second_network"] = {"extractor": network.name, "weights_sha256": reference.protocol["weights_sha256"],
                                          "num_real": reference.num_real}
        names = class_names(trainer, len(result.class_counts))
        ref_counts = self.reference.class_counts
        self.report.write(
            trainer, epoch, logged, seconds, protocol=result.protocol, notes=result.notes,
            class_counts={n: int(c) for n, c in zip(names, result.class_counts, strict=False)},
            reference_class_counts={n: int(c) for n, c in zip(names, ref_counts, strict=False)}, **sections,
        )  # fmt: skip
        shown = shown_epoch(epoch)
        self.report.grid(trainer, images, f"epoch_{shown:03d}", "val/samples", f"epoch {shown}, seed {self.seed}")
        self.log_to_wandb(trainer, result, names, ref_counts)

    def log_to_wandb(self, trainer: pl.Trainer, result: EvalResult, names: list[str], ref_counts: torch.Tensor) -> None:
        for logger in self.report.wandb_loggers(trainer, LOWER_IS_BETTER, HIGHER_IS_BETTER):
            logger.experiment.summary.update({f"eval_protocol/{k}": v for k, v in result.protocol.items()})
            total, ref_total = max(1, int(result.class_counts.sum())), max(1, int(ref_counts.sum()))
            rows = [
                [name, int(c), int(c) / total, int(r) / ref_total]
                for name, c, r in zip(names, result.class_counts, ref_counts, strict=False)
            ]
            logger.log_table(key="val/class_counts", columns=["class", "count", "share", "reference_share"],
                             data=rows, step=trainer.global_step)

    def _latent_metrics(self, pl_module: GenerativeModule, datamodule, skip_kl: bool) -> dict[str, float]:
        data = datamodule.val_set if datamodule.val_set is not None else datamodule.train_set
        images = data.images[: self.latent_samples]
        labels = data.labels[: self.latent_samples] if (pl_module.is_conditional and data.labels is not None) else None
        latent = vae_latent_metrics(pl_module, images, labels)
        message = collapse_warning(latent, self.settings.collapse_min_active_fraction)
        # In the first epoch and during the KL warm-up few units are active by design: the alarm (once,
        # in the log and on the console) speaks only after both; the metric is logged throughout.
        trainer = pl_module.trainer
        warmed_up = trainer.current_epoch >= 1 and trainer.global_step >= int(getattr(pl_module, "kl_warmup_steps", 0) or 0)
        if message and warmed_up:
            log.warning(message)
        out = {"val/active_units": latent["active_units"], "val/posterior_collapse": float(message is not None)}
        if not skip_kl:  # inside validation the VAE logs val/kl itself, from the same formula
            out["val/kl"] = latent["kl"]
        return out


def class_names(trainer: pl.Trainer, k: int) -> list[str]:
    names = list(getattr(trainer.datamodule, "classes", ()) or ())
    return names if len(names) == k else [str(i) for i in range(k)]
