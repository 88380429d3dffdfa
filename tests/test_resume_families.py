"""Every model family resumes exactly: a run interrupted in the middle of its second epoch and
resumed from the mid-epoch checkpoint ends with every weight, buffer and optimiser tensor equal
(`torch.equal`) to the run never interrupted, with the evaluation callback on.

The default run does it in-process (a callback raises in the middle of epoch 1; the global RNG is
reseeded before the resume, so nothing carries over but the checkpoint); one family is also
SIGKILLed for real in a subprocess, and the whole subprocess matrix runs with `-m slow`.

A new family is one more entry in `FAMILIES`.
"""

from __future__ import annotations

import json
import os
import signal
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
from omegaconf import DictConfig, open_dict

from genstyle.checkpoints import read_checkpoint
from tests.conftest import CHEAP, FEATURE_CACHE, ROOT, compose_train, run_cli
from tests.test_resume import same_tensors

pytestmark = pytest.mark.usefixtures("one_thread")

CRASH_EPOCH, CRASH_BATCH = 1, 2  # the interrupted run stops before this batch: mid-epoch, after one evaluation
TRAIN_IMAGES, BATCH = 64, 16  # 4 batches per epoch (per domain for the CycleGAN)


@dataclass(frozen=True)
class Family:
    """How to train one family small: its config group option and the overrides that shrink it."""

    model: str
    global_step: int  # optimiser steps in two epochs of 4 batches
    overrides: tuple[str, ...] = ()
    data: tuple[str, ...] = ()


SMALL_GAN = ("model.generator.base_channels=8", "model.discriminator.base_channels=8", "model.latent_dim=16")
SMALL_VAE = ("model.encoder.base_channels=8", "model.encoder.hidden_dim=32", "model.decoder.base_channels=8",
             "model.decoder.hidden_dim=32", "model.latent_dim=8")  # fmt: skip
FAMILIES = {
    "vae": Family("vae", 8, SMALL_VAE),
    "dcgan": Family("dcgan", 16, SMALL_GAN),
    # 3 critic steps per G step over 4 batches an epoch: the G step falls on batch_idx 2 of each
    # epoch, the batch the resumed run starts with; a cadence counted from the resume would skip
    # it (8 D steps + 1 G step) and differ in every generator tensor.
    "wgan_gp": Family("wgan_gp", 8 + 2, (*SMALL_GAN, "model.n_critic=3")),
    "cgan": Family("cgan", 16, (*SMALL_GAN, "model.generator.embed_dim=8")),
    "cvae": Family("cvae", 8, SMALL_VAE),
    "cyclegan": Family(
        "cyclegan", 16,
        ("model.generator.ngf=4", "model.generator.n_blocks=1", "model.discriminator.ndf=4", "model.pool_size=8",
         "model.grid_size=4", "model.sample_pool_size=8"),
        data=("data=fashion_unpaired", "data.domain_a=sneaker", "data.domain_b=ankle_boot"),
    ),  # fmt: skip
    # The AdaIN model trains its decoder only: one optimiser step per batch.
    "adain": Family("adain", 8, ("model.decoder.width=8", "model.reference_size=8")),
    # With its adversarial term: manual optimisation, a D and a decoder step per batch, EMA and lazy R1.
    "adain_adversarial": Family(
        "adain", 16,
        ("model.decoder.width=8", "model.reference_size=8", "model.adversarial_weight=0.5", "model.discriminator.base_channels=8",
         "model.recipe.ema.decay=0.9", "model.recipe.ema.start_step=2", "model.recipe.r1.gamma=1", "model.recipe.r1.every=2", "model.decoder.residual=true"),
    ),  # fmt: skip
    "munit": Family(
        "munit", 16,
        ("model.content_encoder.base_channels=4", "model.content_encoder.n_res=1", "model.style_encoder.base_channels=4",
         "model.style_encoder.style_dim=4", "model.decoder.content_channels=16", "model.decoder.n_res=1",
         "model.decoder.mlp_dim=16", "model.discriminator.base_channels=4", "model.reference_size=8", "model.grid_size=3"),
    ),  # fmt: skip
    # Per batch: 2 D steps (latent- and reference-guided), then G+F+E and G: 6 optimiser steps.
    "stargan_v2": Family(
        "stargan_v2", 8 * 6,
        ("model.style_dim=16", "model.latent_dim=8", "model.mapping_network.mlp_width=32",
         "model.mapping_network.shared_layers=2", "model.mapping_network.head_layers=2",
         "model.generator.base_width=8", "model.generator.max_width=16", "model.generator.n_bottleneck=1",
         "model.style_encoder.base_width=8", "model.style_encoder.max_width=16",
         "model.discriminator.base_width=8", "model.discriminator.max_width=16", "model.sample_pool_size=8"),
    ),  # fmt: skip
}


