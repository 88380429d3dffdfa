"""What the commands other than train.py share before and after their work:

- `check_options`: every numeric option of generate.py, evaluate.py, stylize.py and rate.py
  (their conf/<command>.yaml, `metrics.*` included) checked against one table of bounds, so
  `n_styles=100000` or `seed=abc` is a message instead of a traceback or a process the kernel kills;
  `device=` checked against what this machine has.
- `command`: the decorator of those commands' `main`: the checks above, user errors as
  `error: ...` and exit 2 (`errors.report_user_errors`), and Ctrl-C / SIGTERM as one line and exit
  130 / 143 instead of a traceback.

train.py checks its own config (`genstyle.config_check`) and handles its signals itself
(`genstyle.cli.signals`): it checkpoints and says how to resume.
"""

from __future__ import annotations

import functools
import math
import signal
import sys
from collections.abc import Callable, Iterator
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from genstyle.errors import GenstyleError, report_user_errors

SEED_MAX = 2**32 - 1  # numpy's and torch's seed range
# kind, low, high (inclusive), whether null is accepted. Sized so the largest accepted value still
# runs on an ordinary machine (n=1000000 samples: 3 GB of uint8 28x28 images).
INT, FLOAT = "integer", "number"
Bound = tuple[str, float, float, bool]
METRIC_BOUNDS: dict[str, Bound] = {
    "num_real": (INT, 2, 1_000_000, True), "min_samples": (INT, 2, 1_000_000, False),
    "kid_subsets": (INT, 1, 10_000, False), "kid_subset_size": (INT, 2, 100_000, False),
    "isc_splits": (INT, 1, 100, False), "prc_neighborhood": (INT, 1, 1_000, False),
    "subset_seed": (INT, 0, SEED_MAX, False), "mode_min_share": (FLOAT, 0, 1, False),
    "collapse_min_active_fraction": (FLOAT, 0, 1, False),
}
BOUNDS: dict[str, dict[str, Bound]] = {
    "generate": {"n": (INT, 1, 1_000_000, False), "seed": (INT, 0, SEED_MAX, False), "nrow": (INT, 1, 4096, True)},
    "evaluate": {"num_samples": (INT, 1, 1_000_000, False), "seed": (INT, 0, SEED_MAX, False),
                 "batch_size": (INT, 1, 100_000, False), "latent_samples": (INT, 1, 1_000_000, False),
                 "style_pairs": (INT, 1, 1_000_000, False),
                 **{f"metrics.{k}": v for k, v in METRIC_BOUNDS.items()}},
    "stylize": {"steps": (INT, 1, 100_000, False), "style_weight": (FLOAT, 0, 1e9, False),
                "n_styles": (INT, 1, 256, True), "seed": (INT, 0, SEED_MAX, False), "alpha": (FLOAT, 0, 1, True)},
    "rate": {"n": (INT, 1, 10_000, False), "seed": (INT, 0, SEED_MAX, False), "batch_size": (INT, 1, 100_000, False)},
}
NOT_NUMBERS = {"paths", "hydra"}  # folders, not options


def numeric_leaves(cfg: DictConfig, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted key, value) of every int or float value of `cfg` (bools excluded), unresolved ones skipped."""
    for key in cfg:
        if not prefix and key in NOT_NUMBERS:
            continue
        try:
            value = cfg[key]
        except Exception:
            continue
        name = f"{prefix}{key}"
        if isinstance(value, DictConfig):
            yield from numeric_leaves(value, f"{name}.")
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            yield name, value


def _describe(bound: Bound) -> str:
    kind, low, high, nullable = bound
    fmt = (lambda v: f"{int(v):,}".replace(",", "_") if kind == INT else f"{v:g}")  # noqa: E731
    return f"{'an' if kind == INT else 'a'} {kind} in [{fmt(low)}, {fmt(high)}]" + (" or null" if nullable else "")


def _fits(bound: Bound, value: Any) -> bool:
    kind, low, high, nullable = bound
    if value is None:
        return nullable
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if kind == INT and not isinstance(value, int):
        return False
    return math.isfinite(value) and low <= value <= high


def option_problems(cfg: DictConfig, command: str) -> list[str]:
    bounds = BOUNDS.get(command, {})
    problems = []
    for key, bound in bounds.items():
        node, _, last = key.rpartition(".")
        parent = OmegaConf.select(cfg, node) if node else cfg
        if not isinstance(parent, DictConfig) or last not in parent:
            continue
        value = parent[last]
        if isinstance(value, (DictConfig, ListConfig)) or not _fits(bound, value):
            shown = OmegaConf.to_container(value) if isinstance(value, (DictConfig, ListConfig)) else value
            problems.append(f"{key}={shown!r}: must be {_describe(bound)}.")
    return problems


def check_device(device: Any) -> None:
    """`device=cuda` on a machine without one is a message, not torch's traceback at the first tensor."""
    import torch

    text = str(device)
    kind, _, index = text.partition(":")
    if kind == "cpu" and not index:
        return
    if kind == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise GenstyleError(f"device={text}: this machine has no CUDA GPU that PyTorch can use; pass device=cpu.")
        if index and not (index.isdigit() and int(index) < count):
            raise GenstyleError(f"device={text}: this machine has {count} CUDA GPU(s), cuda:0..cuda:{count - 1}.")
        return
    if kind == "mps" and not index:
        if not torch.backends.mps.is_available():
            raise GenstyleError("device=mps: this machine has no Apple GPU that PyTorch can use; pass device=cpu.")
        return
    raise GenstyleError(f"device={text}: not a device; use cpu, cuda (or cuda:N) or mps.")


def check_options(cfg: DictConfig, command: str) -> None:
    """One GenstyleError listing every out-of-range numeric option of `command`'s config, then the device."""
    problems = option_problems(cfg, command)
    if problems:
        listing = "\n  - ".join(problems)
        raise GenstyleError(f"invalid option{'s' if len(problems) > 1 else ''} (nothing was run):\n  - {listing}")
    if "device" in cfg:
        check_device(cfg.device)


class Stopped(KeyboardInterrupt):
    """SIGTERM, raised where the command is, like Ctrl-C's KeyboardInterrupt."""


def _raise_stopped(signum: int, frame: Any) -> None:
    raise Stopped()


def command(name: str, interrupted: str = "no output was written") -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator of a command's `main(cfg)`: options checked, user errors reported, and an interrupt
    ends it with one line (`interrupted` says what it leaves) and 130 (Ctrl-C) or 143 (SIGTERM)."""

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        def wrapper(cfg: DictConfig, *args: Any, **kwargs: Any) -> Any:
            previous = signal.getsignal(signal.SIGTERM)
            signal.signal(signal.SIGTERM, _raise_stopped)
            try:
                check_options(cfg, name)
                return func(cfg, *args, **kwargs)
            except KeyboardInterrupt as stop:
                signum = signal.SIGTERM if isinstance(stop, Stopped) else signal.SIGINT
                print(f"{signum.name}: {name}.py stopped before it finished; {interrupted}.", file=sys.stderr, flush=True)
                sys.exit(128 + signum)
            finally:
                signal.signal(signal.SIGTERM, previous)

        return report_user_errors(wrapper)

    return decorate
