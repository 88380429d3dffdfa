"""Faults during training: each gives a clear message, the last good checkpoint stays valid, and
W&B problems never stop a run. Real (tiny) training runs, with the fault injected."""

from __future__ import annotations

import errno
import math
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from genstyle.checkpoints import AtomicCheckpointIO, read_checkpoint
from genstyle.cli.train import train
from genstyle.errors import GenstyleError
from genstyle.models.components.losses import AdversarialLoss
from genstyle.models.vae import VAE
from tests.helpers.runs import cheap_cfg

MID_EPOCH = "callbacks.mid_epoch_checkpoint.every_n_train_steps=1"


def all_finite(path: Path) -> bool:
    return all(torch.isfinite(t).all() for t in read_checkpoint(path)["state_dict"].values() if t.is_floating_point())


def test_nan_loss_stops_vae_before_a_bad_checkpoint(tmp_path, fmnist_root, monkeypatch):
    forward = VAE.forward_loss

    def poisoned(self, batch):
        out = forward(self, batch)
        if self.training and self.global_step >= 2:
            out["recon"] = out["recon"] * math.nan
        return out

    monkeypatch.setattr(VAE, "forward_loss", poisoned)
    cfg = cheap_cfg(tmp_path / "run", fmnist_root, "model=vae", MID_EPOCH)
    with pytest.raises(GenstyleError, match=r"diverged at epoch 1, batch 2 .*train/loss.*=nan") as err:
        train(cfg)
    last = tmp_path / "run" / "checkpoints" / "last.ckpt"
    assert str(last) in str(err.value) and "ckpt_path=last" in str(err.value)
    assert read_checkpoint(last)["global_step"] == 2 and all_finite(last)


def test_inf_loss_stops_gan(tmp_path, fmnist_root, monkeypatch):
    d_loss = AdversarialLoss.d_loss
    monkeypatch.setattr(AdversarialLoss, "d_loss", lambda self, r, f: d_loss(self, r, f) + math.inf)
    with pytest.raises(GenstyleError, match=r"diverged.*train/d_loss.*=inf.*no checkpoint had been written"):
        train(cheap_cfg(tmp_path / "run", fmnist_root, "model=dcgan"))


def test_out_of_memory_names_batch_size_and_last_checkpoint(tmp_path, fmnist_root, monkeypatch):
    step = VAE.training_step

    def oom(self, batch, batch_idx):
        if self.global_step >= 1:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return step(self, batch, batch_idx)

    monkeypatch.setattr(VAE, "training_step", oom)
    with pytest.raises(GenstyleError, match=r"Out of memory.*data.batch_size=32.*last good checkpoint is .*last.ckpt"):
        train(cheap_cfg(tmp_path / "run", fmnist_root, "model=vae", MID_EPOCH))
    assert read_checkpoint(tmp_path / "run" / "checkpoints" / "last.ckpt")["global_step"] == 1


