"""The training-time evaluation scores a model whose losses use a frozen network (adain: the
shipped classifier) in the independent network, refuses its own loss network unless asked, and
flags the numbers when asked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from genstyle.cli.train import train
from genstyle.errors import GenstyleError

ADAIN = ["model=adain", "trainer.limit_train_batches=1"]


def test_adain_is_evaluated_in_the_independent_network(make_cfg, one_thread):
    cfg = make_cfg(*ADAIN)
    train(cfg)
    report = json.loads((Path(cfg.paths.output_dir) / "eval.json").read_text())
    assert report["protocol"]["extractor"] == "fmnist-independent" and "own_features" not in report


def test_adain_in_its_encoders_features_is_refused_before_training(make_cfg):
    with pytest.raises(GenstyleError, match=r"model=adain.*own loss.*metrics.allow_own_features=true"):
        train(make_cfg(*ADAIN, "metrics.judge_extractor=fmnist-classifier"))


def test_adain_in_its_encoders_features_when_allowed_is_flagged(make_cfg, one_thread):
    cfg = make_cfg(*ADAIN, "metrics.judge_extractor=fmnist-classifier", "metrics.allow_own_features=true")
    train(cfg)
    report = json.loads((Path(cfg.paths.output_dir) / "eval.json").read_text())
    assert report["protocol"]["extractor"] == "fmnist-classifier"
    assert report["own_features"]["network"] == "fmnist-classifier"
