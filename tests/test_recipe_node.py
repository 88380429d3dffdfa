"""The recipe is one config node, `model.recipe` (models/recipe.py `Recipe`): every adversarial
family's config carries it, the presets fill it, the config check reads it against `Recipe`, the
old spellings (`model.ema.decay=...`, `model.augment=[...]`, stargan_v2's `model.ema_decay`) get a
did-you-mean naming the new key, and run configs stored before it was one node load through it."""

from __future__ import annotations

from pathlib import Path

import hydra
import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

from genstyle import renames
from genstyle.cli.common import CONFIG_DIR
from genstyle.cli.typos import check_overrides
from genstyle.config_check import config_problems
from genstyle.errors import GenstyleError
from genstyle.models.recipe import Recipe

ADVERSARIAL = ["dcgan", "wgan_gp", "cgan", "sngan", "cyclegan", "adain", "munit", "stargan_v2"]


def compose_train(*overrides: str):
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose("train", overrides=list(overrides))


def model_configs() -> list[str]:
    return sorted(p.stem for p in Path(CONFIG_DIR, "model").glob("*.yaml"))


@pytest.mark.parametrize("name", [m for m in ADVERSARIAL if m in model_configs()])
def test_every_adversarial_family_has_one_recipe_node_and_no_loose_recipe_keys(name):
    model = compose_train(f"model={name}").model
    assert model.recipe._target_ == "genstyle.models.recipe.Recipe"
    assert set(model.recipe) - {"_target_"} == {"ema", "augment", "r1", "spectral_norm"}
    assert not set(model) & set(renames.RECIPE_KEYS)  # ema, augment, r1, spectral_norm, ema_decay


def test_the_presets_fill_the_node():
    cfg = compose_train("experiment=recipe_budget", "recipe=all")
    recipe = hydra.utils.instantiate(cfg.model.recipe)
    assert isinstance(recipe, Recipe)
    assert OmegaConf.to_container(cfg.model.recipe) == {
        "_target_": "genstyle.models.recipe.Recipe", "ema": {"decay": 0.999, "start_step": 500},
        "augment": ["translation", "cutout"], "r1": {"gamma": 1.0, "every": 16}, "spectral_norm": True,
    }  # fmt: skip
    plain = compose_train("experiment=recipe_budget", "recipe=plain").model.recipe
    assert plain.ema.decay is None and plain.augment is None and plain.r1.gamma == 0 and plain.spectral_norm is False
    model = hydra.utils.instantiate(cfg.model)
    assert model.has_ema and model.augment.policy == ("translation", "cutout") and model.r1_gamma == 1.0 and model.spectral_norm


def test_the_config_check_reads_the_node_against_recipe():
    problems = config_problems(compose_train("model=dcgan", "+model.recipe.emaa=0.9", "model.recipe.spectral_norm=3"))
    assert any(p.startswith("model.recipe.emaa: unknown key for Recipe; did you mean model.recipe.ema?") for p in problems), problems
    assert "model.recipe.spectral_norm=3: wrong type for Recipe; expected bool." in problems
    assert config_problems(compose_train("model=cyclegan", "data=fashion_unpaired", "model.recipe.augment=[cutout]")) == []
    # A loose key in a user's own config file: named, with the new home.
    problems = config_problems(compose_train("model=dcgan", "+model.ema={decay: 0.9}"))
    assert any(p.startswith("model.ema: unknown key for GAN; did you mean model.recipe.ema?") for p in problems), problems


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["model=dcgan", "model.ema.decay=0.999"], "model.ema.decay: no such key; the recipe options are one node now, did you mean model.recipe.ema.decay?"),
        (["model=dcgan", "model.augment=[translation,cutout]"], "did you mean model.recipe.augment?"),
        (["model=cyclegan", "model.r1.gamma=1"], "did you mean model.recipe.r1.gamma?"),
        (["model=munit", "model.spectral_norm=true"], "did you mean model.recipe.spectral_norm?"),
        (["model=stargan_v2", "model.ema_decay=0.99"], "did you mean model.recipe.ema.decay?"),
        (["model=dcgan", "+model.ema.decay=0.9"], "did you mean model.recipe.ema.decay?"),
    ],
)  # fmt: skip
def test_old_spellings_get_the_new_key(args, expected):
    with pytest.raises(GenstyleError, match="nothing was run") as info:
        check_overrides(args, CONFIG_DIR, "train")
    assert expected in str(info.value)


