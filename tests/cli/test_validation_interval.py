"""A recipe's val_check_interval (batches) longer than an epoch shortened on the command line
(`trainer.limit_train_batches=20`) is lowered to the epoch, with a note, instead of Lightning's error."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from genstyle.cli.train import fit_validation_interval


class Data:
    def __init__(self, batches: int) -> None:
        self.batches, self.stages = batches, []

    def setup(self, stage):
        self.stages.append(stage)

    def train_dataloader(self):
        return range(self.batches)


def trainer(interval, limit=1.0, every_n_epoch=1, limit_val=1.0):
    return SimpleNamespace(val_check_interval=interval, limit_train_batches=limit, check_val_every_n_epoch=every_n_epoch,
                           limit_val_batches=limit_val)


@pytest.mark.parametrize(("interval", "limit", "batches", "expected"), [
    (200, 20, 3718, 20),     # the README recipe shortened: once per epoch of 20 batches
    (200, 1.0, 50, 50),      # a small data.train_subset
    (200, 0.5, 100, 50),     # a fraction of the batches
    (200, 1.0, 3718, 200),   # the recipe as written: unchanged
    (1.0, 20, 3718, 1.0),    # a fraction of an epoch: Lightning scales it itself
])
def test_interval_fits_the_epoch(interval, limit, batches, expected, caplog):
    t = trainer(interval, limit)
    with caplog.at_level("WARNING", logger="genstyle.train"):
        fit_validation_interval(t, Data(batches))
    assert t.val_check_interval == expected
    assert ("validating at the end of each epoch instead" in caplog.text) == (expected != interval)


def test_interval_counted_across_epochs_is_left_alone():
    t = trainer(200, 20, every_n_epoch=None)  # check_val_every_n_epoch=null: Lightning counts all batches
    data = Data(3718)
    fit_validation_interval(t, data)
    assert t.val_check_interval == 200 and data.stages == []


def test_several_devices_need_the_ddp_settings():
    from omegaconf import OmegaConf

    from genstyle.cli.train import check_several_devices
    from genstyle.errors import GenstyleError

    for devices in (1, "auto", None, [0]):
        check_several_devices(OmegaConf.create({"devices": devices}))
    check_several_devices(OmegaConf.create({"devices": 2, "use_distributed_sampler": False}))  # trainer=ddp_cpu
    for devices in (3, -1, [0, 1]):
        with pytest.raises(GenstyleError, match=r"trainer\.devices=.*needs the DDP settings: trainer=ddp_cpu"):
            check_several_devices(OmegaConf.create({"devices": devices}))


def test_progress_bar_off_alone(make_cfg):
    """trainer.enable_progress_bar=false without also removing callbacks.rich_progress_bar."""
    import pytorch_lightning as pl

    from genstyle.cli.train import build

    cfg = make_cfg("+callbacks.rich_progress_bar._target_=genstyle.callbacks.progress_bar.ProgressBar", "~callbacks.evaluation")
    assert cfg.callbacks.rich_progress_bar is not None and cfg.trainer.enable_progress_bar is False
    _, _, trainer = build(cfg)
    assert not any(isinstance(c, pl.callbacks.ProgressBar) for c in trainer.callbacks)
