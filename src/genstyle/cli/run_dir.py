"""The run directory of `python train.py`, before and after Hydra creates it.

`ValidateConfig` is a Hydra callback (conf/hydra/default.yaml): it checks the config of a single
run before Hydra creates its run directory, so a bad config leaves nothing behind, and records
what it found as a `RunDirRecord` (did the folder exist already, which folders Hydra is about to
create). The train command asks for that record (`ValidateConfig.record_for`) and passes it on
explicitly, so a run that fails before training removes exactly what this command created.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from omegaconf import DictConfig

from genstyle.config_check import check_config
from genstyle.errors import GenstyleError, exit_with_user_error

try:
    from hydra.experimental.callback import Callback as _HydraCallback
except ImportError:  # pragma: no cover - hydra is a dependency; this keeps the module importable alone
    _HydraCallback = object


def _key(run_dir: str | Path) -> str:
    return str(Path(run_dir).expanduser().resolve())


@dataclass(frozen=True)
class RunDirRecord:
    """What the run directory looked like before this command."""

    existed: bool  # a resume into an existing run: its folder is never cleaned up after a failure
    created_from: Path | None = None  # the outermost folder Hydra was about to create, if any

    def remove_created_folders(self, run_dir: str | Path) -> None:
        """After a run that never started: remove the (now empty) folders Hydra created for it,
        e.g. outputs/runs/<date>/, so a failed command leaves nothing behind."""
        if self.created_from is None:
            return
        folder = Path(_key(run_dir))
        while True:
            try:
                folder.rmdir()  # only empty folders: anything else stays
            except FileNotFoundError:
                pass  # the run directory itself, already removed with its last file
            except OSError:
                return
            if folder == self.created_from or folder.parent == folder:
                return
            folder = folder.parent


class ValidateConfig(_HydraCallback):
    """Checks a single run's config before Hydra creates its run directory. When the run directory
    already holds a run (resuming with ckpt_path=last), Hydra's copies of the new config go to
    `.hydra/resumed/` so the original `.hydra/config.yaml` is kept."""

    # Filled by `on_run_start` (Hydra builds the callback, so the command cannot hand it a
    # container); read only through `record_for`.
    _records: ClassVar[dict[str, RunDirRecord]] = {}

    @classmethod
    def record_for(cls, run_dir: str | Path) -> RunDirRecord | None:
        """The record of `run_dir`, or None when no Hydra single run checked it (sweeps, tests)."""
        return cls._records.get(_key(run_dir))

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        try:
            check_search_space(config)
        except GenstyleError as err:
            exit_with_user_error(err)

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        from hydra.core.hydra_config import HydraConfig
        from omegaconf import read_write

        HydraConfig.instance().set_config(config)  # lets ${hydra:...} values resolve where they can
        try:
            check_config(config)
        except GenstyleError as err:
            exit_with_user_error(err)
        try:
            run_dir = Path(_key(str(config.hydra.run.dir)))
        except Exception:
            return
        created_from = None
        if not run_dir.exists():
            created_from = run_dir
            while not created_from.parent.exists() and created_from.parent != created_from.parent.parent:
                created_from = created_from.parent  # the folders Hydra is about to create, outermost first
            exit_on_unwritable(run_dir)
        type(self)._records[str(run_dir)] = RunDirRecord(existed=run_dir.exists(), created_from=created_from)
        try:  # a `ckpt_path` that points nowhere fails before Hydra writes into an existing run folder
            from genstyle.checkpoints import (
                resolve_ckpt_path,  # torch: only once the config is valid
            )

            resumed = resolve_ckpt_path(config.get("ckpt_path"), run_dir)
            if is_first_rank():  # DDP's other ranks start in the folder rank 0 holds
                acquire_run_lock(run_dir)
                claim_run_dir(run_dir, resumed, bool(config.get("overwrite", False)))
        except GenstyleError as err:
            release_run_lock(run_dir)  # a refused run leaves the folder as it was
            exit_with_user_error(err)
        subdir = config.hydra.get("output_subdir")
        if subdir and (run_dir / subdir / "config.yaml").is_file():
            with read_write(config.hydra):  # Hydra's own config is read-only
                config.hydra.output_subdir = f"{subdir}/resumed"


def exit_on_unwritable(run_dir: Path) -> None:
    """Fail cleanly when the run directory cannot be created, instead of Hydra's traceback. The
    probe is a temporary folder in the nearest existing parent, removed at once."""
    parent = run_dir.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    try:
        if not parent.is_dir():
            raise NotADirectoryError(20, "Not a directory", str(parent))
        os.rmdir(tempfile.mkdtemp(prefix=".genstyle-probe-", dir=parent))
    except OSError as err:
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        exit_with_user_error(GenstyleError(
            f"hydra.run.dir={run_dir}: the run directory cannot be created ({err.strerror or err} at {parent}). "
            "Choose a writable folder with hydra.run.dir=... or paths.log_dir=..."
        ))


# --- one run per folder --------------------------------------------------------------------------

LOCK_NAME = ".genstyle.lock"
# What a training run writes into its folder; overwrite=true removes these, and nothing else.
RUN_ENTRIES = (".hydra", "checkpoints", "samples", "eval_samples", "views", "csv", "wandb", "wandb_fallback",
               "tensorboard", "lightning_logs", "metrics.json", "metrics_history.jsonl", "eval.json", "timing.json",
               "wandb_run_id", "train.log")
_held_locks: dict[str, int] = {}  # run dir -> the open file descriptor whose flock this process holds


def is_first_rank() -> bool:
    """False in the processes DDP starts for ranks 1..N-1 (they re-run the command in rank 0's folder)."""
    return os.environ.get("LOCAL_RANK", "0") == "0" and os.environ.get("NODE_RANK", "0") == "0"


def holds_a_run(run_dir: Path) -> bool:
    """Whether `run_dir` already holds a training run (its config copy or its checkpoints)."""
    checkpoints = run_dir / "checkpoints"
    return (run_dir / ".hydra" / "config.yaml").is_file() or (checkpoints.is_dir() and any(checkpoints.iterdir()))


def claim_run_dir(run_dir: Path, resumed: str | None, overwrite: bool) -> None:
    """A folder that holds another run is refused, unless this run resumes from one of its
    checkpoints (`ckpt_path=last`) or `overwrite=true` asks to replace that run."""
    if not holds_a_run(run_dir):
        return
    if resumed is not None and Path(resumed).resolve().is_relative_to(run_dir):
        return  # resuming this very run: it continues in its folder
    if not overwrite:
        raise GenstyleError(
            f"hydra.run.dir={run_dir} already holds a run (its checkpoints and config would be overwritten or mixed "
            "with this one's). Resume it with ckpt_path=last, choose another folder with hydra.run.dir=..., or pass "
            "overwrite=true to delete that run and start a new one there."
        )
    for name in RUN_ENTRIES:
        path = run_dir / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()
    print(f"overwrite=true: removed the earlier run's files from {run_dir}.", flush=True)


def acquire_run_lock(run_dir: Path) -> None:
    """Hold `<run dir>/.genstyle.lock` (an flock, with this process's pid in the file) for the life of
    this process, so a second training into the same folder is refused instead of mixing files. The
    kernel drops the flock when its process dies, so the lock of a killed run is taken over."""
    import fcntl

    key = str(run_dir)
    if key in _held_locks:
        return
    run_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(run_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise GenstyleError(
            f"hydra.run.dir={run_dir} is in use by another training (pid {holder}, lock file {run_dir / LOCK_NAME}). "
            "Wait for it to finish (or stop it), or choose another folder with hydra.run.dir=..."
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    _held_locks[key] = fd
    atexit.register(release_run_lock, run_dir)


def release_run_lock(run_dir: str | Path) -> None:
    """Remove the lock this process holds on `run_dir` (nothing when it holds none)."""
    key = _key(run_dir)
    fd = _held_locks.pop(key, None)
    if fd is None:
        return
    Path(key, LOCK_NAME).unlink(missing_ok=True)
    os.close(fd)


def check_search_space(config: DictConfig) -> None:
    """An Optuna search space (hydra.sweeper.params, or `key=interval(a, b)` on the command line)
    whose low bound is above its high bound is a message before the sweep starts, not Optuna's
    traceback from inside the sweeper."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import IntervalSweep, RangeSweep

    sweeper = config.hydra.get("sweeper") or {}
    params = sweeper.get("params") or {}
    specs = [f"{key}={value}" for key, value in params.items() if isinstance(value, str)]
    specs += [str(o) for o in config.hydra.overrides.get("task") or []]
    parser = OverridesParser.create()
    problems = []
    for spec in specs:
        try:
            (override,) = parser.parse_overrides([spec])
            value = override.value()
        except Exception:
            continue  # not a search space; Hydra reports its own syntax errors
        key = override.get_key_element()
        if isinstance(value, IntervalSweep) and value.start is not None and value.end is not None and value.start > value.end:
            problems.append(f"{key}: interval({value.start}, {value.end}) has its low bound above its high bound; "
                            f"write interval({value.end}, {value.start}).")
        elif isinstance(value, RangeSweep) and value.start is not None and value.stop is not None and value.step is not None:
            if (value.step > 0 and value.start >= value.stop) or (value.step < 0 and value.start <= value.stop):
                problems.append(f"{key}: range({value.start}, {value.stop}, step={value.step}) holds no value; "
                                "the start must be below the stop for a positive step.")
    if problems:
        raise GenstyleError("the search space is empty or reversed (nothing was run):\n  - " + "\n  - ".join(problems))
