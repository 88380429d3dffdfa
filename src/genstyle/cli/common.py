"""What every command shares: where the configs live, and cleaning up after a run that never
started. (Turning user errors into a message and exit status 2: `genstyle.errors`.)"""

from __future__ import annotations

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
