"""The judges that train a network of their own, run once at the end of training by the
evaluation callback (docs/metrics.md):

- the classifier two-sample test on the samples (`val/c2st_acc`, `_acc_low`, `_acc_high`, `_p`),
  or per direction on the translations (`val/c2st_acc_a2b`, ..., `val/c2st_p_b2a`): translations
  of the reference split's source images against the target domain's real images;
- CAS for class-conditional models (`val/cas`, `val/cas_low`, `val/cas_high`).

Each returns (logged numbers, eval.json section)."""

from __future__ import annotations

import logging
import time

import torch

from genstyle.directions import SOURCE_AND_TARGET
from genstyle.metrics.cas import classification_accuracy_score, labelled_samples
from genstyle.metrics.two_sample import TwoSampleResult, two_sample_test

log = logging.getLogger("genstyle.evaluation")


def _report(what: str, result: TwoSampleResult, judge: str, seconds: float) -> None:
    log.info("Two-sample test%s (%s judge): accuracy %.3f [%.3f, %.3f], p=%.3g, %d held-out images (%.1fs)",
             what, judge, result.accuracy, *result.ci95, result.p_value, result.total, seconds)


def sample_two_sample(
    datamodule, images: torch.Tensor, judge: str, seed: int, reference_split: str, network: str = "fmnist-independent"
) -> tuple[dict, dict]:
    """Samples against the run's real training images, scored on held-out samples and the
    reference split (`network`: the linear judge's features)."""
    start = time.perf_counter()
    result = two_sample_test(images, datamodule.train_set.images, datamodule.load_split(reference_split).images,
                             judge=judge, seed=seed, network=network)
    _report("", result, judge, time.perf_counter() - start)
    return {f"val/{k}": v for k, v in result.metrics("c2st").items()}, result.as_dict()


def translation_two_sample(datamodule, fakes: dict[str, torch.Tensor], judge: str, seed: int,
                           reference_split: str, network: str = "fmnist-independent") -> tuple[dict, dict]:  # fmt: skip
    """Per direction: the translated reference-split images of the source domain against the
    target domain's real training images (judge training) and reference-split images (scoring)."""
    reference = datamodule.load_split(reference_split)
    logged, section = {}, {}
    for direction, images in fakes.items():
        target = SOURCE_AND_TARGET[direction][1]
        start = time.perf_counter()
        result = two_sample_test(images, getattr(datamodule.train_set, target).images, getattr(reference, target).images,
                                 judge=judge, seed=seed, network=network)
        _report(f" {direction}", result, judge, time.perf_counter() - start)
        logged |= {f"val/c2st_acc_{direction}": result.accuracy, f"val/c2st_acc_{direction}_low": result.ci95[0],
                   f"val/c2st_acc_{direction}_high": result.ci95[1], f"val/c2st_p_{direction}": result.p_value}
        section[direction] = result.as_dict()
    return logged, section


def conditional_cas(pl_module, datamodule, num_samples: int, seed: int, batch_size: int,
                    reference_split: str) -> tuple[dict, dict]:  # fmt: skip
    """A fresh classifier trained on `num_samples` class-balanced samples, tested on the labelled
    reference split."""
    start = time.perf_counter()
    images, labels = labelled_samples(pl_module, num_samples, seed, batch_size)
    real = datamodule.load_split(reference_split)
    result = classification_accuracy_score(images, labels, real.images, real.labels, int(pl_module.num_classes), seed=seed)
    log.info("CAS: accuracy %.3f [%.3f, %.3f] on %d real %s images (%.1fs)", result.accuracy, *result.ci95, result.total,
             reference_split, time.perf_counter() - start)
    return {f"val/{k}": v for k, v in result.metrics("cas").items()}, result.as_dict()
