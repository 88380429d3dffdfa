"""Exact resume: a run SIGKILLed in the middle of an epoch and resumed with ckpt_path=last ends
with the same weights, optimiser state and logged metrics, bit for bit, as the run never
interrupted (CPU, trainer.deterministic=true)."""

from __future__ import annotations

import os
import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
from omegaconf import open_dict

from genstyle.checkpoints import read_checkpoint
from tests.conftest import ROOT, run_cli

BATCHES_PER_EPOCH = 8  # 128 images / batch 16


def tiny_run(fmnist_root: Path, run_dir: Path, model: str, *extra: str) -> list[str]:
    return [
        f"model={model}", f"data.root={fmnist_root}", "data.train_subset=128", "data.val_size=64",
        "data.batch_size=16", "data.download=false", "trainer.max_epochs=2", "trainer.limit_val_batches=1",
        "trainer.num_sanity_val_steps=0", "trainer.accelerator=cpu", "trainer.log_every_n_steps=1",
        "trainer.enable_progress_bar=false", "trainer.deterministic=true", "test=false", "logger=csv",
        "~callbacks.rich_progress_bar", "~callbacks.evaluation", "callbacks.sample_grid.num_samples=16",
        "callbacks.mid_epoch_checkpoint.every_n_train_steps=1", f"hydra.run.dir={run_dir}", *extra,
    ]


def same_tensors(a: dict, b: dict) -> list[str]:
    """Where two checkpoint sections differ: tensors that differ (nested dicts and lists of
    optimiser states included), keys found on one side only (an extra EMA entry, an optimiser
    state left empty) and lists of unequal length. Compared both ways."""
    return _differences(a, b, "")


def _differences(x, y, path: str) -> list[str]:
    if isinstance(x, dict) and isinstance(y, dict):
        out = [f"{path}{'.' if path else ''}{k} (only in {'first' if k in x else 'second'})" for k in sorted(set(x) ^ set(y), key=str)]
        for k in [k for k in x if k in y]:
            out += _differences(x[k], y[k], f"{path}{'.' if path else ''}{k}")
        return out
    if isinstance(x, list | tuple) and isinstance(y, list | tuple) and type(x) is type(y):
        out = [f"{path}[{i}] (only in {'first' if len(x) > i else 'second'})" for i in range(min(len(x), len(y)), max(len(x), len(y)))]
        for i, (u, v) in enumerate(zip(x, y, strict=False)):
            out += _differences(u, v, f"{path}[{i}]")
        return out
    if isinstance(x, torch.Tensor) or isinstance(y, torch.Tensor):
        same = isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor) and x.dtype == y.dtype and torch.equal(x, y)
        return [] if same else [path]
    return [] if type(x) is type(y) and x == y else [path]


def test_same_tensors_sees_differences_on_either_side():
    w, v = torch.ones(3), torch.zeros(2)
    assert same_tensors({"w": w, "opt": [{"state": {0: {"exp_avg": v}}, "lr": 0.1}]},
                        {"w": w.clone(), "opt": [{"state": {0: {"exp_avg": v.clone()}}, "lr": 0.1}]}) == []
    assert same_tensors({"w": w}, {"w": w, "ema.w": w}) == ["ema.w (only in second)"]  # an extra entry
    assert same_tensors({"w": w, "ema.w": w}, {"w": w}) == ["ema.w (only in first)"]
    empty, full = {"opt": [{"state": {}}]}, {"opt": [{"state": {0: {"exp_avg": v}}}]}  # an optimiser state left empty
    assert same_tensors(empty, full) == ["opt[0].state.0 (only in second)"] and same_tensors(full, empty) != []
    assert same_tensors({"opt": [{}]}, {"opt": [{}, {}]}) == ["opt[1] (only in second)"]  # a lost optimiser
    assert same_tensors({"w": w}, {"w": w.double()}) == ["w"] and same_tensors({"w": None}, {"w": w}) == ["w"]
    assert same_tensors({"lr": 0.1}, {"lr": 0.2}) == ["lr"] and same_tensors({"n": 1}, {"n": 1.0}) == ["n"]


def assert_same_run(full: Path, resumed: Path, steps_per_batch: int) -> None:
    a, b = (torch.load(run / "checkpoints" / "last.ckpt", weights_only=True) for run in (full, resumed))
    assert a["global_step"] == b["global_step"] == 2 * BATCHES_PER_EPOCH * steps_per_batch
    assert same_tensors(a["state_dict"], b["state_dict"]) == []
    assert same_tensors({"opt": a["optimizer_states"]}, {"opt": b["optimizer_states"]}) == []
    for logged in ("metrics.json", "metrics_history.jsonl", "csv/metrics.csv"):
        assert (full / logged).read_text() == (resumed / logged).read_text(), logged
    assert sorted(os.listdir(full / "samples")) == sorted(os.listdir(resumed / "samples"))


