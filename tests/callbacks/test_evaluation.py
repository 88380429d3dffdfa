"""The evaluation callback in real (tiny) training runs of every model family, through make_cfg."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from types import SimpleNamespace

import pytest
import pytorch_lightning as pl
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
    judge = ["callbacks.evaluation.two_sample_judge=cnn"] if model == "dcgan" else []  # off in CHEAP
    cfg, metrics, out = run(make_cfg, classifier_weights, f"model={model}", *judge)
    for key in IMAGE_METRICS:
        assert key in metrics and not math.isnan(metrics[key]), key
    assert metrics["val/fid"] > 0 and 0 <= metrics["val/precision"] <= 1 and 1 <= metrics["val/modes_covered"] <= 10
    if model in ("vae", "cvae"):
        assert 0 <= metrics["val/active_units"] <= cfg.model.latent_dim and "val/kl" in metrics
    record = json.loads((out / "eval.json").read_text())
    p = record["protocol"]
    assert (p["num_fake"], p["num_real"], p["reference"], p["extractor"]) == (200, 500, "fashion_mnist:test", "fmnist-classifier")
    from genstyle.classifier.fashion_classifier import weights_sha256

    assert p["weights_sha256"] == weights_sha256(classifier_weights)
    assert sum(record["class_counts"].values()) == 200
    assert record["metrics"]["val/fid"] == pytest.approx(metrics["val/fid"], rel=1e-6)
    assert (out / "eval_samples" / "epoch_001.png").is_file()
    if judge:
        c2st = record["two_sample"]  # the last epoch adds the classifier two-sample test
        assert c2st["protocol"]["judge"] == "cnn" and c2st["total"] == 200 and c2st["ci95"][0] <= c2st["accuracy"] <= c2st["ci95"][1]
        assert metrics["val/c2st_acc"] == pytest.approx(c2st["accuracy"]) and 0 <= metrics["val/c2st_p"] <= 1
    else:
        assert "two_sample" not in record and "val/c2st_acc" not in metrics
    if model == "dcgan":
        assert "stability/var_d_loss" in metrics and "stability/var_g_loss" in metrics
    # The same numbers reach the CSV logger: one evaluation, one row, every value the logged one.
    rows = [r for r in csv.DictReader((out / "csv" / "metrics.csv").open()) if r.get("val/fid")]
    assert len(rows) == 1
    for key in IMAGE_METRICS:
        assert float(rows[0][key]) == metrics[key], key


@pytest.mark.slow
def test_dcgan_best_checkpoint_follows_fid_and_interval_is_respected(make_cfg, classifier_weights):
    _, metrics, out = run(make_cfg, classifier_weights, "model=dcgan", "trainer.max_epochs=4", "trainer.limit_train_batches=1",
                          "callbacks.evaluation.every_n_epochs=3")
    history = json.loads((out / "eval.json").read_text())["history"]
    assert [h["epoch"] for h in history] == [0, 2, 3]  # first, every 3rd, last
    assert "stability/fid_spread" in history[-1] and history[-1]["stability/fid_spread"] >= 0
    assert list((out / "checkpoints").glob("best-*.ckpt")), "ModelCheckpoint(monitor=val/fid) saved no best checkpoint"


class StopAfter(pl.Callback):
    """Stops the run inside its first epoch after `batches` batches, as trainer.max_time does."""

    def __init__(self, batches: int) -> None:
        self.batches = batches

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if batch_idx + 1 >= self.batches:
            trainer.should_stop = True


@pytest.mark.parametrize(
    ("min_epochs", "measured_batches"),
    [
        (0, [2, 5]),  # the stop is honoured at batch 5: measured there, once
        (1, [2, 8]),  # min_epochs keeps it training: not at the validations of batches 4 and 6, at the epoch's end
    ],
)
def test_a_run_is_measured_first_and_on_the_weights_it_ends_with(make_cfg, classifier_weights, min_epochs, measured_batches):
    # One epoch of 8 batches that validates every 2 and is asked to stop after 5 (as trainer.max_time does).
    _, metrics, out = run(make_cfg, classifier_weights, "model=dcgan", "trainer.limit_train_batches=8", "+trainer.val_check_interval=2",
                          f"trainer.min_epochs={min_epochs}", f"+callbacks.stop_after._target_={__name__}.StopAfter",
                          "+callbacks.stop_after.batches=5")
    history = json.loads((out / "eval.json").read_text())["history"]
    steps_per_batch = history[0]["step"] / 2  # global_step counts optimizer steps
    assert [h["step"] / steps_per_batch for h in history] == measured_batches, history
    assert metrics["val/fid"] == pytest.approx(history[-1]["val/fid"], rel=1e-6)


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


def test_conditional_run_reports_cas_at_the_end_with_its_interval(make_cfg, classifier_weights):
    """CAS follows the model's capability (is_conditional): a fresh classifier trained on the
    run's labelled samples, tested on the labelled reference split, logged once at the end."""
    _, metrics, out = run(make_cfg, classifier_weights, "model=cgan", "callbacks.evaluation.cas=true",
                          "trainer.max_epochs=2", "trainer.limit_train_batches=1")
    record = json.loads((out / "eval.json").read_text())
    cas = record["cas"]
    assert cas["protocol"]["train_generated"] == 200 and cas["total"] == 10000 and len(cas["per_class"]) == 10
    assert cas["ci95"][0] <= cas["accuracy"] <= cas["ci95"][1] and 0 <= cas["accuracy"] <= 1
    assert metrics["val/cas"] == pytest.approx(cas["accuracy"])
    assert (metrics["val/cas_low"], metrics["val/cas_high"]) == pytest.approx(tuple(cas["ci95"]))
    # Only at the end: the first epoch's evaluation has no CAS.
    assert [("val/cas" in h) for h in record["history"]] == [False, True]


