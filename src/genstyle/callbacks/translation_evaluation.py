"""Translation evaluation (models that `translate(x, direction)`, unpaired data), per direction:
the `reference_split` images of the source domain, translated, against the real images of the
target domain of the same split (`genstyle.metrics.translation`), logged as `val/fid_a2b`,
`val/kid_a2b_mean`, ..., `val/fid_b2a`, ... and the means `val/fid`, `val/kid_mean`; and the
source dependence of each direction (`val/source_dependence_a2b`, `..._pixel`, and the mean
`val/source_dependence`): the spread of the translations of the first `DEPENDENCE_SOURCES` source
images over the spread of those images (`genstyle.metrics.source_dependence`; 1 = the results
vary as their sources, 0 = one result whatever the source)."""

from __future__ import annotations

import logging
import time

import pytorch_lightning as pl
import torch

from genstyle.callbacks.epoch_names import shown_epoch
from genstyle.callbacks.eval_report import EvalReport
from genstyle.metrics.backends import FeatureBackend
from genstyle.metrics.settings import MetricSettings
from genstyle.metrics.source_dependence import grid_dependence
from genstyle.metrics.suite import EvalResult
from genstyle.metrics.translation import (
    TranslationTarget,
    load_targets,
    score_direction,
    translate_images,
    translation_logs,
)
from genstyle.models.base import GenerativeModule
from genstyle.pixels import to_model_range

log = logging.getLogger("genstyle.evaluation")
DEPENDENCE_SOURCES = 256  # source images per direction whose translations' spread is measured


class TranslationEvaluation:
    def __init__(self, settings: MetricSettings, report: EvalReport, num_samples: int, seed: int, batch_size: int,
                 reference_split: str) -> None:  # fmt: skip
        self.settings, self.report = settings, report
        self.num_samples, self.seed, self.batch_size, self.reference_split = num_samples, seed, batch_size, reference_split
        self.targets: dict[str, TranslationTarget] | None = None  # one per direction

    def prepare(self, datamodule, backend: FeatureBackend, image_size: int, channels: int) -> None:
        start = time.perf_counter()
        m = self.settings
        self.targets = load_targets(
            backend, datamodule, self.reference_split, self.num_samples, m.min_samples,
            image_size=image_size, channels=channels, num_real=m.num_real, subset_seed=m.subset_seed,
            prc_neighborhood=m.prc_neighborhood, cache_dir=m.cache_dir,
        )  # fmt: skip
        for t in self.targets.values():
            log.info(
                "Translation evaluation %s: %d %s images against %s (%d images, %s, %.1fs)", t.direction, len(t.source),
                t.source_name, t.reference.protocol["dataset"], t.reference.num_real,
                "from cache" if t.reference.from_cache else "computed", time.perf_counter() - start,
            )  # fmt: skip

    def protocol(self) -> dict:
        protocol = {"eval_seed": self.seed}
        for direction, t in self.targets.items():
            p = t.reference.protocol
            protocol |= {
                "eval_extractor": p["extractor"], "eval_weights_sha256": p["weights_sha256"],
                f"eval_{direction}_source": f"{t.source_name}:{t.split}", f"eval_{direction}_num_fake": len(t.source),
                f"eval_{direction}_reference": f"{p['dataset']}:{p['split']}", f"eval_{direction}_num_real": t.reference.num_real,
            }  # fmt: skip
        return protocol

    def measure(self, trainer: pl.Trainer, pl_module: GenerativeModule, backend: FeatureBackend, in_validation: bool):
        fakes: dict[str, torch.Tensor] = {}
        results: dict[str, EvalResult] = {}
        for direction, target in self.targets.items():
            fakes[direction], results[direction] = score_direction(
                pl_module, target, backend, self.settings.fidelity, self.batch_size,
                mode_min_share=self.settings.mode_min_share, min_samples=self.settings.min_samples,
                rank=trainer.global_rank, world=trainer.world_size,
            )  # fmt: skip
        for note in dict.fromkeys(n for r in results.values() for n in r.notes):
            log.warning(note)
        return translation_logs(results) | self.source_dependence(pl_module, backend), (fakes, results)

    def source_dependence(self, model: GenerativeModule, backend: FeatureBackend) -> dict[str, float]:
        """`val/source_dependence_<direction>` (features) and `..._pixel` per direction, and their
        feature mean `val/source_dependence`. Every rank translates the same images."""
        logged: dict[str, float] = {}
        for direction, target in self.targets.items():
            sources = target.source[:DEPENDENCE_SOURCES]
            results = translate_images(model, sources, direction, self.batch_size)
            scores = grid_dependence(results[None], to_model_range(sources).float()[None], lambda x: backend(x)["features"])
            logged[f"val/source_dependence_{direction}"] = scores["source_dependence"]
            logged[f"val/source_dependence_{direction}_pixel"] = scores["source_dependence_pixel"]
        logged["val/source_dependence"] = sum(logged[f"val/source_dependence_{d}"] for d in self.targets) / len(self.targets)
        return logged

    def write(self, trainer: pl.Trainer, epoch: int, logged: dict, seconds: float, measured, **sections) -> None:
        """`sections`: more parts of eval.json (the end-of-training two-sample test per direction)."""
        fakes, results = measured
        self.report.write(
            trainer, epoch, logged, seconds, protocol={d: r.protocol for d, r in results.items()},
            notes=list(dict.fromkeys(n for r in results.values() for n in r.notes)), **sections,
        )  # fmt: skip
        shown = shown_epoch(epoch)
        for direction, images in fakes.items():
            self.report.grid(trainer, images, f"epoch_{shown:03d}_{direction}", f"val/translations_{direction}",
                             f"epoch {shown}, {results[direction].protocol['source']} translated {direction}")
        lower = [key for d in results for key in (f"fid_{d}", f"kid_{d}_mean")] + ["fid", "kid_mean"]
        higher = [key for d in results for key in (f"precision_{d}", f"recall_{d}")]
        for logger in self.report.wandb_loggers(trainer, lower, higher):
            logger.experiment.summary.update(
                {f"eval_protocol/{d}/{k}": v for d, r in results.items() for k, v in r.protocol.items()}
            )
