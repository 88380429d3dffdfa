"""Misspelt keys on the command line get a did-you-mean from the config's own keys, before Hydra
composes the config (Hydra's own answer to `trainer.max_epoch=2` is to append the key with `+`,
the wrong fix) and before anything is imported.

- `trainer.max_epoch=2` -> `did you mean trainer.max_epochs?` (a close spelling among the node's keys)
- `model.lr=1e-3` -> `did you mean model.optimizer.lr?` (sub-nodes that hold the key: the optimisers)
- `+seeed=3`, `+nonsense_key=1` -> an added key where the config takes no new keys (the top level or
  a node without `_target_`) is an error, with the close spellings. Keys added under a node with a
  `_target_` (`+model.lrr=...`) are checked against that class's signature by `config_check`.
- `model=style_swap` (an old name, genstyle/renames.py) -> a one-line notice naming `model=adain`; it still runs
- `model.ema.decay=0.999`, `model.augment=[...]` (the recipe keys before they were one node,
  genstyle/renames.py) -> `did you mean model.recipe.ema.decay?`; nothing runs
"""

from __future__ import annotations

import difflib
import sys
from collections.abc import Sequence
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from genstyle import renames
from genstyle.config_check import did_you_mean
from genstyle.errors import GenstyleError

_MISSING = object()


def _parse(args: Sequence[str]):
    from hydra.core.override_parser.overrides_parser import OverridesParser

    return OverridesParser.create().parse_overrides([a for a in args if not a.startswith("-")])


def compose_without(args: Sequence[str], config_dir: str, config_name: str) -> tuple[DictConfig, list]:
    """The config the command would compose from its group choices (and `+` additions), with the
    plain `a.b=value` changes left out, so a misspelt key cannot make composition fail."""
    from hydra import compose, initialize_config_dir

    overrides = _parse(args)
    with initialize_config_dir(config_dir=config_dir, version_base="1.3"):
        cfg = compose(config_name, overrides=[o.input_line for o in overrides if not _is_dotted_change(o)])
    return cfg, overrides


def _is_dotted_change(override) -> bool:
    key = override.key_or_group
    return "." in key and not key.startswith("hydra.") and not override.is_add() and not override.is_force_add() \
        and not override.is_delete()


def typo_problems(cfg: DictConfig, overrides: list, config_dir: str) -> list[str]:
    def is_group(key: str) -> bool:  # +experiment=..., +hparams_search=...: a config group, not a key
        return (Path(config_dir) / key.replace(".", "/")).is_dir()

    problems = []
    for override in overrides:
        key = override.key_or_group
        if key.startswith("hydra.") or key.startswith("hydra/") or override.is_delete():
            continue
        moved = moved_recipe_key(cfg, key, added=override.is_add() or override.is_force_add())
        if moved is not None:
            problems.append(f"{key}: no such key; the recipe options are one node now, did you mean {moved}?")
            continue
        parent_path, _, name = key.rpartition(".")
        parent = OmegaConf.select(cfg, parent_path, default=_MISSING) if parent_path else cfg
        if not isinstance(parent, DictConfig):
            continue
        # keys(), not `in`: a key whose value is still ??? (data.root of image_folder) is not "in" a DictConfig
        if _is_dotted_change(override) and name not in parent.keys():
            problems.append(f"{key}: no such key{did_you_mean(name, parent_path, parent, list(parent.keys())) or _listing(parent_path, parent)}")
        elif override.is_add() and "_target_" not in parent and not is_group(key):
            known = [str(k) for k in parent.keys() if k != name]
            close = difflib.get_close_matches(name, known, n=2, cutoff=0.75)
            hint = f"; did you mean {' or '.join((parent_path + '.' if parent_path else '') + c for c in close)}?" if close else ""
            problems.append(f"+{key}: {'the top level' if not parent_path else parent_path} has no key {name!r} and takes no "
                            f"new ones{hint or _listing(parent_path, parent, exclude=name)}")
    return problems


def moved_recipe_key(cfg: DictConfig, key: str, added: bool = False) -> str | None:
    """`model.ema.decay` -> `model.recipe.ema.decay` (and `model.augment`, `model.r1...`,
    `model.spectral_norm`, stargan_v2's `model.ema_decay`; renames.RECIPE_KEYS) when the model has
    a recipe node and no such key of its own (`added`: the key is in `cfg` only because the command
    line adds it with `+`); None otherwise."""
    parts = key.split(".")
    model = cfg.get("model") if len(parts) >= 2 and parts[0] == "model" else None
    if not isinstance(model, DictConfig) or parts[1] not in renames.RECIPE_KEYS or "recipe" not in model or (parts[1] in model and not added):
        return None
    return ".".join(["model", "recipe", renames.RECIPE_KEYS[parts[1]], *parts[2:]])


def _listing(path: str, node: DictConfig, exclude: str | None = None) -> str:
    keys = sorted(str(k) for k in node.keys() if k != exclude and not str(k).startswith("_"))
    where = path or "the top level"
    return f"; the keys of {where} are: {', '.join(keys)}"


def rename_notices(overrides: list) -> list[str]:
    """One line per old config name on the command line (`model=style_swap`), naming the new one;
    the old names still compose (conf/model/style_swap.yaml is an alias)."""
    notices = []
    for override in overrides:
        renamed = {"model": renames.MODEL_CONFIGS, "experiment": renames.EXPERIMENTS}.get(override.key_or_group)
        if renamed is None:
            continue
        values = list(override.sweep_string_iterator()) if override.is_sweep_override() else [override.get_value_element_as_str()]
        for value in values:
            if value in renamed:
                key = override.key_or_group
                notices.append(f"note: {key}={value} is now {key}={renamed[value]} (the old name still works); use {key}={renamed[value]}.")
    return notices


def check_overrides(args: Sequence[str], config_dir: str, config_name: str) -> None:
    """Raise a GenstyleError naming every misspelt key in `args` (the command line); print a
    notice for every old config name in them."""
    try:
        cfg, overrides = compose_without(args, config_dir, config_name)
    except Exception:  # anything else wrong with the command line: Hydra itself reports it
        return
    for notice in rename_notices(overrides):
        print(notice, file=sys.stderr)
    problems = typo_problems(cfg, overrides, config_dir)
    if problems:
        listing = "\n  - ".join(problems)
        raise GenstyleError(f"unknown key{'s' if len(problems) > 1 else ''} on the command line (nothing was run):\n  - {listing}")
