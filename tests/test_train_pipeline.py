"""Training runs end to end on real Fashion-MNIST for every model x data pair."""

from __future__ import annotations

import json

import pytest
import torch

from genstyle.cli.train import train

MODELS = ["vae", "dcgan"]


@pytest.mark.parametrize("model", MODELS)
def test_one_epoch_leaves_complete_run_directory(make_cfg, model):
    cfg = make_cfg(f"model={model}")
    metrics = train(cfg)
    run = cfg.paths.output_dir
    from pathlib import Path

    run = Path(run)
    assert (run / "checkpoints" / "last.ckpt").is_file()
    # the first epoch's files count it as 1, as the progress bar does
    assert (run / "samples" / "epoch_001.png").is_file() and not (run / "samples" / "epoch_000.png").exists()
    assert (run / "checkpoints" / "best-epoch001.ckpt").is_file()
    assert (run / "eval_samples" / "epoch_001.png").is_file()
    recorded = json.loads((run / "metrics.json").read_text())
    key = "train/loss_epoch" if model == "vae" else "train/d_loss_epoch"
    assert key in recorded and recorded[key] == pytest.approx(metrics[key])
    assert all(torch.isfinite(torch.tensor(v)) for v in recorded.values())


def test_vae_reports_test_elbo_in_nats_per_image(make_cfg):
    metrics = train(make_cfg("model=vae"))
    # ELBO is a log-likelihood bound: negative, and for 784 pixels an untrained model sits near -543.
    assert -800 < metrics["test/elbo"] < 0
    assert metrics["test/loss"] == pytest.approx(-metrics["test/elbo"])
