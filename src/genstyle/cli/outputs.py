"""Checks on where a command will write, done before any work, so a bad `out=` is a message and
exit 2 instead of a NotADirectoryError / FileExistsError traceback after minutes of sampling."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from genstyle.errors import GenstyleError


def file_in_the_way(path: Path) -> Path | None:
    """The first existing ancestor of `path` that is a file, not a folder (e.g. out=notes.txt/x.png)."""
    for parent in reversed(path.parents):
        if parent.exists() and not parent.is_dir():
            return parent
    return None


def check_output_location(path: Path, key: str = "out") -> None:
    blocker = file_in_the_way(path)
    if blocker is not None:
        raise GenstyleError(
            f"{key}={path}: {blocker} is a file, so nothing can be written inside it. Give a path whose folders "
            f"are folders (or do not exist yet), e.g. {key}={blocker.parent / 'results' / path.name}."
        )


def plural(count: int, noun: str, many: str | None = None) -> str:
    """`1 image`, `2 images`."""
    return f"{count} {noun if count == 1 else many or noun + 's'}"


def unwritable(folder: Path) -> str | None:
    """Why nothing can be written in `folder` (or the folders that would be created for it), or
    None. The probe is a temporary folder in the nearest existing one, removed at once."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is not a folder"
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".genstyle-probe-", dir=existing))
    except OSError as err:
        return f"{err.strerror or err} at {existing}"
    return None
