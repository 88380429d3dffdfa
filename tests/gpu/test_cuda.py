"""Checks that need a CUDA device (skipped without one); benchmarks/gpu_check.sh runs them:
a DCGAN step with data on the device never synchronises with the host, bf16 + compile trains,
the data sits on the GPU under `auto`, and KID/precision/recall on the GPU equal the CPU path."""

from __future__ import annotations

import warnings

import hydra
import pytest
import pytorch_lightning as pl
import torch

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]
# Only what these tests need: no evaluation callback (no PIL or torch-fidelity work), last checkpoint only.
NO_EVAL = ("++callbacks.evaluation=null", "model.monitor=null")
GPU = ["trainer.accelerator=gpu", "trainer.devices=1", "data.train_subset=4096"]


class SyncDebug(pl.Callback):
    """`torch.cuda.set_sync_debug_mode("warn")` from batch `first` to the end of the epoch."""

    def __init__(self, first: int = 2) -> None:
        self.first = first

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if batch_idx == self.first:
            torch.cuda.synchronize()
            torch.cuda.set_sync_debug_mode("warn")

    def on_train_epoch_end(self, trainer, pl_module):
        torch.cuda.set_sync_debug_mode("default")


def fit(cfg, callbacks=(), steps: int = 8, precision: str = "bf16-mixed"):
    pl.seed_everything(0)
    trainer = pl.Trainer(
        accelerator="gpu", devices=1, precision=precision, max_epochs=1, limit_train_batches=steps, limit_val_batches=0,
        logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
        num_sanity_val_steps=0, log_every_n_steps=1000, callbacks=list(callbacks),
    )
    model = hydra.utils.instantiate(cfg.model)
    trainer.fit(model, datamodule=hydra.utils.instantiate(cfg.data))
    return trainer, model


@pytest.mark.parametrize("family", ["dcgan", "vae"])
def test_steps_with_data_on_the_gpu_never_sync(make_cfg, family):
    cfg = make_cfg(f"model={family}", *NO_EVAL, *GPU, "data.batch_size=64", "data.on_device=auto")
    per_step = [hydra.utils.instantiate(cfg.callbacks[name]) for name in ("non_finite_loss_guard", "stability")]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer, model = fit(cfg, [*per_step, SyncDebug()])
    # torch's one-time notice that the debug mode itself is a prototype names no synchronising call
    syncs = [f"{w.filename}:{w.lineno}: {w.message}" for w in caught
             if "synchroniz" in str(w.message).lower() and "prototype feature" not in str(w.message)]
    assert trainer.global_step >= 8
    assert syncs == [], "\n".join(syncs[:20])


def test_data_module_puts_fashion_mnist_on_the_gpu(make_cfg):
    cfg = make_cfg("model=dcgan", *NO_EVAL, *GPU, "data.on_device=auto")
    captured = {}

    class Peek(pl.Callback):
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            captured.setdefault("device", batch["image"].device)

    fit(cfg, [Peek()], steps=2)
    assert captured["device"].type == "cuda"


def test_bf16_and_compile_train_the_dcgan(make_cfg):
    cfg = make_cfg("model=dcgan", *NO_EVAL, *GPU, "model.compile=true", "data.batch_size=256")
    trainer, model = fit(cfg, steps=6)
    assert model.generator._compiled_call_impl is not None
    losses = {k: v for k, v in trainer.callback_metrics.items() if k.startswith("train/") and "loss" in k}
    assert losses and all(torch.isfinite(v) for v in losses.values())


def test_kid_and_precision_recall_on_the_gpu_equal_the_cpu_path():
    from genstyle.metrics.fidelity import FidelitySettings, kid, precision_recall

    g = torch.Generator().manual_seed(0)
    fake, real = torch.randn(2000, 64, generator=g) + 0.2, torch.randn(2500, 64, generator=g)
    settings = FidelitySettings(kid_subsets=20, kid_subset_size=1000)
    cpu_kid, gpu_kid = kid(fake, real, settings), kid(fake.cuda(), real, settings)
    assert abs(gpu_kid["kid_mean"] - cpu_kid["kid_mean"]) <= 1e-6 * abs(cpu_kid["kid_mean"])
    cpu_pr, gpu_pr = precision_recall(fake, real, settings), precision_recall(fake.cuda(), real, settings)
    # distances on another device may differ in the last bit: at most a tie or two may flip
    assert abs(gpu_pr["precision"] - cpu_pr["precision"]) <= 2 / len(fake)
    assert abs(gpu_pr["recall"] - cpu_pr["recall"]) <= 2 / len(real)
