"""The config check (genstyle.config_check) in-process: every shipped config passes, bad values are
named with what is accepted, and the check is fast. The same check through the real CLI, before
the run directory exists, is covered by tests/test_bad_inputs.py."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from genstyle.config_check import check_config, config_problems
from genstyle.errors import GenstyleError
from genstyle.renames import MODEL_CONFIGS
from tests.conftest import CONFIG_DIR, compose_train

MODELS = sorted(p.stem for p in (Path(CONFIG_DIR) / "model").glob("*.yaml") if p.stem not in MODEL_CONFIGS)  # old names: tests/test_renames.py
DATA = sorted(p.stem for p in (Path(CONFIG_DIR) / "data").glob("*.yaml"))


def cfg(tmp_path, *overrides: str):
    return compose_train(["data.root=/data", *overrides], tmp_path / "run")


@pytest.mark.parametrize("model", MODELS)
def test_every_shipped_model_config_passes(tmp_path, model):
    data = ["data=fashion_unpaired"] if model == "cyclegan" else []
    assert config_problems(cfg(tmp_path, f"model={model}", *data)) == []


@pytest.mark.parametrize("data", DATA)
def test_every_shipped_data_config_passes(tmp_path, data):
    model = ["model=cyclegan"] if "unpaired" in data else []
    assert config_problems(cfg(tmp_path, f"data={data}", *model)) == []


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("model.latent_dim=0", "model.latent_dim=0: must be a positive integer"),
        ("data.val_size=-1", "data.val_size=-1: must be an integer >= 0"),
        ("data.channels=2", "data.channels=2: must be 1 (grayscale) or 3 (RGB)"),
        ("model.encoder.dropout=1.5", "model.encoder.dropout=1.5: must be a number in [0, 1)"),
        ("model=dcgan model.g_optimizer.betas=[0.5,1.5]", "model.g_optimizer.betas=[0.5, 1.5]: must be two numbers in [0, 1)"),
        ("model.beta=strong", "model.beta='strong': must be a number >= 0"),
        ("trainer.limit_train_batches=1.5", "trainer.limit_train_batches=1.5: must be null, an integer"),
        ("trainer.accelerator=gpus", "trainer.accelerator='gpus': must be one of auto, cpu"),
        ("seed=-1", "seed=-1: must be an integer in [0, 2**32)"),
        ("test=maybe", "test='maybe': must be true or false"),
        ("+model.learning_rate=1e-3", "model.learning_rate: unknown key for VAE; accepted keys:"),
        ("+trainer.max_epoch=3", "trainer.max_epoch: unknown key for Trainer; did you mean trainer.max_epochs?; accepted keys:"),
        ("model.likelihood=42", "model.likelihood=42: wrong type for VAE; expected str"),
        ("model.encoder._target_=genstyle.nope.Encoder", "model.encoder._target_=genstyle.nope.Encoder: cannot be imported"),
        ("callbacks.sample_grid.num_samples=0", "callbacks.sample_grid.num_samples=0: must be a positive integer"),
        ("data=image_folder", "data.root must be set"),
    ],
)
def test_bad_value_is_named_with_what_is_accepted(tmp_path, override, message):
    overrides = override.split()
    config = compose_train(overrides, tmp_path / "run") if override == "data=image_folder" else cfg(tmp_path, *overrides)
    with pytest.raises(GenstyleError) as err:
        check_config(config)
    assert message in str(err.value)


def test_all_problems_reported_at_once_and_fast(tmp_path):
    config = cfg(tmp_path, "model.latent_dim=-3", "data.batch_size=0", "trainer.max_epochs=abc")
    check_config(cfg(tmp_path))  # imports the targets once
    start = time.perf_counter()
    problems = config_problems(config)
    assert time.perf_counter() - start < 1.0
    assert len(problems) == 3


@pytest.mark.parametrize(("model", "family"), [("wgan_gp", "WGANGP"), ("cgan", "ConditionalGAN"), ("cvae", "ConditionalVAE")])
def test_unknown_key_caught_for_targets_that_pass_kwargs_to_their_parent(tmp_path, model, family):
    # These classes take **kwargs and hand them to GAN / VAE: their keys are the parents' too.
    problems = config_problems(cfg(tmp_path, f"model={model}", "+model.typo=1"))
    assert any(p.startswith(f"model.typo: unknown key for {family}; accepted keys:") for p in problems), problems
    assert not any("model.latent_dim" in p for p in problems)  # a parent's key is accepted
