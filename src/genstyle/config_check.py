"""Checks a composed config before any work starts: unknown keys, wrong types, out-of-range values.

The schema is the code itself: every node with a `_target_` is checked against the signature and
type hints of the class it names (so each new model family, callback or logger is covered the
day it lands, with no second schema to keep in sync), and a table of range rules covers the
sizes, rates and probabilities whose type alone says too little. All problems are reported at
once, each naming the key, the value given and what is accepted.

Schema only: `genstyle.cli.run_dir.ValidateConfig` (a Hydra callback) runs the check before Hydra
creates the run directory, and `train()` again at its start for sweeps and tests.
"""

from __future__ import annotations

import importlib
import inspect
import math
import types
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from genstyle.errors import GenstyleError

HYDRA_KEYS = {"_target_", "_partial_", "_recursive_", "_convert_", "_args_"}
GROUPS_WITH_TARGETS = ("data", "model", "trainer", "callbacks", "logger")


# --- range rules, by the key's last name ---------------------------------------------------------

def _int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


Rule = tuple[Callable[[Any], bool], str]
POSITIVE_INT: Rule = (lambda v: _int(v) and v > 0, "a positive integer")
NON_NEGATIVE_INT: Rule = (lambda v: _int(v) and v >= 0, "an integer >= 0")
POSITIVE: Rule = (lambda v: _num(v) and v > 0, "a number > 0")
NON_NEGATIVE: Rule = (lambda v: _num(v) and v >= 0, "a number >= 0")
FRACTION: Rule = (lambda v: _num(v) and 0 <= v < 1, "a number in [0, 1)")
OPTIONAL_POSITIVE_INT: Rule = (lambda v: v is None or (_int(v) and v > 0), "a positive integer or null")
LIMIT_BATCHES: Rule = (lambda v: v is None or (_int(v) and v >= 0) or (_num(v) and 0 <= v <= 1),
                       "null, an integer number of batches >= 0, or a fraction in [0, 1]")

RULES: dict[str, Rule] = {
    "batch_size": POSITIVE_INT, "image_size": POSITIVE_INT, "latent_dim": POSITIVE_INT,
    "num_samples": POSITIVE_INT, "base_channels": POSITIVE_INT, "hidden_dim": POSITIVE_INT,
    "n_critic": POSITIVE_INT, "every_n_epochs": POSITIVE_INT, "grid_samples": POSITIVE_INT,
    "channels": (lambda v: v in (1, 3), "1 (grayscale) or 3 (RGB)"),
    "num_classes": OPTIONAL_POSITIVE_INT, "train_subset": OPTIONAL_POSITIVE_INT,
    "val_size": NON_NEGATIVE_INT, "num_workers": NON_NEGATIVE_INT, "kl_warmup_steps": NON_NEGATIVE_INT,
    "every_n_train_steps": (lambda v: v is None or (_int(v) and v >= 0), "an integer >= 0 (0 = off) or null"),
    "lr": POSITIVE, "weight_decay": NON_NEGATIVE, "beta": NON_NEGATIVE, "gradient_clip_val": (lambda v: v is None or (_num(v) and v >= 0), "a number >= 0 or null"),
    "dropout": FRACTION, "label_smoothing": FRACTION,
    "betas": (lambda v: isinstance(v, Sequence) and len(v) == 2 and all(_num(b) and 0 <= b < 1 for b in v),
              "two numbers in [0, 1), e.g. [0.5, 0.999]"),
    "max_epochs": (lambda v: v is None or (_int(v) and (v > 0 or v == -1)), "a positive integer, or -1 for no limit"),
    "min_epochs": (lambda v: v is None or (_int(v) and v >= 0), "an integer >= 0"),
    "limit_train_batches": LIMIT_BATCHES, "limit_val_batches": LIMIT_BATCHES, "limit_test_batches": LIMIT_BATCHES,
    "log_every_n_steps": NON_NEGATIVE_INT, "check_val_every_n_epoch": OPTIONAL_POSITIVE_INT,
    "num_sanity_val_steps": (lambda v: _int(v) and v >= -1, "an integer >= -1 (-1 = the whole validation set)"),
    "accelerator": (lambda v: not isinstance(v, str) or v in ("auto", "cpu", "gpu", "cuda", "mps", "tpu"),
                    "one of auto, cpu, gpu, cuda, mps, tpu"),
    "precision": (lambda v: str(v) in {"32-true", "32", "16-mixed", "bf16-mixed", "16-true", "bf16-true", "64-true", "64", "16", "bf16", "transformer-engine"},
                  "one of 32-true, 16-mixed, bf16-mixed, 16-true, bf16-true, 64-true"),
}
TOP_LEVEL: dict[str, Rule] = {
    "seed": (lambda v: _int(v) and 0 <= v < 2**32, "an integer in [0, 2**32)"),
    "test": (lambda v: isinstance(v, bool), "true or false"),
    "overwrite": (lambda v: isinstance(v, bool), "true or false"),
    "ckpt_path": (lambda v: v is None or isinstance(v, str), "a path to a .ckpt file, last, or null"),
    "optimized_metric": (lambda v: v is None or isinstance(v, str), "a metric name such as val/fid, or null"),
}