def family_overrides(fmnist_root: Path, family: Family, *extra: str) -> list[str]:
    """Two short epochs of `family` with a checkpoint after every optimiser step and the
    evaluation callback on (cheap: a few dozen samples, the shared reference cache)."""
    return [
        f"data.root={fmnist_root}", f"model={family.model}", *family.data, f"data.train_subset={TRAIN_IMAGES}",
        "data.val_size=16", f"data.batch_size={BATCH}", "trainer.max_epochs=2", "trainer.limit_train_batches=null",
        "trainer.deterministic=true", "test=false", "callbacks.mid_epoch_checkpoint.every_n_train_steps=1",
        "callbacks.sample_grid.num_samples=4", "callbacks.evaluation.num_samples=32", "callbacks.evaluation.batch_size=32",
        "callbacks.evaluation.latent_samples=16", "callbacks.evaluation.kid_subsets=2", "callbacks.evaluation.grid_samples=4",
        "callbacks.interpretability.num_pairs=1", "callbacks.interpretability.steps=2", "callbacks.interpretability.num_dims=1",
        "callbacks.interpretability.num_styles=2", *family.overrides, *extra,
    ]  # fmt: skip


def family_cfg(run_dir: Path, fmnist_root: Path, family: Family, *extra: str) -> DictConfig:
    return compose_train(family_overrides(fmnist_root, family, *extra), run_dir)


class CrashAtBatch(pl.Callback):
    """Raises before training batch `batch_idx` of `epoch` (a crash at a reproducible point)."""

    def __init__(self, epoch: int, batch_idx: int) -> None:
        self.epoch, self.batch_idx = epoch, batch_idx

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch, batch_idx: int) -> None:
        if trainer.current_epoch == self.epoch and batch_idx == self.batch_idx:
            raise RuntimeError("simulated crash")


def assert_same_run(full: Path, resumed: Path, global_step: int) -> None:
    a, b = (torch.load(run / "checkpoints" / "last.ckpt", weights_only=True) for run in (full, resumed))
    assert a["global_step"] == b["global_step"] == global_step
    assert same_tensors(a["state_dict"], b["state_dict"]) == []
    assert same_tensors({"opt": a["optimizer_states"]}, {"opt": b["optimizer_states"]}) == []
    assert same_tensors({"lr": a["lr_schedulers"]}, {"lr": b["lr_schedulers"]}) == []
    for logged in ("metrics.json", "metrics_history.jsonl", "csv/metrics.csv"):
        assert (full / logged).read_text() == (resumed / logged).read_text(), logged
    evaluations = [json.loads((run / "eval.json").read_text()) for run in (full, resumed)]
    for record in evaluations:
        record.pop("seconds")  # wall-clock time of the last evaluation
    assert evaluations[0] == evaluations[1]


def crash_and_resume(cfg: DictConfig, resume_cfg: DictConfig) -> None:
    """Train `cfg` until CrashAtBatch stops it mid-epoch, check the checkpoint it left, then
    resume with `resume_cfg` (ckpt_path=last) from a reseeded global RNG."""
    from genstyle.cli.train import train

    with open_dict(cfg):
        cfg.callbacks.crash = {"_target_": f"{__name__}.CrashAtBatch", "epoch": CRASH_EPOCH, "batch_idx": CRASH_BATCH}
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(cfg)
    saved = read_checkpoint(Path(cfg.paths.output_dir) / "checkpoints" / "last.ckpt")
    assert saved["epoch"] == CRASH_EPOCH
    assert saved["loops"]["fit_loop"]["epoch_loop.batch_progress"]["current"]["processed"] == CRASH_BATCH
    torch.manual_seed(12345)  # the resumed run must not depend on the RNG state it starts with
    train(resume_cfg)


