"""A run that fails before its first training step leaves nothing but its log.

By then the run directory may hold Hydra's config copies, a CSV or TensorBoard folder, an empty
`checkpoints/`, sample or metric files of the sanity check and, before W&B runs were created
lazily, an offline W&B run that `wandb sync` would upload as an empty run. None of it is a
result. The log stays: it holds the error and what led to it. Only folders this command created
are cleaned (never a resumed run's directory), and only inside that folder.
"""

from __future__ import annotations

import shutil
from pathlib import Path


def discard_failed_start(output_dir: Path, log_name: str) -> list[str]:
    """Remove everything in `output_dir` except `<log_name>.log`; returns what was removed."""
    keep = f"{log_name}.log"
    removed = []
    if not output_dir.is_dir():
        return removed
    for entry in sorted(output_dir.iterdir()):
        if entry.name == keep:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry.name)
    return removed
