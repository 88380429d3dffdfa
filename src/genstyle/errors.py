"""Everything about user-facing failures, in one place.

- `GenstyleError` and `require`: the one exception type for problems a user can fix.
- `explain_failure`: turns what a long run meets (out of memory, a full or read-only disk) into a
  message that says what happened, what is still safe and how to go on.
- `user_error_in`: the user-fixable error behind a wrapped exception (Hydra, Lightning).
- `exit_with_user_error` and `report_user_errors`: the one place that prints `error: ...` on
  stderr and exits with status 2 (HYDRA_FULL_ERROR=1 re-raises, for the full traceback).
"""

from __future__ import annotations

import errno
import functools
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

EXIT_USER_ERROR = 2
DISK_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EFBIG}


class GenstyleError(Exception):
    """A problem the user can fix: bad config, missing data, wrong checkpoint.

    The message is shown as-is (no traceback), so it must say what was wrong and how to fix it.
    """


class TrainingInterrupted(BaseException):
    """Training stopped on SIGINT / SIGTERM (`callbacks.interrupt_checkpoint.GracefulInterrupt`). A BaseException,
    like KeyboardInterrupt: not a failure that sweeps record and go on from, and no `except Exception`
    may swallow it. `checkpoint` is the file written for the current step, or None."""

    def __init__(self, signum: int, checkpoint: Path | None, epoch: int, step: int) -> None:
        import signal

        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.checkpoint = checkpoint
        self.epoch = epoch
        self.step = step

    @property
    def exit_status(self) -> int:
        return 128 + self.signum  # what a shell reports for a process ended by that signal


class AbortedByUser(KeyboardInterrupt):
    """The second Ctrl-C: stop at once, without a checkpoint."""


def require(condition: bool, message: str) -> None:
    """Raise a GenstyleError with `message` unless `condition` holds."""
    if not condition:
        raise GenstyleError(message)


def file_problem(path: Path, kind: str = "file") -> str | None:
    """Why `path` cannot be read as a `kind` ("image file", "votes file"), worded to follow the path
    in a message (`f"style={path}{problem} ..."`): None for a regular file (or a link to one);
    " is a folder, not an image file"; " is not a regular file (a device, pipe or socket), so not an
    image file"; ": no such image file" when nothing is there (a broken link too). The one check of
    an input file, so that a folder given for a file is never reported as missing."""
    if path.is_file():
        return None
    article = "an" if kind[:1].lower() in "aeiou" else "a"
    if path.is_dir():
        return f" is a folder, not {article} {kind}"
    if path.exists():
        return f" is not a regular file (a device, pipe or socket), so not {article} {kind}"
    return f": no such {kind}"


# --- faults a long run meets ---------------------------------------------------------------------

def _chain(exc: BaseException | None) -> Iterator[BaseException]:
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def is_out_of_memory(exc: BaseException) -> bool:
    import torch

    oom_types = tuple(t for t in (getattr(torch, "OutOfMemoryError", None), getattr(torch.cuda, "OutOfMemoryError", None), MemoryError) if t)
    return isinstance(exc, oom_types) or (isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower())


def resume_hint(run_dir: Path) -> str:
    last = run_dir / "checkpoints" / "last.ckpt"
    if last.is_file():
        return f"The last good checkpoint is {last}; continue with `python train.py <same overrides> ckpt_path=last hydra.run.dir={run_dir}`."
    return "No checkpoint had been written yet; start the run again."


def explain_failure(exc: BaseException, run_dir: Path, batch_size: int | None = None) -> GenstyleError | None:
    """A GenstyleError for an out-of-memory or disk failure anywhere in `exc`'s chain, else None."""
    for err in _chain(exc):
        if isinstance(err, GenstyleError):
            return None  # already a user message (e.g. AtomicCheckpointIO's)
        if is_out_of_memory(err):
            size = f" (data.batch_size={batch_size})" if batch_size else ""
            return GenstyleError(
                f"Out of memory during training{size}: {str(err).splitlines()[0][:200]}. Lower data.batch_size, use "
                "trainer.precision=bf16-mixed on a GPU, or pick smaller networks (model.*.base_channels). " + resume_hint(run_dir)
            )
        if isinstance(err, OSError) and err.errno in DISK_ERRNOS:
            where = err.filename or "a file in the run directory"
            return GenstyleError(
                f"Could not write {where}: {err.strerror or err} (errno {err.errno}). Free disk space or make the "
                "folder writable; files written atomically (checkpoints, sample grids, metrics.json) are left complete. "
                + resume_hint(run_dir)
            )
    return None


# --- turning user errors into a message and exit status 2 ----------------------------------------

def user_error_in(exc: BaseException) -> BaseException | None:
    """The user-fixable error behind `exc`, looking through wrappers (Hydra's
    InstantiationException, Lightning's re-raises) via the cause/context chain."""
    from omegaconf.errors import MissingMandatoryValue

    # Lightning's exception can only exist once Lightning is imported: a config error must not pay
    # for importing it (start-up time)
    lightning = sys.modules.get("pytorch_lightning.utilities.exceptions")
    user_types = (GenstyleError, lightning.MisconfigurationException) if lightning else (GenstyleError,)
    for err in _chain(exc):
        if isinstance(err, user_types):
            return err
        if isinstance(err, MissingMandatoryValue):  # a `???` value the user did not give
            key = getattr(err, "full_key", None) or str(err).split(":", 1)[-1].split()[0]
            return GenstyleError(f"{key} is required and was not given; add {key}=<value> to the command.")
        if isinstance(err, OSError) and err.errno in DISK_ERRNOS:  # read-only folder, full disk
            return GenstyleError(
                f"Could not write {err.filename or 'an output file'}: {err.strerror or err}. Choose a writable "
                "location (out=... or hydra.run.dir=...) or free disk space; no partial file was left behind."
            )
    return None


def exit_with_user_error(error: BaseException) -> NoReturn:
    """Print `error: <message>` on stderr and exit 2; with HYDRA_FULL_ERROR=1 re-raise instead."""
    if os.environ.get("HYDRA_FULL_ERROR") == "1":
        raise error
    print(f"error: {error}", file=sys.stderr)
    sys.exit(EXIT_USER_ERROR)


def report_user_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Decorator for the commands' `main`: user errors become `exit_with_user_error`, anything
    else keeps its traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except Exception as exc:
            user_error = user_error_in(exc)
            if user_error is None or os.environ.get("HYDRA_FULL_ERROR") == "1":
                raise
            exit_with_user_error(user_error)

    return wrapper
