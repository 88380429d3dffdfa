"""Read run directories as written by `train.py` (no logger or account needed).

A run directory holds `.hydra/config.yaml`, `.hydra/overrides.yaml`, `metrics.json`,
`metrics_history.jsonl`, `samples/epoch_XXX.png` and, for sweep jobs, a `done` or `failed` marker.
"""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass
from pathlib import Path

import yaml

from genstyle.errors import GenstyleError
from genstyle.sweep import markers
from genstyle.sweep.summary import job_dirs

SEED_KEYS = ("seed", "+seed", "++seed")


@dataclass
class Run:
    path: Path
    overrides: list[str]
    config: dict
    metrics: dict[str, float]
    history: list[dict]
    samples: Path | None  # the last sample grid
    status: str  # done | failed | incomplete
    error: str | None = None
    configuration: str = ""  # overrides that differ between runs, seed excluded
    label: str = ""  # the configuration plus the seed
    human_rating: list[dict] | None = None  # eval.json's `human_rating` comparisons (rate.py score=...)

    @property
    def seed(self) -> object:
        return self.config.get("seed")


def _is_seed(override: str) -> bool:
    return override.split("=", 1)[0] in SEED_KEYS


def _read_history(path: Path) -> list[dict]:
    rows = []
    if path.is_file():
        for line in path.read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except ValueError:
                continue  # a line cut by a killed run; the rest is still good
    return rows


def _read_human_rating(path: Path) -> list[dict] | None:
    try:
        section = json.loads(path.read_text()).get("human_rating") or {}
    except (OSError, ValueError, AttributeError):
        return None
    comparisons = section.get("comparisons") if isinstance(section, dict) else None
    return [c for c in comparisons if isinstance(c, dict)] if isinstance(comparisons, list) else None


def _last_sample(run_dir: Path) -> Path | None:
    grids = sorted((run_dir / "samples").glob("*.png"))
    return grids[-1] if grids else None


def read_run(run_dir: Path) -> Run:
    hydra_dir = run_dir / ".hydra"
    config = yaml.safe_load((hydra_dir / "config.yaml").read_text()) if (hydra_dir / "config.yaml").is_file() else {}
    overrides = yaml.safe_load((hydra_dir / "overrides.yaml").read_text()) if (hydra_dir / "overrides.yaml").is_file() else []
    try:
        metrics = json.loads((run_dir / "metrics.json").read_text())
    except (OSError, ValueError):
        metrics = {}
    try:  # wall time (callbacks/timing.py), kept apart from the logged metrics
        metrics.update(json.loads((run_dir / "timing.json").read_text()))
    except (OSError, ValueError):
        pass
    error = markers.read_failed(run_dir)
    if error is not None:
        status = "failed"
    elif markers.read_done(run_dir) is not None or metrics:
        status = "done"
    else:
        status = "incomplete"
    return Run(
        human_rating=_read_human_rating(run_dir / "eval.json"),
        path=run_dir,
        overrides=[str(o) for o in overrides or []],
        config=config or {},
        metrics={k: float(v) for k, v in metrics.items() if isinstance(v, (int, float))},
        history=_read_history(run_dir / "metrics_history.jsonl"),
        samples=_last_sample(run_dir),
        status=status,
        error=error,
    )


def is_run_dir(path: Path) -> bool:
    return (path / ".hydra" / "overrides.yaml").is_file() or (path / "metrics.json").is_file()


def find_runs(paths: list[Path]) -> list[Run]:
    """Each path is a run directory or a sweep directory (all its job directories are read)."""
    runs: list[Run] = []
    given: dict[Path, Path] = {}  # run directory -> the path it was found through
    for path in paths:
        if path.exists() and not path.is_dir():
            raise GenstyleError(f"{path} is a file, not a directory. Give a sweep directory (outputs/multirun/<date>/<time>) or run directories.")
        if not path.is_dir():
            raise GenstyleError(f"{path}: no such directory. Give a sweep directory (outputs/multirun/<date>/<time>) or run directories.")
        dirs = [path] if is_run_dir(path) else job_dirs(path)
        if not dirs:
            raise GenstyleError(
                f"{path} holds no runs: expected a run directory (with .hydra/overrides.yaml or metrics.json) "
                "or a sweep directory containing such job directories."
            )
        for d in dirs:
            key = d.resolve()
            if key in given:
                how = "twice" if given[key] == path else f"twice (through {given[key]} and {path})"
                raise GenstyleError(f"{d} is given {how}; each run would enter the means and plots twice. Give each run once.")
            given[key] = path
        runs += [read_run(d) for d in dirs]
    label_runs(runs)
    return runs


def label_runs(runs: list[Run]) -> None:
    """Configuration = overrides minus seed, shown without the overrides every run shares."""
    shared = set.intersection(*(set(r.overrides) for r in runs)) if runs else set()
    for run in runs:
        varying = [o for o in run.overrides if o not in shared and not _is_seed(o)]
        run.configuration = " ".join(varying) or str(run.config.get("model", {}).get("_target_", "default")).rsplit(".", 1)[-1]
        run.label = f"{run.configuration} seed={run.seed}"


def configurations(runs: list[Run]) -> dict[str, list[Run]]:
    groups: dict[str, list[Run]] = {}
    for run in runs:
        groups.setdefault(run.configuration, []).append(run)
    return groups


def metric_keys(runs: list[Run]) -> list[str]:
    """Epoch-level metric names, most telling first (val/, test/, train/, stability/, rest)."""
    keys = {k for r in runs for k in r.metrics if not k.endswith("_step") and "/" in k}
    keys = {k for k in keys if not (k.endswith("_epoch") and k[: -len("_epoch")] in keys)}  # Lightning's duplicate
    return rank_keys(keys)


def rank_keys(keys) -> list[str]:
    rank = {"val": 0, "test": 1, "time": 2, "train": 3, "stability": 4}
    return sorted(keys, key=lambda k: (rank.get(k.split("/", 1)[0], 5), k != "val/fid", k))


def mean_std(values: list[float]) -> tuple[float, float, int]:
    """Mean and sample standard deviation over the finite values (std is 0 for one value)."""
    finite = [v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    if not finite:
        return math.nan, math.nan, 0
    return statistics.fmean(finite), (statistics.stdev(finite) if len(finite) > 1 else 0.0), len(finite)


def curve(run: Run, key: str) -> tuple[list[int], list[float]]:
    """(epochs, values) of one metric over training; the last row of an epoch wins."""
    by_epoch: dict[int, float] = {}
    for row in run.history:
        value = row.get(key)
        if isinstance(value, (int, float)) and "epoch" in row:
            by_epoch[int(row["epoch"])] = float(value)
    epochs = sorted(by_epoch)
    return epochs, [by_epoch[e] for e in epochs]