# --- walking the config --------------------------------------------------------------------------

class Unresolved:
    """A value whose interpolation cannot be resolved yet (e.g. Hydra's runtime output dir)."""


def value_at(node: DictConfig | ListConfig, key: Any) -> Any:
    try:
        value = node[key]
    except Exception:  # ${hydra:runtime.output_dir} before the run starts, a missing interpolation target
        return Unresolved
    if isinstance(value, (DictConfig, ListConfig)):
        return value
    return value


def leaves(node: Any, path: str) -> Iterator[tuple[str, Any, Any, Any]]:
    """(dotted key, last name, value, parent node) for every value under `node`."""
    if isinstance(node, DictConfig):
        for key in node.keys():
            if OmegaConf.is_missing(node, key):
                yield f"{path}.{key}", key, "???", node
                continue
            value = value_at(node, key)
            yield f"{path}.{key}", key, value, node
            if isinstance(value, (DictConfig, ListConfig)):
                yield from leaves(value, f"{path}.{key}")
    elif isinstance(node, ListConfig):
        for i in range(len(node)):
            value = value_at(node, i)
            if isinstance(value, (DictConfig, ListConfig)):
                yield from leaves(value, f"{path}[{i}]")


def plain(value: Any) -> Any:
    if isinstance(value, (DictConfig, ListConfig)):
        return OmegaConf.to_container(value, resolve=False)
    return value


# --- type checking against a signature -----------------------------------------------------------

def accepts(annotation: Any, value: Any) -> bool:
    """Whether `value` (from YAML: scalars, lists, dicts) fits `annotation`. Anything the checker
    cannot judge (classes, callables, nn.Modules built from a nested `_target_`) is accepted."""
    if annotation is inspect.Parameter.empty or annotation is Any or value is Unresolved:
        return True
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(accepts(a, value) for a in args)
    if origin is typing.Literal:
        return value in args
    if annotation is type(None):
        return value is None
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:
        return _int(value)
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation is str:
        return isinstance(value, str)
    if origin in (list, tuple, Sequence, typing.Sequence) or annotation in (list, tuple):
        return isinstance(value, (ListConfig, list, tuple))
    if origin in (dict, Mapping) or annotation is dict:
        return isinstance(value, (DictConfig, dict)) or value is None and False
    # A class or protocol: only a plain scalar is clearly wrong where an object is expected.
    if isinstance(value, (DictConfig, ListConfig)) or value is None:
        return True
    if isinstance(value, (bool, int, float, str)):
        return isinstance(annotation, type) and isinstance(value, annotation) or not isinstance(annotation, type)
    return True


