"""A training step reads nothing back to the host (the GPU rule, checked on the CPU).

`genstyle.host_sync.host_reads_are_free` is made to answer "no" as on a GPU, the data is served
from "the device" (`data.on_device=true`), and every way a tensor's value reaches Python
(`item`, `tolist`, `float`, `int`, `bool`, `numpy`) is counted from the second training step to
the end of the epoch, with the production callbacks that run on every step. On a real GPU,
tests/gpu/test_cuda.py checks the same with `torch.cuda.set_sync_debug_mode("error")`.
"""

from __future__ import annotations

import traceback

import hydra
import pytest
import pytorch_lightning as pl
import torch

from genstyle import host_sync
from tests.models.helpers import NO_EVAL

READS = ("item", "tolist", "__float__", "__int__", "__bool__", "__index__", "numpy")
# Where a read is not a device read: the optimiser's step counter lives on the host even on a GPU.
HOST_ONLY = ("torch/optim/",)


class ReadCounter(pl.Callback):
    """Counts tensor reads from the start of batch `first` to the end of the epoch."""

    def __init__(self, monkeypatch, first: int = 1) -> None:
        self.monkeypatch, self.first, self.reads, self.active = monkeypatch, first, [], False
        for name in READS:
            original = getattr(torch.Tensor, name)
            monkeypatch.setattr(torch.Tensor, name, self.wrap(name, original))

    def wrap(self, name, original):
        def counted(tensor, *args, **kwargs):
            if self.active:
                stack = traceback.extract_stack()[:-1]
                if not any(h in frame.filename for frame in stack[-3:] for h in HOST_ONLY):
                    self.reads.append(f"{name}: " + " <- ".join(f"{f.filename.split('site-packages/')[-1]}:{f.lineno}" for f in stack[-4:]))
            return original(tensor, *args, **kwargs)

        return counted

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if batch_idx == self.first:
            self.active = True

    def on_train_epoch_end(self, trainer, pl_module):
        self.active = False


@pytest.mark.parametrize("family", ["dcgan", "vae"])
def test_training_steps_read_nothing_back(make_cfg, monkeypatch, one_thread, family):
    cfg = make_cfg(
        f"model={family}", *NO_EVAL, "data.on_device=true", "data.batch_size=16", "trainer.limit_train_batches=4",
        "trainer.log_every_n_steps=1000",
    )
    monkeypatch.setattr(host_sync, "host_reads_are_free", lambda device: False)
    callbacks = [hydra.utils.instantiate(cfg.callbacks[name]) for name in ("non_finite_loss_guard", "stability")]
    counter = ReadCounter(monkeypatch)
    pl.seed_everything(0)
    trainer = pl.Trainer(
        accelerator="cpu", max_epochs=1, limit_train_batches=4, limit_val_batches=0, logger=False,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
        log_every_n_steps=1000, callbacks=[*callbacks, counter],
    )
    trainer.fit(hydra.utils.instantiate(cfg.model), datamodule=hydra.utils.instantiate(cfg.data))
    assert trainer.global_step >= 4  # the steps really ran (GANs count two optimiser steps each)
    assert counter.reads == [], "\n".join(counter.reads[:10])