def test_the_new_spellings_pass_the_typo_check():
    check_overrides(["model=dcgan", "model.recipe.ema.decay=0.999", "model.recipe.augment=[cutout]"], CONFIG_DIR, "train")
    check_overrides(["model=stargan_v2", "model.recipe.ema.decay=0.99"], CONFIG_DIR, "train")


def test_recipe_of_what_a_constructor_is_given():
    assert Recipe.of(None) == Recipe()
    built = Recipe(ema={"decay": 0.9}, augment="cutout")
    assert Recipe.of(built) is built
    assert Recipe.of({"_target_": "genstyle.models.recipe.Recipe", "r1": {"gamma": 1.0, "every": 4}}).r1_on
    with pytest.raises(GenstyleError, match="model.recipe has unknown key.s. emaa"):
        Recipe.of({"emaa": 0.9})
    with pytest.raises(GenstyleError, match="model.recipe.ema.decay=1.5 must be in"):
        Recipe(ema={"decay": 1.5})
    with pytest.raises(GenstyleError, match="model.recipe.spectral_norm='yes' must be true or false"):
        Recipe(spectral_norm="yes")


def test_stored_configs_from_before_the_node_move_their_keys_into_it():
    """What the checkpoint loader does to a stored run config (checkpoints.load_model)."""
    old_gan = {
        "_target_": "genstyle.models.gan.GAN", "latent_dim": 100,
        "ema": {"decay": 0.999, "start_step": 500}, "augment": ["cutout"], "r1": {"gamma": 1.0, "every": 16}, "spectral_norm": True,
    }  # fmt: skip
    moved = renames.recipe_moved(old_gan)
    assert moved == {
        "_target_": "genstyle.models.gan.GAN", "latent_dim": 100,
        "recipe": {"_target_": "genstyle.models.recipe.Recipe", "ema": {"decay": 0.999, "start_step": 500},
                   "augment": ["cutout"], "r1": {"gamma": 1.0, "every": 16}, "spectral_norm": True},
    }  # fmt: skip
    old_stargan = {"_target_": "genstyle.models.stargan_v2.StarGANv2", "ema_decay": 0.99, "use_ema": True}
    assert renames.recipe_moved(old_stargan)["recipe"] == {"_target_": "genstyle.models.recipe.Recipe", "ema": {"decay": 0.99, "start_step": 0}}
    current = compose_train("model=dcgan").model
    assert renames.recipe_moved(OmegaConf.to_container(current)) == OmegaConf.to_container(current)  # unchanged
    vae = {"_target_": "genstyle.models.vae.VAE", "latent_dim": 16}
    assert renames.recipe_moved(vae) is vae


def test_an_old_gan_config_builds_the_same_model_as_the_new_one():
    new = compose_train("model=dcgan", "model.recipe.ema.decay=0.9", "model.recipe.augment=[cutout]", "model.recipe.spectral_norm=true").model
    old = OmegaConf.to_container(new, resolve=True)
    old |= {key: value for key, value in old.pop("recipe").items() if key != "_target_"}  # the layout before the node
    model = hydra.utils.instantiate(OmegaConf.create(renames.recipe_moved(old)))
    reference = hydra.utils.instantiate(new)
    assert model.recipe == reference.recipe and model.has_ema and model.spectral_norm
    assert set(model.state_dict()) == set(reference.state_dict())