def describe(annotation: Any) -> str:
    text = inspect.formatannotation(annotation) if annotation is not inspect.Parameter.empty else "any value"
    return text.replace("NoneType", "null").replace("typing.", "").replace("Optional[", "null or [")


def import_target(target: str) -> Any:
    module_name, _, attr = target.rpartition(".")
    module = importlib.import_module(module_name)
    obj = module
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def _hints(func: Any) -> dict[str, Any]:
    try:
        return typing.get_type_hints(func)
    except Exception:  # unresolvable forward references in a third-party class: check names only
        return {}


def accepted_parameters(target: Any) -> tuple[dict[str, inspect.Parameter], dict[str, Any], bool]:
    """(named parameters, their type hints, whether any key at all is accepted) of what a
    `_target_` builds. A class whose `__init__` passes `**kwargs` on to its parent (WGAN-GP,
    cGAN, cVAE) accepts its own parameters plus its parents', found along the MRO until an
    `__init__` without `**kwargs`; the first definition of a name wins (a subclass's default)."""
    named: dict[str, inspect.Parameter] = {}
    hints: dict[str, Any] = {}
    chain = [c for c in target.__mro__ if "__init__" in c.__dict__] if inspect.isclass(target) else [target]
    for owner in chain:
        func = owner.__init__ if inspect.isclass(target) else owner
        sig = inspect.signature(func)
        own_hints = _hints(func)
        for name, param in sig.parameters.items():
            if name == "self" or param.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
                continue
            if name not in named:
                named[name] = param
                if name in own_hints:
                    hints[name] = own_hints[name]
        if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in sig.parameters.values()):
            return named, hints, False
        if not owner.__module__.startswith("genstyle"):
            break  # a third-party base (e.g. LightningModule) takes **kwargs it does not declare
    return named, hints, True


