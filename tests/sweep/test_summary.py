"""sweep.json's reading of job directories (sweep/summary.py): job order, and what counts as
done, failed or incomplete."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from genstyle.report.runs import find_runs
from genstyle.sweep import markers
from genstyle.sweep.summary import job_dirs, summarize_sweep


def job(sweep: Path, name: str, state: str) -> Path:
    d = sweep / name
    (d / ".hydra").mkdir(parents=True)
    (d / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump([f"seed={name.split('_')[0]}"]))
    if state == "done":
        (d / "metrics.json").write_text(json.dumps({"val/fid": 1.0}))
        markers.write_done(d, [], {"val/fid": 1.0})
    elif state == "failed":
        markers.write_failed(d, "error: boom", "Traceback ...")
    return d


def test_jobs_are_in_job_number_order_past_ten(tmp_path: Path):
    for i in (0, 1, 2, 10, 11, 9):
        job(tmp_path, f"{i}", "done")
    job(tmp_path, "notes", "done")  # not a numbered job: last
    assert [d.name for d in job_dirs(tmp_path)] == ["0", "1", "2", "9", "10", "11", "notes"]
    assert [r.path.name for r in find_runs([tmp_path])] == ["0", "1", "2", "9", "10", "11", "notes"]


def test_counts_tell_done_failed_and_killed_jobs_apart(tmp_path: Path):
    job(tmp_path, "0", "done")
    job(tmp_path, "1", "failed")
    job(tmp_path, "2", "killed")  # started, never finished: no marker
    summary = summarize_sweep(tmp_path)
    assert summary["counts"] == {"done": 1, "failed": 1, "incomplete": 1}
    assert [(j["dir"], j["status"], j.get("error")) for j in summary["jobs"]] == [
        ("0", "done", None), ("1", "failed", "error: boom"), ("2", "incomplete", None)]
    assert summary["jobs"][0]["metrics"] == {"val/fid": 1.0} and summary["jobs"][1]["overrides"] == ["seed=1"]
