"""The evaluation callback in real (tiny) training runs of every model family, through make_cfg."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from genstyle.cli.train import train
from genstyle.metrics.suite import EvalResult

IMAGE_METRICS = ["val/fid", "val/kid_mean", "val/kid_std", "val/is_mean", "val/is_std", "val/precision", "val/recall",
                 "val/class_kl", "val/modes_covered"]


def run(make_cfg, classifier_weights, *overrides):
    cfg = make_cfg(f"metrics.classifier_weights={classifier_weights}", *overrides)
    return cfg, train(cfg), Path(cfg.paths.output_dir)


SLOW = pytest.mark.slow  # the remaining families: same code path, ~15 s each on a shared CPU


@pytest.mark.parametrize("model", ["vae", "dcgan", *(pytest.param(m, marks=SLOW) for m in ("cgan", "cvae", "wgan_gp"))])
def test_every_family_reports_all_metrics_with_protocol(make_cfg, classifier_weights, model):
    cfg, metrics, out = run(make_cfg, classifier_weights, f"model={model}")
    for key in IMAGE_METRICS:
        assert key in metrics and not math.isnan(metrics[key]), key
    assert metrics["val/fid"] > 0 and 0 <= metrics["val/precision"] <= 1 and 1 <= metrics["val/modes_covered"] <= 10
    if model in ("vae", "cvae"):
        assert 0 <= metrics["val/active_units"] <= cfg.model.latent_dim and "val/kl" in metrics
    record = json.loads((out / "eval.json").read_text())
    p = record["protocol"]
    assert (p["num_fake"], p["num_real"], p["reference"], p["extractor"]) == (200, 500, "fashion_mnist:test", "fmnist-classifier")
    from genstyle.metrics.classifier import weights_sha256

    assert p["weights_sha256"] == weights_sha256(classifier_weights)
    assert sum(record["class_counts"].values()) == 200
    assert record["metrics"]["val/fid"] == pytest.approx(metrics["val/fid"], rel=1e-6)
    assert (out / "eval_samples" / "epoch_000.png").is_file()
    if model == "dcgan":
        assert "stability/var_d_loss" in metrics and "stability/var_g_loss" in metrics
    # The same numbers reach the CSV logger.
    rows = list(csv.DictReader((out / "csv" / "metrics.csv").open()))
    assert any(r.get("val/fid") for r in rows)


@pytest.mark.slow
def test_dcgan_best_checkpoint_follows_fid_and_interval_is_respected(make_cfg, classifier_weights):
    _, metrics, out = run(make_cfg, classifier_weights, "model=dcgan", "trainer.max_epochs=4", "trainer.limit_train_batches=1",
                          "callbacks.evaluation.every_n_epochs=3")
    history = json.loads((out / "eval.json").read_text())["history"]
    assert [h["epoch"] for h in history] == [0, 2, 3]  # first, every 3rd, last
    assert "stability/fid_spread" in history[-1] and history[-1]["stability/fid_spread"] >= 0
    assert list((out / "checkpoints").glob("best-*.ckpt")), "ModelCheckpoint(monitor=val/fid) saved no best checkpoint"


def test_samples_are_repeatable_and_conditional_labels_follow_the_data(make_cfg, classifier_weights):
    from genstyle.cli.train import build
    from genstyle.metrics.generation import generate

    datamodule, model, _ = build(make_cfg("model=cgan", f"metrics.classifier_weights={classifier_weights}"))
    skewed = torch.tensor([0.0, 0.0, 1.0] + [0.0] * 7)
    a = generate(model, 50, seed=3, batch_size=16, label_distribution=skewed)
    assert torch.equal(a, generate(model, 50, seed=3, batch_size=16, label_distribution=skewed))
    assert not torch.allclose(a, generate(model, 50, seed=4, batch_size=16, label_distribution=skewed))
    # Labels are drawn from the given distribution: all class 2 here, so all images equal G(z, 2).
    seen = []
    model.sample = lambda n, labels=None, generator=None: seen.append(labels) or torch.zeros(n, 1, 28, 28)
    generate(model, 20, seed=0, batch_size=8, label_distribution=skewed)
    assert torch.cat(seen).tolist() == [2] * 20
    with pytest.raises(Exception, match="label distribution"):
        generate(model, 4, seed=0, batch_size=4, label_distribution=None)


def test_wandb_summary_sorts_by_best_fid_and_table_of_class_counts(tmp_path, monkeypatch):
    from pytorch_lightning.loggers import WandbLogger

    monkeypatch.setenv("WANDB_MODE", "offline")
    logger = WandbLogger(save_dir=str(tmp_path), offline=True, project="genstyle-test")
    from genstyle.callbacks.eval_report import EvalReport
    from genstyle.callbacks.sample_evaluation import SampleEvaluation
    from genstyle.metrics.settings import MetricSettings

    callback = SampleEvaluation(MetricSettings(min_samples=2), EvalReport(tmp_path, 64), 10, 0, 10, "test", 10)
    result = EvalResult({"fid": 1.0}, torch.tensor([3, 7]), {"extractor": "fmnist-classifier", "num_fake": 10})
    trainer = SimpleNamespace(loggers=[logger], global_step=0)
    try:
        callback.log_to_wandb(trainer, result, ["a", "b"], torch.tensor([5, 5]))
        for step, value in enumerate([3.0, 1.5, 2.0]):
            logger.experiment.log({"val/fid": value}, step=step + 1)
        summary = logger.experiment.summary
        assert summary["eval_protocol/extractor"] == "fmnist-classifier"
        assert summary["val/fid"]["min"] == 1.5  # the best FID, not the last
    finally:
        logger.experiment.finish()