def check_target_node(path: str, node: DictConfig, problems: list[str]) -> None:
    target_name = node.get("_target_")
    try:
        target = import_target(str(target_name))
    except Exception as err:
        problems.append(f"{path}._target_={target_name}: cannot be imported ({type(err).__name__}: {err}). "
                        "Check the spelling of the class path.")
        return
    try:
        params, hints, takes_any = accepted_parameters(target)
    except (TypeError, ValueError):
        return
    named = set(params)
    short = str(target_name).rsplit(".", 1)[-1]
    for key in node.keys():
        if key in HYDRA_KEYS:
            continue
        if key not in named:
            if not takes_any:
                problems.append(f"{path}.{key}: unknown key for {short}{did_you_mean(str(key), path, node, named)}; "
                                f"accepted keys: {', '.join(sorted(named)) or '(none)'}.")
            continue
        if OmegaConf.is_missing(node, key) or OmegaConf.is_interpolation(node, key) or key in RULES:
            continue  # interpolated values are checked where they are set; RULES give the better message
        value = value_at(node, key)
        annotation = hints.get(key, params[key].annotation)
        if isinstance(annotation, str):
            continue  # an unresolved string annotation: nothing reliable to check against
        if not accepts(annotation, value):
            problems.append(f"{path}.{key}={plain(value)!r}: wrong type for {short}; expected {describe(annotation)}.")
    if not node.get("_partial_", False):
        for name, param in params.items():
            required = param.default is inspect.Parameter.empty and param.kind in (
                inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
            if required and name not in node and path not in ("trainer",):
                problems.append(f"{path}.{name}: required by {short} but not set; add {path}.{name}=<value>.")


def module_source(module_name: str) -> Path | None:
    """The source file of `module_name`, found on sys.path without importing it or its packages
    (importlib.util.find_spec would import the parent packages, i.e. torch for torch.optim)."""
    import sys

    parts = module_name.split(".")
    for entry in sys.path:
        base = Path(entry or ".").joinpath(*parts)
        for candidate in (base.with_suffix(".py"), base / "__init__.py"):
            if candidate.is_file():
                return candidate
    return None


def static_parameters(target_name: str) -> set[str] | None:
    """The keyword names of a class whose own `__init__` takes no `**kwargs`, read from its source
    with `ast` (no import: a typo is answered before torch is loaded); None when that cannot tell
    (the class is re-exported, inherits its `__init__`, or forwards `**kwargs`)."""
    import ast

    module_name, _, class_name = target_name.rpartition(".")
    source = module_source(module_name) if module_name else None
    if source is None:
        return None
    try:
        tree = ast.parse(source.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return None
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == class_name:
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name == "__init__":
                    args = item.args
                    if args.kwarg is not None:
                        return None
                    return {a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)} - {"self"}
            return None
    return None


def static_unknown_keys(path: str, node: DictConfig, problems: list[str]) -> None:
    names = static_parameters(str(node.get("_target_")))
    if names is None:
        return
    short = str(node.get("_target_")).rsplit(".", 1)[-1]
    for key in node.keys():
        if key not in HYDRA_KEYS and key not in names:
            problems.append(f"{path}.{key}: unknown key for {short}{did_you_mean(str(key), path, node, names)}; "
                            f"accepted keys: {', '.join(sorted(names)) or '(none)'}.")


def did_you_mean(key: str, path: str, node: DictConfig, names: set[str] | list[str]) -> str:
    """`; did you mean trainer.max_epochs?` from the node's own keys (close spellings) and from
    its sub-nodes that hold `key` (model.lr -> model.optimizer.lr, model.g_optimizer.lr)."""
    import difflib

    close = [f"{path}.{n}" for n in difflib.get_close_matches(key, sorted(str(n) for n in names if n != key), n=2, cutoff=0.75)]
    nested = [f"{path}.{child}.{key}" for child in node.keys()
              if isinstance(value_at(node, child), DictConfig) and key in value_at(node, child)]
    options = list(dict.fromkeys(nested + close))
    return f"; did you mean {' or '.join(options)}?" if options else ""


def config_problems(cfg: DictConfig, targets: bool = True) -> list[str]:
    """Every problem of `cfg`; `targets=False` skips the checks that import the classes named by
    `_target_` (torch, Lightning), so a range or missing-value error is reported in a fraction of a second."""
    problems: list[str] = []
    for key, (ok, accepted) in TOP_LEVEL.items():
        if key in cfg and not OmegaConf.is_missing(cfg, key):
            value = value_at(cfg, key)
            if value is not Unresolved and not ok(value):
                problems.append(f"{key}={plain(value)!r}: must be {accepted}.")
    for group in GROUPS_WITH_TARGETS:
        node = cfg.get(group)
        if node is None:
            continue
        if isinstance(node, DictConfig) and "_target_" in node:
            (check_target_node if targets else static_unknown_keys)(group, node, problems)
        for path, name, value, parent in leaves(node, group):
            if value == "???":
                problems.append(f"{path} must be set (it has no default), e.g. {path}=<value>.")
                continue
            if isinstance(value, DictConfig) and "_target_" in value:
                (check_target_node if targets else static_unknown_keys)(path, value, problems)
            rule = RULES.get(str(name))
            interpolated = isinstance(parent, DictConfig) and OmegaConf.is_interpolation(parent, name)
            if rule is not None and not interpolated and value is not Unresolved and not isinstance(value, DictConfig):
                ok, accepted = rule
                try:
                    good = ok(plain(value))
                except Exception:
                    good = False
                if not good:
                    problems.append(f"{path}={plain(value)!r}: must be {accepted}.")
    return list(dict.fromkeys(problems))  # a type error can also break a range rule: say it once


def check_config(cfg: DictConfig) -> None:
    """Raise one GenstyleError listing every problem of `cfg` (nothing has run yet). The checks that
    need no import run first; the classes are imported only for a config that passes them."""
    problems = config_problems(cfg, targets=False) or config_problems(cfg)
    if problems:
        listing = "\n  - ".join(problems)
        raise GenstyleError(f"invalid configuration ({len(problems)} problem{'s' if len(problems) > 1 else ''}; nothing was run):\n  - {listing}")
