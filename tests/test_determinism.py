"""The same config and seed give the same metrics and weights twice on CPU; no secret from the
environment ends up in the run directory."""

from __future__ import annotations

import json

import torch

from genstyle.cli.train import train
from tests.helpers.runs import cheap_cfg

SECRET = "wandb-api-key-0123456789abcdef0123456789abcdef"


def run(tmp_path, fmnist_root, name: str, *overrides: str) -> tuple[dict, dict]:
    cfg = cheap_cfg(tmp_path / name, fmnist_root, "model=dcgan", "trainer.deterministic=true", *overrides)
    train(cfg)
    metrics = json.loads((tmp_path / name / "metrics.json").read_text())
    weights = torch.load(tmp_path / name / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    return metrics, weights


def test_same_seed_same_metrics_and_weights(tmp_path, fmnist_root, monkeypatch):
    monkeypatch.setenv("WANDB_API_KEY", SECRET)
    metrics_a, weights_a = run(tmp_path, fmnist_root, "a")
    metrics_b, weights_b = run(tmp_path, fmnist_root, "b")
    metrics_c, _ = run(tmp_path, fmnist_root, "c", "seed=1")
    assert metrics_a == metrics_b and "train/d_loss_epoch" in metrics_a
    assert all(torch.equal(weights_a[k], weights_b[k]) for k in weights_a)
    assert metrics_c["train/d_loss_epoch"] != metrics_a["train/d_loss_epoch"]  # the seed matters
    for path in (tmp_path / "a").rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