def test_eval_json_keeps_human_ratings_across_evaluations(tmp_path):
    """rate.py score=... writes `human_rating` into the run's eval.json; a retrained or resumed
    run rewrites eval.json at each evaluation and must keep it."""
    from genstyle.callbacks.eval_report import EvalReport

    path = tmp_path / "eval.json"
    rating = {"comparisons": [{"a": "run A", "b": "run B", "wins": 7, "losses": 3}], "votes_files": ["votes.json"]}
    path.write_text(json.dumps({"metrics": {"val/fid": 99.0}, "human_rating": rating}))
    trainer = SimpleNamespace(global_step=5)
    report = EvalReport(tmp_path, grid_samples=4)
    report.write(trainer, 0, {"val/fid": 12.5}, 1.0)
    first = json.loads(path.read_text())
    assert first["human_rating"] == rating and first["metrics"] == {"val/fid": 12.5}
    EvalReport(tmp_path, grid_samples=4).write(trainer, 1, {"val/fid": 10.0}, 1.0)  # a fresh writer: a new process
    assert json.loads(path.read_text())["human_rating"] == rating
    path.unlink()
    report.write(trainer, 2, {"val/fid": 9.0}, 1.0)
    assert "human_rating" not in json.loads(path.read_text())


def test_retraining_into_the_run_folder_keeps_its_human_rating(make_cfg, classifier_weights):
    _, first, out = run(make_cfg, classifier_weights, "model=vae", "callbacks.evaluation.cas=true")
    record = json.loads((out / "eval.json").read_text())
    assert "val/cas" not in first and "cas" not in record  # CAS follows is_conditional: not for a plain VAE
    record["human_rating"] = {"comparisons": [{"a": "A", "b": "B", "wins": 3, "losses": 1}]}
    (out / "eval.json").write_text(json.dumps(record))
    _, metrics, again = run(make_cfg, classifier_weights, "model=vae", "trainer.max_epochs=2", "trainer.limit_train_batches=1")
    rewritten = json.loads((again / "eval.json").read_text())
    assert again == out and rewritten["epoch"] == 1 and rewritten["metrics"]["val/fid"] == pytest.approx(metrics["val/fid"])
    assert rewritten["human_rating"] == record["human_rating"]


def test_a_second_network_measures_the_same_samples_again(make_cfg, classifier_weights):
    _, metrics, out = run(make_cfg, classifier_weights, "model=dcgan", "callbacks.evaluation.second_network=fmnist-independent")
    for key in ("fid", "kid_mean", "precision", "recall"):
        assert f"val/fmnist-independent/{key}" in metrics, key
    # Two feature spaces, two numbers: a copy of the first network's FID would be equal.
    assert metrics["val/fmnist-independent/fid"] > 0 and metrics["val/fmnist-independent/fid"] != metrics["val/fid"]
    rows = [r for r in csv.DictReader((out / "csv" / "metrics.csv").open()) if r.get("val/fid")]
    assert float(rows[0]["val/fmnist-independent/fid"]) == metrics["val/fmnist-independent/fid"]
    record = json.loads((out / "eval.json").read_text())
    assert record["second_network"]["extractor"] == "fmnist-independent" and record["protocol"]["extractor"] == "fmnist-classifier"


def test_a_second_network_equal_to_the_first_is_refused(make_cfg, classifier_weights):
    from genstyle.errors import GenstyleError

    with pytest.raises(GenstyleError, match="already uses"):
        run(make_cfg, classifier_weights, "model=dcgan", "callbacks.evaluation.second_network=fmnist-classifier")
