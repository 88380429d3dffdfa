"""The plain `model=<family>` config is the tuned one: experiment files set only the budget (amount of
data, epochs, time, the device) and never a model setting, and the batch size keeps a CPU step short
(benchmarks/step_time.py: munit 1.9 CPU s per step at batch 128, about 0.5 s at 32)."""

from __future__ import annotations

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from genstyle.cli.common import CONFIG_DIR

BUDGET_KEYS = {
    "accelerator", "train_subset", "val_size", "min_epochs", "max_epochs", "max_time", "log_every_n_steps",
    "val_check_interval", "num_samples", "domain_a", "domain_b",
}


def composed(*overrides: str):
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose("train", overrides=list(overrides))


@pytest.mark.parametrize(("experiment", "model", "data"), [("adain_fashion", "adain", "fashion_mnist"),
                                                          ("munit_fashion", "munit", "fashion_mnist"),
                                                          ("cyclegan_sneaker2boot", "cyclegan", "fashion_unpaired")])
def test_experiment_changes_only_the_budget(experiment, model, data):
    plain = OmegaConf.to_container(composed(f"model={model}", f"data={data}"), resolve=False)
    tuned = OmegaConf.to_container(composed(f"experiment={experiment}"), resolve=False)
    assert tuned["model"] == plain["model"]
    assert tuned["data"]["batch_size"] == plain["data"]["batch_size"]
    changed = {k for k in tuned["data"] if tuned["data"][k] != plain["data"][k]}
    changed |= {k for k in tuned["trainer"] if tuned["trainer"].get(k) != plain["trainer"].get(k)}
    assert changed <= BUDGET_KEYS, changed


def test_exemplar_model_defaults_are_the_working_settings():
    cfg = composed("model=adain")  # the AdaIN model: the settings of its 10-minute CPU run
    assert cfg.data.batch_size == 32 and (cfg.model.style_weight, cfg.model.gram_weight) == (10.0, 50.0)
    assert cfg.model.optimizer.lr == 2.0e-3
    assert (cfg.model.recipe.ema.decay, cfg.model.recipe.ema.start_step, cfg.model.adversarial_weight) == (0.999, 1000, 0.0)
    munit = composed("model=munit")  # the MUNIT-style design: below style weight 5 it ignores the style code
    assert munit.data.batch_size == 32 and munit.model.style_weight == 5.0
    assert (munit.model.g_optimizer.lr, munit.model.d_optimizer.lr) == (1.0e-3, 5.0e-4)
    assert composed("model=adain", "data.batch_size=128").data.batch_size == 128  # the command line wins
    assert composed("model=vae").data.batch_size == 128  # other families keep the data set's batch size
