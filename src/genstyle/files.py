"""The one atomic writer: a reader (or a crash) never sees half a file.

Every file genstyle writes whole (results, images, figures, checkpoints, weights, markers) goes
through `write_atomic`; logs that grow by appending (metrics_history.jsonl, the CSV logger) do not.
The content is written to a temporary file in the target's folder (`.<name>.<random>.tmp`),
flushed and fsynced, then renamed over the target with `os.replace`, which is atomic on POSIX
within one file system. The target is therefore always the previous complete file or the new complete one; when writing fails
(an exception in the serialiser, a full disk, Ctrl-C) the temporary file is removed and the old
target is untouched. The helpers below are the same write for bytes, text, JSON and torch objects;
PNG images and figures are encoded to bytes first (`images.save_png`, `report.plots.save_figure`).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

# mkstemp creates files readable by their owner only; results are meant to be shared (as a plain
# open() under the usual umask 022 would create them).
FILE_MODE = 0o644


def write_atomic(path: str | Path, write: Callable[[IO[bytes]], Any]) -> Path:
    """Call `write(fh)` on a binary temporary file beside `path`, then rename it over `path`.
    Creates the folder when missing; returns `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())  # the bytes are on disk before the rename makes them visible
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    return write_atomic(path, lambda fh: fh.write(data))


def write_text_atomic(path: str | Path, text: str, encoding: str = "utf-8") -> Path:
    """`text` as given: no newline translation (a csv module's `\\r\\n` stays `\\r\\n`)."""
    return write_bytes_atomic(path, text.encode(encoding))


def write_json_atomic(path: str | Path, data: Any) -> Path:
    """`data` as indented JSON with sorted keys and a final newline (NaN and inf written as JSON's
    usual extension, as json.dumps does)."""
    return write_text_atomic(path, json.dumps(data, indent=2, sort_keys=True, allow_nan=True) + "\n")


def save_torch_atomic(obj: Any, path: str | Path) -> Path:
    """`torch.save(obj)` to `path` atomically (checkpoints, weights files, feature caches)."""
    import torch

    return write_atomic(path, lambda fh: torch.save(obj, fh))
