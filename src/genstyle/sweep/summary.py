"""`sweep.json`: one summary of a finished `-m` sweep, and the sweep's exit status.

Registered in conf/hydra/default.yaml as a Hydra callback. It creates the sweep directory up
front (the Optuna sweeper keeps its SQLite storage there). At the end of the sweep it reads every
job directory (the markers written by `genstyle.sweep.job`, `.hydra/overrides.yaml` and
`metrics.json`) and writes `<sweep dir>/sweep.json`. When any job failed, the command exits with
status 1 after the summary is written, so scripts and CI notice; the other jobs ran to the end.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

import yaml
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from genstyle.files import write_text_atomic
from genstyle.sweep import markers

log = logging.getLogger("genstyle.sweep")
EXIT_JOBS_FAILED = 1


def job_dirs(sweep_dir: Path) -> list[Path]:
    """Directories of the sweep's jobs (those Hydra wrote `.hydra/overrides.yaml` into), in job order."""
    found = [p.parent.parent for p in sweep_dir.glob("**/.hydra/overrides.yaml")]
    found = [p for p in found if p != sweep_dir]

    def order(path: Path) -> tuple:
        head = path.name.split("_", 1)[0]
        return (int(head), path.name) if head.isdigit() else (1 << 30, path.name)

    return sorted(found, key=order)


def read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def job_status(job_dir: Path) -> str:
    """done | failed | incomplete (started but never finished, e.g. killed)."""
    if markers.read_failed(job_dir) is not None:
        return "failed"
    if markers.read_done(job_dir) is not None:
        return "done"
    return "incomplete"


def summarize_job(job_dir: Path, sweep_dir: Path) -> dict[str, Any]:
    overrides = yaml.safe_load((job_dir / ".hydra" / "overrides.yaml").read_text()) or []
    entry: dict[str, Any] = {
        "dir": str(job_dir.relative_to(sweep_dir)),
        "overrides": [str(o) for o in overrides],
        "status": job_status(job_dir),
        "metrics": read_json(job_dir / "metrics.json"),
    }
    if entry["status"] == "failed":
        entry["error"] = markers.read_failed(job_dir)
    return entry


def summarize_sweep(sweep_dir: Path) -> dict[str, Any]:
    jobs = [summarize_job(d, sweep_dir) for d in job_dirs(sweep_dir)]
    counts = {s: sum(j["status"] == s for j in jobs) for s in ("done", "failed", "incomplete")}
    return {"sweep_dir": str(sweep_dir), "counts": counts, "jobs": jobs}


class SweepSummary(Callback):
    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        # The Optuna sweeper opens its SQLite storage in the sweep directory before any job runs.
        Path(config.hydra.sweep.dir).mkdir(parents=True, exist_ok=True)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        if not sweep_dir.is_dir():
            return
        summary = summarize_sweep(sweep_dir)
        write_text_atomic(sweep_dir / "sweep.json", json.dumps(summary, indent=2, allow_nan=True) + "\n")
        counts = summary["counts"]
        log.info("Sweep summary: %s (%d done, %d failed)", sweep_dir / "sweep.json", counts["done"], counts["failed"])
        failed = [j for j in summary["jobs"] if j["status"] == "failed"]
        if failed:
            lines = "\n".join(f"  {j['dir']}: {j['error']}" for j in failed)
            print(
                f"error: {len(failed)} of {len(summary['jobs'])} sweep jobs failed (the others ran to the end):\n{lines}\n"
                f"Details in each job's `failed` file; summary in {sweep_dir / 'sweep.json'}.",
                file=sys.stderr,
            )
            # SystemExit passes through Hydra's error reporting: a plain exit status, no traceback.
            sys.exit(EXIT_JOBS_FAILED)