def test_full_disk_while_checkpointing_keeps_previous_checkpoint(tmp_path, fmnist_root, monkeypatch):
    import genstyle.checkpoints as checkpoint_io

    real_save, calls = torch.save, []

    def save_until_disk_full(obj, fh, *args, **kwargs):
        calls.append(1)
        if len(calls) >= 3:
            fh.write(b"partial bytes")  # the disk fills up in the middle of the write
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(obj, fh, *args, **kwargs)

    monkeypatch.setattr(checkpoint_io.torch, "save", save_until_disk_full)
    with pytest.raises(GenstyleError, match=r"Could not write checkpoint .*last.ckpt: No space left on device.*previous last.ckpt is intact"):
        train(cheap_cfg(tmp_path / "run", fmnist_root, "model=vae", MID_EPOCH))
    folder = tmp_path / "run" / "checkpoints"
    assert read_checkpoint(folder / "last.ckpt")["global_step"] == 2  # the one before the failed write
    assert not [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_interrupted_checkpoint_write_never_replaces_the_target(tmp_path, monkeypatch):
    import genstyle.checkpoints as checkpoint_io

    target = tmp_path / "last.ckpt"
    AtomicCheckpointIO().save_checkpoint({"state": torch.ones(3)}, target)
    before = target.read_bytes()

    def killed_mid_write(obj, fh, *args, **kwargs):
        fh.write(b"half a checkpoint")
        raise KeyboardInterrupt  # stands for the process dying inside torch.save

    monkeypatch.setattr(checkpoint_io.torch, "save", killed_mid_write)
    with pytest.raises(KeyboardInterrupt):
        AtomicCheckpointIO().save_checkpoint({"state": torch.zeros(3)}, target)
    assert target.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["last.ckpt"]


def test_full_disk_while_saving_samples(tmp_path, fmnist_root, monkeypatch):
    from PIL import Image

    def disk_full(self, fp, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(fp))

    monkeypatch.setattr(Image.Image, "save", disk_full)
    with pytest.raises(GenstyleError, match=r"Could not write .*No space left on device.*Free disk space"):
        train(cheap_cfg(tmp_path / "run", fmnist_root, "model=vae"))
    assert not list((tmp_path / "run").rglob("*.png"))


def wandb_cfg(tmp_path: Path, fmnist_root: Path):
    cfg = cheap_cfg(tmp_path / "run", fmnist_root, "model=vae", "logger=wandb", "test=false")
    return cfg


def test_wandb_failing_at_start_falls_back_to_csv(tmp_path, fmnist_root, monkeypatch, capsys):
    import wandb

    def no_network(*args, **kwargs):
        raise wandb.errors.CommError("Network error (ConnectionError), entering retry loop")

    monkeypatch.setattr(wandb, "init", no_network)
    metrics = train(wandb_cfg(tmp_path, fmnist_root))
    err = capsys.readouterr().err
    assert "W&B failed while starting the run (CommError" in err and "Training continues" in err
    fallback = tmp_path / "run" / "wandb_fallback" / "metrics.csv"
    assert "train/loss_epoch" in fallback.read_text() and math.isfinite(metrics["train/loss_epoch"])
    assert (tmp_path / "run" / "checkpoints" / "last.ckpt").is_file()


def test_wandb_failing_mid_run_keeps_training(tmp_path, fmnist_root, monkeypatch, capsys):
    from pytorch_lightning.loggers import WandbLogger

    calls = []

    def flaky(self, metrics, step=None):
        calls.append(step)
        if len(calls) >= 2:
            raise ConnectionResetError("connection reset by peer")

    import wandb
    from lightning_fabric.loggers.logger import _DummyExperiment

    def started(**kwargs):  # a run that starts fine ...
        run = _DummyExperiment()
        run.config = SimpleNamespace(update=lambda *a, **k: None)
        return run

    monkeypatch.setattr(wandb, "init", started)
    monkeypatch.setattr(WandbLogger, "log_metrics", flaky)  # ... and then loses its connection
    train(wandb_cfg(tmp_path, fmnist_root))
    assert "W&B failed while logging metrics (ConnectionResetError" in capsys.readouterr().err
    rows = (tmp_path / "run" / "wandb_fallback" / "metrics.csv").read_text().splitlines()
    assert len(rows) >= 3  # header + the steps after the failure
    assert (tmp_path / "run" / "wandb_run_id").read_text().strip()


def test_wandb_run_id_is_kept_for_resume(tmp_path, monkeypatch):
    import wandb

    from genstyle.loggers import ResilientWandbLogger

    created = []
    monkeypatch.setattr(wandb, "init", lambda **kwargs: created.append(kwargs) or SimpleNamespace(config=SimpleNamespace(update=lambda *a, **k: None)))
    first = ResilientWandbLogger(save_dir=str(tmp_path), offline=True, project="genstyle")
    first.log_hyperparams({"lr": 0.1})
    # nothing exists until the first number is logged: a start that fails leaves no W&B run and no id file
    assert created == [] and list(tmp_path.iterdir()) == []
    assert first.experiment is not None
    assert [c["id"] for c in created] == [first._wandb_init["id"]] and "anonymous" not in created[0]
    again = ResilientWandbLogger(save_dir=str(tmp_path), offline=True, project="genstyle")
    assert first._wandb_init["id"] == again._wandb_init["id"] and again._wandb_init["resume"] == "allow"
