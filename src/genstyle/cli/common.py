"""What every command shares: where the configs live, cleaning up after a run that never
started, and a quick exit after one that finished. (Turning user errors into a message and exit
status 2: `genstyle.errors`.)"""

from __future__ import annotations

import gc
from pathlib import Path

CONFIG_DIR = str(Path(__file__).resolve().parents[3] / "conf")
HYDRA_FILES = (".hydra/config.yaml", ".hydra/hydra.yaml", ".hydra/overrides.yaml")


def discard_unstarted_run(output_dir: Path, log_name: str) -> None:
    """Remove what Hydra wrote for a run that failed before training began, so the folder
    cannot be mistaken for a finished run. Only files this program created are touched."""
    for rel in (*HYDRA_FILES, f"{log_name}.log"):
        (output_dir / rel).unlink(missing_ok=True)
    for folder in (output_dir / ".hydra", output_dir):
        try:
            folder.rmdir()  # only succeeds when empty: a user's own files stay
        except OSError:
            pass


def exit_without_full_collections() -> None:
    """For a command whose work is done and written, just before the interpreter exits: collect the
    garbage it left now (so every finalizer that would run at exit still runs), then freeze what
    is left, so that the exit frees it without the garbage collector's full passes over it. With
    torch, Lightning and what they import in memory (about half a million objects) those passes
    took more than a second of a `python train.py debug=fast` run (docs/benchmarks.md)."""
    gc.collect()
    gc.freeze()
