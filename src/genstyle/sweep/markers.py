"""Files that say what happened to one job of a sweep, readable without any logger.

`done`   JSON `{"overrides": [...], "config_sha256": ..., "finished": ISO time, "metrics": {...}, "return_value": x}`, written last, so a
         job directory with `done` holds a complete run.
`failed` plain text: the one-line error first, then the traceback.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from genstyle.files import write_text_atomic

DONE = "done"
FAILED = "failed"


def write_done(
    job_dir: Path, overrides: list[str], metrics: dict[str, float], return_value: float | None = None, config_sha256: str = ""
) -> None:
    record = {
        "overrides": list(overrides),
        "config_sha256": config_sha256,  # the resolved config the job ran with
        "finished": datetime.now(timezone.utc).isoformat(),
        "metrics": metrics,
        "return_value": return_value,  # what the task returned to the sweeper, replayed on a skip
    }
    write_text_atomic(job_dir / DONE, json.dumps(record, indent=2, sort_keys=True, allow_nan=True) + "\n")


def write_failed(job_dir: Path, summary: str, details: str) -> None:
    write_text_atomic(job_dir / FAILED, f"{summary}\n\n{details}")


def read_done(job_dir: Path) -> dict | None:
    """The `done` record, or None when absent or unreadable (a half-written marker is not done)."""
    try:
        return json.loads((job_dir / DONE).read_text())
    except (OSError, ValueError):
        return None


def read_failed(job_dir: Path) -> str | None:
    """The one-line error of a failed job (None when the job did not fail)."""
    try:
        text = (job_dir / FAILED).read_text()
    except OSError:
        return None
    return text.split("\n\n", 1)[0].strip() or "failed (no message recorded)"


def clear(job_dir: Path) -> None:
    """Forget the outcome of an earlier attempt before the job runs again."""
    for name in (DONE, FAILED):
        (job_dir / name).unlink(missing_ok=True)