@pytest.mark.parametrize("name", list(FAMILIES))
def test_family_resumes_exactly_from_a_mid_epoch_checkpoint(tmp_path, fmnist_root, name, classifier_weights):
    from genstyle.cli.train import train

    family = FAMILIES[name]
    weights = f"metrics.classifier_weights={classifier_weights}"
    full, crashed = tmp_path / "full", tmp_path / "crashed"
    train(family_cfg(full, fmnist_root, family, weights))

    cfg = family_cfg(crashed, fmnist_root, family, weights)
    crash_and_resume(cfg, family_cfg(crashed, fmnist_root, family, weights, "ckpt_path=last"))

    assert_same_run(full, crashed, family.global_step)
    history = json.loads((full / "eval.json").read_text())["history"]
    assert [row["epoch"] for row in history] == [0, 1]  # both epochs were evaluated ...
    assert "stability/fid_spread" in history[1]  # ... and the FID window carried across the crash


def test_resume_between_evaluations_keeps_the_interval_and_the_held_metrics(tmp_path, fmnist_root, classifier_weights):
    """Evaluations every 3 epochs over 3 epochs: at epoch 0 (the first of the run) and 2. A run
    resumed in epoch 1 must not take its first validation for the run's first evaluation, and its
    per-epoch records must still hold epoch 0's val/fid (ModelCheckpoint monitors it)."""
    from genstyle.cli.train import train

    family = Family("vae", 12, (*SMALL_VAE, "model.monitor=val/fid"))
    extra = (f"metrics.classifier_weights={classifier_weights}", "trainer.max_epochs=3", "callbacks.evaluation.every_n_epochs=3")
    full, crashed = tmp_path / "full", tmp_path / "crashed"
    train(family_cfg(full, fmnist_root, family, *extra))
    crash_and_resume(family_cfg(crashed, fmnist_root, family, *extra), family_cfg(crashed, fmnist_root, family, *extra, "ckpt_path=last"))
    assert_same_run(full, crashed, family.global_step)
    history = [json.loads(line) for line in (full / "metrics_history.jsonl").read_text().splitlines()]
    assert [row["epoch"] for row in json.loads((full / "eval.json").read_text())["history"]] == [0, 2]
    assert history[1]["val/fid"] == history[0]["val/fid"] != history[2]["val/fid"]


# One family is killed for real in the default run (the WGAN-GP: cheap, and its critic cadence
# must survive a new process); the others with -m slow.
SIGKILL_DEFAULT = "wgan_gp"


@pytest.mark.parametrize("name", [n if n == SIGKILL_DEFAULT else pytest.param(n, marks=pytest.mark.slow) for n in FAMILIES])
def test_family_sigkilled_mid_epoch_resumes_exactly(tmp_path, fmnist_root, name, classifier_weights):
    """`train.py` SIGKILLs itself mid-epoch and `ckpt_path=last` finishes the run in a new process;
    the uninterrupted run it is compared with trains in-process (same thread count: same numbers)."""
    from genstyle.cli.train import train

    family = FAMILIES[name]
    weights = f"metrics.classifier_weights={classifier_weights}"
    full, killed = tmp_path / "full", tmp_path / "killed"
    env = {"PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]), "OMP_NUM_THREADS": "1"}
    args = [*CHEAP, *family_overrides(fmnist_root, family, weights, f"metrics.cache_dir={FEATURE_CACHE}", f"hydra.run.dir={killed}")]
    killer = ["+callbacks.kill._target_=tests.helpers.kill.KillAtBatch", f"+callbacks.kill.epoch={CRASH_EPOCH}",
              f"+callbacks.kill.batch_idx={CRASH_BATCH}"]  # fmt: skip
    dead = run_cli("train.py", *args, *killer, env=env)
    assert dead.returncode == -signal.SIGKILL, dead.stderr[-3000:]
    assert read_checkpoint(killed / "checkpoints" / "last.ckpt")["epoch"] == CRASH_EPOCH
    resumed = run_cli("train.py", *args, "ckpt_path=last", env=env)
    assert resumed.returncode == 0, resumed.stderr[-3000:]

    train(family_cfg(full, fmnist_root, family, weights))
    assert_same_run(full, killed, family.global_step)
