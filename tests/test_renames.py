"""Old names keep working after the rename (genstyle/renames.py): `model=style_swap` and
`model=style_swap_munit` (and their experiments) compose to the new configs and train, with a
one-line notice naming the new spelling; checkpoints written before the rename (old `_target_`s,
old families) load through `load_model` with a notice, and resume into the new classes."""

from __future__ import annotations

import math
from pathlib import Path

import hydra
import pytest
import torch
from omegaconf import OmegaConf

from genstyle import renames
from genstyle.checkpoints import check_resumable, load_model
from genstyle.cli.common import CONFIG_DIR
from genstyle.cli.train import train
from genstyle.cli.typos import check_overrides, rename_notices
from genstyle.models.base import CHECKPOINT_FORMAT_VERSION, CHECKPOINT_KEY
from tests.conftest import compose_train

OLD_TARGETS = {new: old for old, new in renames.TARGETS.items()}


@pytest.mark.parametrize(("old", "new"), sorted(renames.MODEL_CONFIGS.items()))
def test_old_model_name_composes_to_the_new_config(tmp_path, old, new):
    assert OmegaConf.to_container(compose_train([f"model={old}"], tmp_path)) == OmegaConf.to_container(compose_train([f"model={new}"], tmp_path))


@pytest.mark.parametrize(("old", "new"), sorted(renames.EXPERIMENTS.items()))
def test_old_experiment_name_composes_to_the_new_one(tmp_path, old, new):
    old_cfg, new_cfg = compose_train([f"experiment={old}"], tmp_path), compose_train([f"experiment={new}"], tmp_path)
    assert OmegaConf.to_container(old_cfg) == OmegaConf.to_container(new_cfg)


def test_the_command_line_names_the_new_spelling_once_per_old_name(capsys):
    check_overrides(["model=style_swap", "data.batch_size=4"], CONFIG_DIR, "train")
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["note: model=style_swap is now model=adain (the old name still works); use model=adain."]
    from hydra.core.override_parser.overrides_parser import OverridesParser

    sweep = OverridesParser.create().parse_overrides(["model=style_swap_munit,dcgan", "+experiment=style_swap_fashion", "model=adain"])
    notices = rename_notices(sweep)
    assert len(notices) == 2 and "model=munit" in notices[0] and "experiment=adain_fashion" in notices[1]
    check_overrides(["model=adain"], CONFIG_DIR, "train")
    assert capsys.readouterr().err == ""  # the new names print nothing


def test_an_old_model_name_still_trains(make_cfg, one_thread):
    cfg = make_cfg("model=style_swap_munit", "callbacks.evaluation=null", "trainer.max_epochs=1", "trainer.limit_train_batches=2",
                   "trainer.limit_val_batches=1", "model.reference_size=8")
    assert cfg.model._target_ == "genstyle.models.munit.MUNIT"
    metrics = train(cfg)
    assert math.isfinite(metrics["train/g_loss_epoch"])
    model, checkpoint = load_model(Path(cfg.paths.output_dir) / "checkpoints" / "last.ckpt")
    assert model.family == checkpoint[CHECKPOINT_KEY]["family"] == "munit"


def old_checkpoint(path: Path, cfg, family: str) -> tuple[Path, dict]:
    """A checkpoint as genstyle wrote it before the rename: the weights of a fresh model of `cfg`,
    with the old family and every renamed `_target_` spelt the old way."""
    torch.manual_seed(0)
    model = hydra.utils.instantiate(cfg.model)
    config = OmegaConf.to_container(cfg, resolve=True)

    def spell_old(node):
        if isinstance(node, dict):
            return {k: OLD_TARGETS.get(v, v) if k == "_target_" else spell_old(v) for k, v in node.items()}
        return [spell_old(v) for v in node] if isinstance(node, list) else node

    config = spell_old(config)
    meta = {"format_version": CHECKPOINT_FORMAT_VERSION, "family": family, "class": config["model"]["_target_"], "config": config}
    torch.save({"state_dict": model.state_dict(), CHECKPOINT_KEY: meta}, path)
    return path, model.state_dict()


@pytest.mark.parametrize(
    ("model", "old_family", "old_target", "new_class"),
    [
        ("adain", "style_swap", "genstyle.models.adain_transfer.AdaINStyleTransfer", "AdaINTransfer"),
        ("munit", "style_swap", "genstyle.models.style_swap.StyleSwap", "MUNIT"),
        ("cgan", "gan", "genstyle.models.conditional.ConditionalGAN", "ConditionalGAN"),
        ("cvae", "vae", "genstyle.models.conditional.ConditionalVAE", "ConditionalVAE"),
    ],
)
def test_a_checkpoint_written_before_the_rename_loads_with_a_notice(tmp_path, capsys, model, old_family, old_target, new_class):
    cfg = compose_train([f"model={model}", "data.root=/data"], tmp_path / "run")
    path, weights = old_checkpoint(tmp_path / "old.ckpt", cfg, old_family)
    assert torch.load(path, weights_only=True)[CHECKPOINT_KEY]["config"]["model"]["_target_"] == old_target
    loaded, checkpoint = load_model(path)
    assert type(loaded).__name__ == new_class and loaded.family == model
    for key, value in weights.items():
        assert torch.equal(loaded.state_dict()[key], value), key
    notice = capsys.readouterr().err.strip().splitlines()
    assert len(notice) == 1 and notice[0].startswith("note:") and f"model={model}" in notice[0] and old_family in notice[0]
    assert "old" not in str(checkpoint[CHECKPOINT_KEY]["config"]["model"]["_target_"])  # the run config now names the new class
    check_resumable(str(path), hydra.utils.instantiate(cfg.model))  # a resume with the new name accepts it


def test_a_family_renamed_in_place_loads_with_a_notice(tmp_path, capsys):
    # CycleGAN's class did not move; its checkpoints said family "translation".
    cfg = compose_train(["model=cyclegan", "data=fashion_unpaired", "data.root=/data"], tmp_path / "run")
    path, _ = old_checkpoint(tmp_path / "old.ckpt", cfg, "translation")
    loaded, _ = load_model(path)
    assert loaded.family == "cyclegan"
    assert "'translation'" in capsys.readouterr().err
    path, _ = old_checkpoint(tmp_path / "new.ckpt", cfg, "cyclegan")
    load_model(path)
    assert capsys.readouterr().err == ""  # a current checkpoint loads without a notice


def test_every_family_is_its_config_name(tmp_path):
    for name in sorted(p.stem for p in (Path(CONFIG_DIR) / "model").glob("*.yaml") if p.stem not in renames.MODEL_CONFIGS):
        data = ["data=fashion_unpaired"] if name == "cyclegan" else []
        cfg = compose_train([f"model={name}", "data.root=/data", *data], tmp_path / name)
        cls = hydra.utils.get_class(cfg.model._target_)
        assert cls.family == name, (name, cls)
