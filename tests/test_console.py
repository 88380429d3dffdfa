"""What a default run prints: a one-line summary of the run, one line per evaluation with the
headline numbers, and a results block with the same numbers; none of the third-party notices
that tell a user nothing (Lightning's litlogger tip and pytree deprecation, the logging-interval
warning, W&B's anonymous warning and history/summary footer, torchmetrics' FutureWarning), and no
posterior-collapse alarm during the KL warm-up."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

from genstyle.callbacks.headline import format_value
from tests.conftest import ROOT

NOISE = ("litlogger", "💡 Tip", "LeafSpec", "log_every_n_steps", "anonymous", "Run history", "Run summary",
         "FutureWarning", "Posterior collapse", "Traceback")


def test_default_run_prints_headline_metrics_and_no_third_party_noise(tmp_path, fmnist_root):
    run_dir = tmp_path / "run"
    env = {k: v for k, v in os.environ.items() if k not in ("WANDB_SILENT", "HYDRA_FULL_ERROR")}  # W&B speaks as for a user
    env.update(PYTHONPATH=str(ROOT / "src"), OMP_NUM_THREADS="1", WANDB_MODE="offline")
    result = subprocess.run([
        sys.executable, str(ROOT / "train.py"), f"data.root={fmnist_root}", "data.train_subset=256", "data.val_size=64", "data.batch_size=32",
        "data.download=false", "trainer.max_epochs=2", "trainer.limit_train_batches=3", "trainer.limit_val_batches=1",
        "trainer.limit_test_batches=1", "trainer.accelerator=cpu", "model.kl_warmup_steps=1000",
        "callbacks.evaluation.num_samples=200", "callbacks.evaluation.latent_samples=64", "metrics.min_samples=2",
        "metrics.num_real=500", "metrics.kid_subsets=10", f"hydra.run.dir={run_dir}",
    ], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    console = result.stdout + result.stderr
    assert re.search(r"^Training VAE \([\d.]+ M parameters\): 2 epochs of 3 batches", result.stdout, re.M)
    lines = re.findall(r"^epoch (\d)/2 \(step (\d+)\): val/fid ([-\d.]+)  val/elbo ([-\d.]+)$", result.stdout, re.M)
    assert [(e, s) for e, s, *_ in lines] == [("1", "3"), ("2", "6")], result.stdout
    final = json.loads((run_dir / "metrics.json").read_text())
    final = final.get("metrics", final)
    assert lines[-1][2:] == (format_value(final["val/fid"]), format_value(final["val/elbo"]))
    block = result.stdout.split("\nResults: ", 1)[1]
    assert re.search(rf"^  val/fid +{re.escape(format_value(final['val/fid']))}$", block, re.M), block
    assert re.search(rf"^  val/elbo +{re.escape(format_value(final['val/elbo']))}$", block, re.M), block
    assert re.search(r"^  test/elbo +-[\d.]+$", block, re.M), block
    assert re.search(r"^  W&B: +wandb sync .*/wandb/offline-run-", block, re.M), block
    assert "Test metric" not in console  # Lightning's test table: the numbers are in the results block
    for noise in NOISE:
        assert noise not in console, f"{noise!r} printed:\n{console[-4000:]}"


def test_munit_import_gives_no_torchmetrics_future_warning():
    result = subprocess.run([sys.executable, "-W", "error::FutureWarning", "-c", "import genstyle.models.munit"],
                            capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT / "src")}, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
