"""The classifier moved from `genstyle.metrics.classifier` to `genstyle.classifier.fashion_classifier`.
Checkpoints written before name the old `_target_` in their stored model config (the AdaIN model's
frozen encoder); they still load, built from the new home, and nothing is left at the old path."""

from __future__ import annotations

import importlib
from pathlib import Path

import hydra
import pytest
import torch
from omegaconf import OmegaConf

from genstyle.checkpoints import current_targets, load_model
from genstyle.classifier.fashion_classifier import FashionClassifier
from genstyle.models.base import CHECKPOINT_FORMAT_VERSION, CHECKPOINT_KEY

OLD = "genstyle.metrics.classifier.load_classifier"
NEW = "genstyle.classifier.fashion_classifier.load_classifier"
CONF = Path(__file__).resolve().parents[2] / "conf" / "model"
# The AdaIN model's config, under its current name or the one it had when the classifier moved.
MODEL = "model=adain" if (CONF / "adain.yaml").is_file() else "model=style_swap"


def test_the_old_module_path_is_gone():
    with pytest.raises(ModuleNotFoundError):  # one home: old configs load through the renaming below
        importlib.import_module("genstyle.metrics.classifier")


def test_moved_targets_are_renamed_at_any_depth_and_nothing_else_changes():
    stored = {
        "model": {"_target_": "genstyle.models.x.X", "encoder": {"_target_": OLD}, "lr": 1.0, "note": OLD,
                  "nets": [{"_target_": OLD}, "genstyle.metrics.classifier.load_classifier"]},
        "seed": 3,
    }
    renamed = current_targets(stored)
    assert renamed["model"]["encoder"]["_target_"] == NEW
    assert renamed["model"]["nets"][0]["_target_"] == NEW
    assert renamed["model"]["nets"][1] == OLD  # only `_target_` values are names of callables
    assert renamed["model"]["note"] == OLD
    assert renamed["model"]["_target_"] == "genstyle.models.x.X" and renamed["model"]["lr"] == 1.0
    assert renamed["seed"] == 3
    assert stored["model"]["encoder"]["_target_"] == OLD  # the input is not modified


def test_checkpoint_naming_the_old_classifier_home_loads(make_cfg, tmp_path):
    cfg = make_cfg(MODEL, "callbacks.evaluation=null")
    assert cfg.model.encoder._target_ == NEW  # the shipped config names the new home
    torch.manual_seed(0)
    model = hydra.utils.instantiate(cfg.model)
    config = OmegaConf.to_container(cfg, resolve=True)
    config["model"]["encoder"]["_target_"] = OLD  # as a checkpoint written before the move stores it
    path = tmp_path / "old.ckpt"
    torch.save({
        "state_dict": model.state_dict(),
        CHECKPOINT_KEY: {"format_version": CHECKPOINT_FORMAT_VERSION, "family": model.family,
                         "class": f"{type(model).__module__}.{type(model).__qualname__}", "config": config},
    }, path)

    loaded, checkpoint = load_model(path)
    assert isinstance(loaded.encoder, FashionClassifier)
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    assert checkpoint[CHECKPOINT_KEY]["config"]["model"]["encoder"]["_target_"] == NEW
    assert loaded.run_config["model"]["encoder"]["_target_"] == NEW  # what it saves again names the new home
