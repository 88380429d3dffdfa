"""The run directory of `python train.py`, before and after Hydra creates it.

`ValidateConfig` is a Hydra callback (conf/hydra/default.yaml): it checks the config of a single
run before Hydra creates its run directory, so a bad config leaves nothing behind, and records
what it found as a `RunDirRecord` (did the folder exist already, which folders Hydra is about to
create). The train command asks for that record (`ValidateConfig.record_for`) and passes it on
explicitly, so a run that fails before training removes exactly what this command created.
"""

from __future__ import annotations

import os
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

            resolve_ckpt_path(config.get("ckpt_path"), run_dir)
        except GenstyleError as err:
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
