"""Epoch numbers in file names, captions and messages count from 1, as the progress bar and the
headline do: the first epoch writes `samples/epoch_001.png` and `best-epoch001.ckpt`."""

from __future__ import annotations

import signal
from pathlib import Path
from types import SimpleNamespace

import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf
from pytorch_lightning.callbacks import ModelCheckpoint

from genstyle.callbacks.epoch_names import EpochCheckpoint, shown_epoch
from genstyle.callbacks.sample_grid import SampleGrid
from genstyle.cli.common import CONFIG_DIR
from genstyle.cli.signals import interruption_message
from genstyle.errors import TrainingInterrupted


def configured_checkpoint(dirpath: Path) -> ModelCheckpoint:
    """conf/callbacks/model_checkpoint.yaml as train.py builds it."""
    node = OmegaConf.load(Path(CONFIG_DIR) / "callbacks" / "model_checkpoint.yaml").model_checkpoint
    node.dirpath, node.monitor, node.mode = str(dirpath), "val/loss", "min"
    return instantiate(node)


def test_best_checkpoint_of_the_first_epoch_is_best_epoch001(tmp_path):
    callback = configured_checkpoint(tmp_path)
    assert isinstance(callback, EpochCheckpoint)
    candidates = {"epoch": torch.tensor(0), "step": torch.tensor(8), "val/loss": torch.tensor(1.5)}
    assert Path(callback.format_checkpoint_name(candidates)).name == "best-epoch001.ckpt"
    assert candidates["epoch"] == 0  # Lightning's candidates are left as they were
    assert Path(callback.format_checkpoint_name({"epoch": torch.tensor(9), "step": torch.tensor(80)})).name == "best-epoch010.ckpt"
    assert Path(callback.format_checkpoint_name({}, callback.CHECKPOINT_NAME_LAST)).name == "last.ckpt"  # resume: ckpt_path=last


def test_checkpoints_of_plain_model_checkpoint_restore_the_best_model_record(tmp_path):
    """Runs from before (plain ModelCheckpoint, `best-epoch000.ckpt` for the first epoch) resume
    with their best checkpoint known: the callback state is keyed as Lightning keys it."""
    old, new = ModelCheckpoint(dirpath=tmp_path, monitor="val/loss"), EpochCheckpoint(dirpath=tmp_path, monitor="val/loss")
    assert new.state_key == old.state_key
    old.best_model_path, old.best_model_score = str(tmp_path / "best-epoch000.ckpt"), torch.tensor(2.0)
    new.load_state_dict(old.state_dict())
    assert new.best_model_path.endswith("best-epoch000.ckpt") and float(new.best_model_score) == 2.0


class Sampler:
    num_classes, is_conditional, device = None, False, torch.device("cpu")

    def sample(self, n, labels=None, generator=None):
        return torch.rand(n, 1, 4, 4, generator=generator) * 2 - 1


def test_sample_grid_file_and_caption_count_from_one(tmp_path, monkeypatch):
    captions = []
    monkeypatch.setattr("genstyle.callbacks.sample_grid.log_image", lambda *a, caption="", **k: captions.append(caption))
    grid = SampleGrid(str(tmp_path), num_samples=4)
    for epoch in (0, 1):
        grid.on_train_epoch_end(SimpleNamespace(current_epoch=epoch, max_epochs=2, global_step=8 * (epoch + 1)), Sampler())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["epoch_001.png", "epoch_002.png"]
    assert captions == ["epoch 1", "epoch 2"]


def test_interruption_message_counts_epochs_from_one(tmp_path):
    stop = TrainingInterrupted(signal.SIGTERM, tmp_path / "last.ckpt", epoch=1, step=12)  # Lightning's second epoch
    assert "SIGTERM: stopped at epoch 2, step 12;" in interruption_message(stop, tmp_path)
    assert shown_epoch(0) == 1