# GANs step each optimiser: one D+G batch advances the global step by 2. The GAN variant is the
# same mechanism and doubles the time, so it runs with -m slow; test_crash_then_resume_* below
# covers the GAN in the default run (in-process, without the subprocess start-up cost).
@pytest.mark.parametrize(("model", "steps_per_batch"), [("vae", 1), pytest.param("dcgan", 2, marks=pytest.mark.slow)])
def test_sigkill_mid_epoch_then_resume_matches_uninterrupted_run(tmp_path, fmnist_root, model, steps_per_batch):
    kill_step = (BATCHES_PER_EPOCH + 3) * steps_per_batch  # epoch 1, before its 4th batch
    env = {"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    full, killed = tmp_path / "full", tmp_path / "killed"
    killer = ["+callbacks.kill._target_=tests.helpers.kill.KillAtStep", f"+callbacks.kill.global_step={kill_step}"]
    extra = ["model.monitor=null"] if model == "dcgan" else []  # its default monitor (val/fid) needs the evaluation callback
    with ThreadPoolExecutor(2) as pool:
        jobs = [pool.submit(run_cli, "train.py", *tiny_run(fmnist_root, full, model, *extra), env=env),
                pool.submit(run_cli, "train.py", *tiny_run(fmnist_root, killed, model, *extra, *killer), env=env)]
        done, dead = (job.result() for job in jobs)
    assert done.returncode == 0, done.stderr[-3000:]
    assert dead.returncode == -signal.SIGKILL, dead.stderr[-3000:]

    # The kill left a complete mid-epoch checkpoint of the batch before it, and no temp files.
    state = read_checkpoint(killed / "checkpoints" / "last.ckpt")
    assert state["global_step"] == kill_step and state["epoch"] == 1
    assert not [p for p in (killed / "checkpoints").iterdir() if p.name.endswith(".tmp")]
    rows_before = len((killed / "csv" / "metrics.csv").read_text().splitlines())

    resumed = run_cli("train.py", *tiny_run(fmnist_root, killed, model, *extra), "ckpt_path=last", env=env)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "not resumable" not in resumed.stderr  # Lightning's warning for loaders that restart the epoch
    assert_same_run(full, killed, steps_per_batch)
    assert len((killed / "csv" / "metrics.csv").read_text().splitlines()) > rows_before
    assert (killed / ".hydra" / "resumed" / "overrides.yaml").is_file()  # the original .hydra/config.yaml is kept
    assert "ckpt_path" not in (killed / ".hydra" / "overrides.yaml").read_text()


class CrashAtStep(pl.Callback):
    def __init__(self, global_step: int) -> None:
        self.global_step = global_step

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.global_step == self.global_step:
            raise RuntimeError("simulated crash")


# The recipe options add state (the EMA generator and its counters, R1's step counter) and random
# draws (DiffAugment) that a resumed run must restore too.
RECIPE = ("model.recipe.ema.decay=0.9", "model.recipe.ema.start_step=3", "model.recipe.augment=[color,translation,cutout]", "model.recipe.r1.gamma=1.0", "model.recipe.r1.every=3")


@pytest.mark.parametrize(("checkpoints", "recipe"), [("mid_epoch", ()), ("epoch_end", ()), ("mid_epoch", RECIPE)], ids=["mid_epoch", "epoch_end", "mid_epoch_ema_augment_r1"])
def test_crash_then_resume_matches_uninterrupted_gan_run(tmp_path, fmnist_root, checkpoints, recipe):
    """The same guarantee for the GAN (manual optimisation, two optimisers), in-process; also from
    an epoch-end checkpoint (mid-epoch checkpoints off: the crash loses the batches since), and
    with generator EMA, DiffAugment and lazy R1 on."""
    from genstyle.cli.train import train
    from tests.helpers.runs import cheap_cfg

    def cfg(run: Path, *extra: str):
        overrides = [o for o in tiny_run(fmnist_root, run, "dcgan", "model.monitor=null", *recipe) if not o.startswith(("hydra.", "data.root", "~callbacks."))]
        return cheap_cfg(run, fmnist_root, *overrides, "trainer.limit_train_batches=null", *extra)

    every = "1" if checkpoints == "mid_epoch" else "0"
    train(cfg(tmp_path / "full", f"callbacks.mid_epoch_checkpoint.every_n_train_steps={every}"))
    crashed = cfg(tmp_path / "crashed", f"callbacks.mid_epoch_checkpoint.every_n_train_steps={every}")
    crash_step = (BATCHES_PER_EPOCH + 5) * 2
    saved_step = crash_step if checkpoints == "mid_epoch" else BATCHES_PER_EPOCH * 2
    with open_dict(crashed):
        crashed.callbacks.crash = {"_target_": f"{__name__}.CrashAtStep", "global_step": crash_step}
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(crashed)
    assert read_checkpoint(tmp_path / "crashed" / "checkpoints" / "last.ckpt")["global_step"] == saved_step
    torch.manual_seed(12345)  # the resumed run must not depend on the RNG state it starts with
    train(cfg(tmp_path / "crashed", f"callbacks.mid_epoch_checkpoint.every_n_train_steps={every}", "ckpt_path=last"))
    assert_same_run(tmp_path / "full", tmp_path / "crashed", 2)
    if recipe:  # the EMA really was on and in the checkpoint
        state = read_checkpoint(tmp_path / "crashed" / "checkpoints" / "last.ckpt")["state_dict"]
        assert int(state["ema_updates"]) == 2 * BATCHES_PER_EPOCH and int(state["d_steps"]) == 2 * BATCHES_PER_EPOCH
