"""Reading run directories for compare.py (report/runs.py): which row of an epoch a curve shows,
which metric names the tables list, what a failed run is, and a history cut by a kill."""

from __future__ import annotations

import json
from pathlib import Path

from genstyle.report.runs import Run, curve, metric_keys, read_run
from genstyle.sweep import markers


def run_with(history: list[dict] | None = None, metrics: dict | None = None) -> Run:
    return Run(Path("run"), [], {}, metrics or {}, history or [], None, "done")


def test_a_curve_shows_the_last_row_of_each_epoch():
    # Lightning logs several rows an epoch (steps, then the epoch's validation): the last one counts.
    history = [{"epoch": 0, "step": 5, "val/fid": 90.0}, {"epoch": 0, "step": 10, "val/fid": 80.0},
               {"epoch": 1, "step": 20, "val/fid": 70.0}, {"epoch": 1, "step": 21, "train/loss": 1.0}, {"val/fid": 1.0}]
    assert curve(run_with(history), "val/fid") == ([0, 1], [80.0, 70.0])
    assert curve(run_with(history), "val/kid") == ([], [])


def test_metric_names_leave_out_step_values_and_lightnings_epoch_duplicates():
    metrics = {"train/loss": 1.0, "train/loss_epoch": 1.0, "train/loss_step": 1.2, "train/gram_epoch": 2.0, "val/kid": 0.1,
               "val/fid": 3.0, "stability/grad_norm_d": 4.0, "test/fid": 5.0, "epoch": 1.0}
    assert metric_keys([run_with(metrics=metrics)]) == ["val/fid", "val/kid", "test/fid", "train/gram_epoch", "train/loss",
                                                        "stability/grad_norm_d"]


def test_a_run_that_failed_after_writing_metrics_is_failed(tmp_path: Path):
    (tmp_path / "metrics.json").write_text(json.dumps({"val/fid": 30.0}))  # e.g. it failed in the test stage
    markers.write_failed(tmp_path, "error: the disk is full", "Traceback ...")
    run = read_run(tmp_path)
    assert (run.status, run.error, run.metrics) == ("failed", "error: the disk is full", {"val/fid": 30.0})
    markers.clear(tmp_path)
    assert read_run(tmp_path).status == "done"  # metrics and no marker: a finished single run


def test_a_history_line_cut_by_a_kill_is_skipped_and_the_rest_kept(tmp_path: Path):
    rows = [{"epoch": 0, "val/fid": 50.0}, {"epoch": 1, "val/fid": 40.0}]
    (tmp_path / "metrics_history.jsonl").write_text(json.dumps(rows[0]) + '\n{"epoch": 1, "val/f\n' + json.dumps(rows[1]) + "\n")
    assert read_run(tmp_path).history == rows
