"""Turns the failures a long run meets (out of memory, a full or read-only disk) into a message
that says what happened, what is still safe, and how to go on."""

from __future__ import annotations

import errno
from pathlib import Path

import torch

from genstyle.errors import GenstyleError

DISK_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EFBIG}


def _chain(exc: BaseException | None):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def is_out_of_memory(exc: BaseException) -> bool:
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
