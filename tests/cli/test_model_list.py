"""Messages list the model families from conf/model: every family that builds a class, no alias."""

from __future__ import annotations

from pathlib import Path

from genstyle.cli.common import CONFIG_DIR
from genstyle.cli.model_list import capable_models, model_names, models_that


def test_every_family_of_conf_model_and_no_alias():
    names = model_names()
    assert {"vae", "dcgan", "cyclegan", "adain", "munit", "stargan_v2"} <= set(names)
    assert "style_swap" not in names and "style_swap_munit" not in names  # old names, kept as aliases
    assert len(names) == len([p for p in Path(CONFIG_DIR, "model").glob("*.yaml") if "_target_:" in p.read_text()])


def test_capabilities_come_from_the_classes():
    stylize = models_that("stylize")
    assert {"adain", "munit", "cvae", "cgan", "stargan_v2"} <= set(stylize) and "vae" not in stylize and "cyclegan" not in stylize
    text = capable_models()
    assert "stargan_v2" in text and "cyclegan (translate" in text
