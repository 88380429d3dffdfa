"""Atomic checkpoint writes: a kill or a full disk during a save never leaves a corrupt `.ckpt`.

Lightning writes `last.ckpt` in place; a SIGKILL in the middle leaves a truncated file that
cannot be resumed from. Here every checkpoint is written to a temporary file in the same folder
and renamed over the target (`os.replace` is atomic on POSIX within one file system), so the
target is always either the previous complete checkpoint or the new complete one.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from pytorch_lightning.plugins.io import TorchCheckpointIO

from genstyle.errors import GenstyleError
from genstyle.faults import DISK_ERRNOS


class AtomicCheckpointIO(TorchCheckpointIO):
    def save_checkpoint(self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any | None = None) -> None:
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} takes no storage_options, got {storage_options!r}.")
        path = Path(path)
        tmp = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            with os.fdopen(fd, "wb") as fh:
                torch.save(checkpoint, fh)
                fh.flush()
                os.fsync(fh.fileno())  # the bytes are on disk before the rename makes them visible
            os.chmod(tmp, 0o644)  # mkstemp creates 0600; checkpoints are meant to be shared
            os.replace(tmp, path)
        except OSError as err:
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)
            if err.errno in DISK_ERRNOS:
                previous = f"the previous {path.name} is intact" if path.is_file() else "no earlier checkpoint of this name exists"
                raise GenstyleError(
                    f"Could not write checkpoint {path}: {err.strerror or err} (errno {err.errno}); {previous}. "
                    "Free disk space or make the folder writable, then resume with ckpt_path=last "
                    f"hydra.run.dir={path.parent.parent}."
                ) from err
            raise
        except BaseException:
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)
            raise
