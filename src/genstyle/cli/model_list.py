"""The model families, from the one place that defines them: the conf/model folder (an old name kept
as an alias has no `_target_` of its own and is left out). Messages that list models ask here, so
a new family (stargan_v2, sngan) is never missing from them."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from genstyle.cli.common import CONFIG_DIR


@cache
def model_targets() -> dict[str, str]:
    """`model=<name>` -> the class its config builds, for every conf/model/<name>.yaml that builds one."""
    from omegaconf import OmegaConf

    targets = {}
    for path in sorted(Path(CONFIG_DIR, "model").glob("*.yaml")):
        target = OmegaConf.load(path).get("_target_")
        if target:
            targets[path.stem] = str(target)
    return targets


def model_names() -> list[str]:
    return list(model_targets())


def models_that(method: str) -> list[str]:
    """The families whose class has `method` (`stylize`, `translate`), in conf/model order (imports them)."""
    from genstyle.config_check import import_target

    return [name for name, target in model_targets().items() if callable(getattr(import_target(target), method, None))]


def capable_models() -> str:
    """`adain, cgan, ... (stylize: content=... style=...), cyclegan (translate: ...)` for stylize.py's messages."""
    stylize = models_that("stylize")
    translate = [m for m in models_that("translate") if m not in stylize]
    return (f"{', '.join(stylize)} (stylize: content=... style=..., or target=... for stargan_v2), "
            f"{', '.join(translate)} (translate: content=... direction=a2b|b2a)")
