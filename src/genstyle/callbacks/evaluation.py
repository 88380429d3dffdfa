"""The evaluation callback (`callbacks.evaluation`): every model family, through its interface.

At every `every_n_epochs`-th epoch, at the first evaluation of a run (so a checkpoint monitoring
`val/fid` always finds it) and at the last epoch, it measures the model and logs the numbers plus
`stability/fid_spread`; each evaluation rewrites `<run dir>/eval.json` with the numbers, their
protocol and the history (`EvalReport`). What is measured follows from the data and the model:

- `SampleEvaluation` (callbacks/sample_evaluation.py): `sample()` against a reference split;
- `TranslationEvaluation` (callbacks/translation_evaluation.py): on unpaired two-domain data,
  `translate(x, direction)` per direction against the target domain;
- `MultiDomainEvaluation` (callbacks/multidomain_evaluation.py): for models that translate to
  named target domains (stargan_v2) on labelled data, StarGAN v2's protocol (per-domain FID,
  latent- and reference-guided, target share, feature diversity).

Reference statistics come from the disk cache (`genstyle.metrics.reference`); the `metrics`
config arrives as a typed `MetricSettings`.
"""

from __future__ import annotations

import logging
import math
import time

import pytorch_lightning as pl
import torch
from omegaconf import DictConfig, OmegaConf

from genstyle.callbacks.eval_report import EvalReport
from genstyle.callbacks.final_judges import (
    conditional_cas,
    sample_two_sample,
    translation_two_sample,
)
from genstyle.callbacks.multidomain_evaluation import MultiDomainEvaluation, has_domains
from genstyle.callbacks.sample_evaluation import SampleEvaluation
from genstyle.callbacks.stability import MovingWindow
from genstyle.callbacks.translation_evaluation import TranslationEvaluation
from genstyle.directions import DIRECTIONS
from genstyle.errors import GenstyleError, require
from genstyle.metrics.backends import FeatureBackend, build_backend
from genstyle.metrics.distributed import sync_buffers_from_rank_zero
from genstyle.metrics.own_features import check_own_features
from genstyle.metrics.settings import MetricSettings
from genstyle.metrics.two_sample import JUDGES
from genstyle.models.base import GenerativeModule

log = logging.getLogger("genstyle.evaluation")


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


