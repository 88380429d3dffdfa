"""Names that changed, old -> new, in one table: the commands, the config check and the checkpoint
loader read it so that old commands and old checkpoints keep working, with a one-line notice
naming the new spelling. Plain data, no imports: anything may read it.

The exemplar models were crossed (`model=style_swap` built the AdaIN model,
`model=style_swap_munit` the MUNIT-style one, both with family "style_swap"), and several
families had a `family` other than their config name. Now `model=<name>` builds
`models/<name>.py`, whose `family` is `<name>`.
"""

from __future__ import annotations

# conf/model/<old>.yaml is a one-line alias of conf/model/<new>.yaml.
MODEL_CONFIGS = {"style_swap": "adain", "style_swap_munit": "munit"}
# conf/experiment/<old>.yaml includes conf/experiment/<new>.yaml.
EXPERIMENTS = {"style_swap_fashion": "adain_fashion", "style_swap_munit_fashion": "munit_fashion"}

# `_target_`s stored in the run config of checkpoints written before the rename.
TARGETS = {
    "genstyle.models.adain_transfer.AdaINStyleTransfer": "genstyle.models.adain.AdaINTransfer",
    "genstyle.models.style_swap.StyleSwap": "genstyle.models.munit.MUNIT",
    "genstyle.models.conditional.ConditionalGAN": "genstyle.models.cgan.ConditionalGAN",
    "genstyle.models.conditional.ConditionalVAE": "genstyle.models.cvae.ConditionalVAE",
    "genstyle.models.components.adain_decoder.SkipFeatureDecoder": "genstyle.models.components.skip_feature_decoder.SkipFeatureDecoder",
    "genstyle.models.components.style_swap_nets.ContentEncoder": "genstyle.models.components.munit_nets.ContentEncoder",
    "genstyle.models.components.style_swap_nets.StyleEncoder": "genstyle.models.components.munit_nets.PooledStyleEncoder",
    "genstyle.models.components.style_swap_nets.AdaINDecoder": "genstyle.models.components.munit_nets.AdaINDecoder",
    "genstyle.models.components.style_swap_nets.PatchDiscriminator": "genstyle.models.components.munit_nets.StridedPatchDiscriminator",
}

def renamed_target(target: str) -> str:
    """The class path a stored `_target_` names now (itself when it did not change)."""
    return TARGETS.get(target, target)


# The recipe options were four keys of the model node (and stargan_v2's `ema_decay`); they are one
# node now, `model.recipe` (models/recipe.py). Old key under `model` -> its key under `model.recipe`.
RECIPE_KEYS = {"ema": "ema", "augment": "augment", "r1": "r1", "spectral_norm": "spectral_norm", "ema_decay": "ema.decay"}
RECIPE_TARGET = "genstyle.models.recipe.Recipe"


def recipe_moved(model: dict) -> dict:
    """A stored `model` config written before the recipe was one node, with its recipe keys moved
    into `model.recipe` (stargan_v2's `ema_decay: d` becomes `recipe.ema: {decay: d}`); any other
    config unchanged."""
    old = [key for key in RECIPE_KEYS if key in model]
    if not old or "recipe" in model:
        return model
    moved = {key: value for key, value in model.items() if key not in RECIPE_KEYS}
    recipe: dict = {"_target_": RECIPE_TARGET}
    for key in old:
        if key == "ema_decay":
            recipe["ema"] = {"decay": model[key], "start_step": 0}
        else:
            recipe[key] = model[key]
    moved["recipe"] = recipe
    return moved