def stopping(trainer: pl.Trainer) -> bool:
    """The run stops after this step: a stop was asked for (trainer.max_time, early stopping) and
    Lightning will honour it (min_epochs / min_steps are met; before that it trains on)."""
    return bool(trainer.should_stop) and getattr(trainer.fit_loop, "_can_stop_early", True)


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
        two_sample_judge: str | None = "cnn",
        cas: bool = True,
        second_network: str | None = None,
    ) -> None:
        metrics = OmegaConf.to_container(metrics, resolve=True) if isinstance(metrics, DictConfig) else dict(metrics)
        require(num_samples > 0, f"callbacks.evaluation.num_samples={num_samples} must be > 0.")
        require(every_n_epochs >= 1, f"callbacks.evaluation.every_n_epochs={every_n_epochs} must be >= 1.")
        require(batch_size > 0, f"callbacks.evaluation.batch_size={batch_size} must be > 0.")
        require(reference_split in ("train", "test"), f"callbacks.evaluation.reference_split={reference_split!r} must be train or test.")
        # Fewer KID subsets during training: the same estimator, a noisier kid_std.
        self.settings = MetricSettings.from_mapping(metrics, **({} if kid_subsets is None else {"kid_subsets": int(kid_subsets)}))
        min_samples = self.settings.min_samples
        require(
            num_samples >= min_samples,
            f"callbacks.evaluation.num_samples={num_samples} is below metrics.min_samples={min_samples}, the fewest "
            "images for a stable estimate. Raise num_samples or lower metrics.min_samples (noisier numbers).",
        )
        self.num_samples, self.every_n_epochs, self.seed, self.batch_size = num_samples, every_n_epochs, seed, batch_size
        self.reference_split, self.latent_samples = reference_split, latent_samples
        require(two_sample_judge in (None, *JUDGES), f"callbacks.evaluation.two_sample_judge={two_sample_judge!r} must be one of {', '.join(JUDGES)} or null (off).")
        self.two_sample_judge, self.cas = two_sample_judge, bool(cas)
        self.second_network = second_network or None
        self.report = EvalReport(dirpath, grid_samples)
        self.fid_window = MovingWindow(fid_spread_window)
        self.backend: FeatureBackend | None = None
        self.evaluator: SampleEvaluation | TranslationEvaluation | MultiDomainEvaluation | None = None
        self._evaluated_epochs: set[int] = set()
        self._last_evaluated_step: int | None = None
        self.last_seconds = math.nan
        self.disabled: str | None = None
        self.own_features = False  # scored in a network the model's losses use (allowed, flagged)

    # --- start-up: extractor and reference, so a missing file fails before training -----------

    def setup(self, trainer: pl.Trainer, pl_module: GenerativeModule, stage: str) -> None:
        if stage != "fit" or self.evaluator is not None or self.disabled:
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
        if unpaired and not pl_module.can_translate:
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
        m = self.settings
        # At 28x28 gray, metrics.judge_extractor's network measures the multi-domain metrics (they judge
        # translation) and any model whose losses use a frozen network (adain: the shipped classifier).
        judged = (channels, height) == (1, 28) and (not unpaired and has_domains(pl_module) or bool(pl_module.loss_feature_networks))
        self.backend = self._build_backend(m.judge_extractor if judged else m.extractor, pl_module)
        # Never silently in the model's own loss network: refused unless metrics.allow_own_features=true, then flagged.
        self.own_features = check_own_features(
            f"model={pl_module.family}", self.backend.name, self.backend.weights_sha256, pl_module.loss_feature_networks,
            m.allow_own_features,
        )
        if self.own_features:
            log.warning("The evaluation scores model=%s in %s, a network its losses use (metrics.allow_own_features=true): "
                        "its numbers are flagged own_features in eval.json and the logged protocol.", pl_module.family, self.backend.name)
        common = dict(settings=m, report=self.report, num_samples=self.num_samples, seed=self.seed,
                      batch_size=self.batch_size, reference_split=self.reference_split)  # fmt: skip
        if unpaired:
            evaluator = TranslationEvaluation(**common)
        elif has_domains(pl_module):
            evaluator = MultiDomainEvaluation(**common)
        else:
            evaluator = SampleEvaluation(**common, latent_samples=self.latent_samples)
        evaluator.prepare(datamodule, self.backend, image_size=height, channels=channels)
        if self.second_network:
            evaluator.prepare_second(datamodule, self._second_backend(pl_module, evaluator), image_size=height, channels=channels)
        self.evaluator = evaluator

    def _build_backend(self, name: str, pl_module: GenerativeModule) -> FeatureBackend:
        channels, height, _ = pl_module.image_shape
        m = self.settings
        return build_backend(name, channels, height, m.inception_weights, m.classifier_weights,
                             device=str(pl_module.device) if m.device is None else m.device)  # fmt: skip

    def _second_backend(self, pl_module: GenerativeModule, evaluator) -> FeatureBackend:
        """The network of `second_network`, which measures the same samples again: refused where the
        evaluation is not of samples, or where the model's losses use that network."""
        name, family = self.second_network, pl_module.family
        require(
            isinstance(evaluator, SampleEvaluation),
            f"callbacks.evaluation.second_network={name} measures the samples of sample(); model={family} is evaluated "
            "through its translations here, in one network (metrics.judge_extractor). Remove second_network, or score "
            "the checkpoint in another network with evaluate.py metrics.extractor=<network>.",
        )
        m = self.settings
        backend = self._build_backend(name, pl_module)
        require(
            backend.name != self.backend.name,
            f"callbacks.evaluation.second_network={name} is the network the evaluation already uses ({self.backend.name}); "
            "name a different one (fmnist-independent or fmnist-classifier at 28x28 grayscale), or null.",
        )
        if check_own_features(f"model={family}", backend.name, backend.weights_sha256, pl_module.loss_feature_networks, m.allow_own_features):
            log.warning("val/%s/* scores model=%s in a network its losses use (metrics.allow_own_features=true).", backend.name, family)
        return backend

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # The protocol also reaches CSV/TensorBoard (hparams) so every logger's numbers are labelled.
        if self.evaluator is None:
            return
        protocol = self.evaluator.protocol() | ({"eval_own_features": True} if self.own_features else {})
        for logger in trainer.loggers:
            logger.log_hyperparams(protocol)

    # --- when -----------------------------------------------------------------------------------

    def _due(self, trainer: pl.Trainer, at_epoch_end: bool) -> bool:
        if self.disabled or trainer.sanity_checking or trainer.global_step == self._last_evaluated_step:
            return False  # once per step: the validation and the epoch end of one step both ask
        # The first evaluation of a run runs regardless of the interval: a checkpoint that
        # monitors val/fid must find it after the first validation. A run that stops inside an
        # epoch (trainer.max_time, early stopping) is measured at the step it stops on, so its last
        # and best checkpoints see the final weights.
        if not self._evaluated_epochs or stopping(trainer):
            return True
        if not at_epoch_end:
            return False  # validations inside an epoch (trainer.val_check_interval) are not measured
        epoch = trainer.current_epoch
        last = trainer.max_epochs is not None and trainer.max_epochs > 0 and epoch + 1 >= trainer.max_epochs
        # A resumed run restores the evaluated epochs (state_dict) and the last val/fid
        # (ResumeState), so it keeps the interval.
        return last or (epoch not in self._evaluated_epochs and (epoch + 1) % self.every_n_epochs == 0)

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: GenerativeModule) -> None:
        at_epoch_end = trainer.fit_loop.epoch_loop.batch_progress.is_last_batch
        if not trainer.state.fn == "fit" or not self._due(trainer, at_epoch_end):
            return
        self._evaluate(trainer, pl_module, in_validation=True)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: GenerativeModule) -> None:
        # Runs with no validation loop (data.val_size=0, limit_val_batches=0): evaluate here instead.
        if self._due(trainer, at_epoch_end=True):
            self._evaluate(trainer, pl_module, in_validation=False)

    # --- what -----------------------------------------------------------------------------------

    def _evaluate(self, trainer: pl.Trainer, pl_module: GenerativeModule, in_validation: bool) -> None:
        require(self.evaluator is not None and self.backend is not None, "Evaluation used before setup().")
        start = time.perf_counter()
        epoch = trainer.current_epoch
        self._evaluated_epochs.add(epoch)
        self._last_evaluated_step = trainer.global_step
        # Under DDP each rank makes and embeds its share of the images (with rank 0's weights and
        # buffers); the gathered features cover every image exactly once, so all ranks compute
        # the single-process numbers.
        sync_buffers_from_rank_zero(pl_module)
        logged, measured = self.evaluator.measure(trainer, pl_module, self.backend, in_validation)
        sections = self._final_judges(trainer, pl_module, logged, measured) if self._final(trainer) else {}
        if self.own_features:
            sections["own_features"] = {"network": self.backend.name, "weights_sha256": self.backend.weights_sha256,
                                        "note": "scored in a network the model's losses use (metrics.allow_own_features=true)"}
        self._log(pl_module, logged)
        self.last_seconds = time.perf_counter() - start
        if trainer.is_global_zero:
            self.evaluator.write(trainer, epoch, logged, self.last_seconds, measured, **sections)

    def _final(self, trainer: pl.Trainer) -> bool:
        last = trainer.max_epochs is not None and trainer.max_epochs > 0 and trainer.current_epoch + 1 >= trainer.max_epochs
        return last or stopping(trainer)

    def _final_judges(self, trainer: pl.Trainer, pl_module: GenerativeModule, logged: dict, measured) -> dict:
        """The judges that train a network (so at the end of training, not every epoch): the
        two-sample test on samples or per translation direction, and CAS for class-conditional
        models. Adds their numbers to `logged`; returns their eval.json sections. Single-process
        only: under DDP each rank holds a share of the samples."""
        judge, seed, split = self.two_sample_judge, self.seed, self.reference_split
        network = self.settings.judge_extractor  # the linear judge's features
        datamodule, judges = trainer.datamodule, []
        if judge and isinstance(self.evaluator, SampleEvaluation):
            judges.append(("two_sample", lambda: sample_two_sample(datamodule, measured[0], judge, seed, split, network)))
        if judge and isinstance(self.evaluator, TranslationEvaluation):
            judges.append(("two_sample", lambda: translation_two_sample(datamodule, measured[0], judge, seed, split, network)))
        # CAS asks sample() for given labels: class-conditional models evaluated through sample().
        if self.cas and pl_module.is_conditional and isinstance(self.evaluator, SampleEvaluation):
            judges.append(("cas", lambda: conditional_cas(pl_module, datamodule, self.num_samples, seed, self.batch_size, split)))
        if not judges:
            return {}
        if trainer.world_size > 1:
            log.warning("The two-sample test and CAS are skipped under DDP (each rank holds only its share of the "
                        "samples); run evaluate.py on the checkpoint instead.")
            return {}
        sections = {}
        for name, run_judge in judges:
            numbers, sections[name] = run_judge()
            logged.update(numbers)
        return sections

    def _log(self, pl_module: GenerativeModule, logged: dict[str, float]) -> None:
        """Track FID's spread over recent evaluations and send every number to the loggers."""
        self.fid_window.add(logged["val/fid"])
        if len(self.fid_window) >= 2:
            logged["stability/fid_spread"] = self.fid_window.spread()
        for key, value in logged.items():
            pl_module.log(key, torch.tensor(float(value), dtype=torch.float32), on_step=False, on_epoch=True)

    # --- resume ---------------------------------------------------------------------------------

    def state_dict(self) -> dict:
        return {"history": self.report.history, "fid_window": list(self.fid_window.values), "evaluated_epochs": sorted(self._evaluated_epochs)}

    def load_state_dict(self, state_dict: dict) -> None:
        self.report.history = list(state_dict.get("history", []))
        # A resumed run keeps the interval: its first validation is not "the first evaluation".
        self._evaluated_epochs = set(state_dict.get("evaluated_epochs", []))
        for value in state_dict.get("fid_window", []):
            self.fid_window.add(value)


__all__ = ["Evaluation", "check_monitor_source"]
