"""benchmarks/style_side_by_side.py: the two networks' numbers of one row side by side, matched by
name (the own-features flag ignored for the match and shown as a mark), runs on other pairs or in
one network refused."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers.benchmark_scripts import load_benchmark, run_benchmark


def row(name: str, content_class: float, gram: float, fid: float) -> dict:
    return {
        "name": name, "num_pairs": 100, "content_class": content_class, "style_class": 0.1, "gram_dist": gram,
        "source_dependence": 0.5, "source_dependence_pixel": 0.6, "background_change": 0.01, "fid": fid,
        "content_fid": 1.0, "style_fid": 2.0,
    }


def run(network: str, rows: list[dict], num_pairs: int = 100) -> dict:
    return {"rows": rows, "protocol": {"network": network, "num_pairs": num_pairs, "seed": 0, "split": "test"}}


def write(tmp_path: Path, name: str, payload: dict) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(payload))
    return path


def test_each_row_shows_the_first_network_then_the_second_and_marks_own_features(tmp_path):
    script = load_benchmark("style_side_by_side")
    first = run("independent", [row("adain", 0.8, 0.82, 42.5), row("cvae", 0.7, 0.98, 23.0), row("only here", 0.5, 0.5, 5.0)])
    second = run("classifier", [row("adain [scored in its own loss network]", 0.9, 0.51, 6.7), row("cvae", 0.6, 1.13, 27.0)])
    lines, unmatched = script.side_by_side(first, second)
    adain = next(line for line in lines if line.startswith("| adain"))
    assert "80.0% / 90.0% *" in adain and "0.820 / 0.510 *" in adain and "42.50 / 6.70 *" in adain
    cvae = next(line for line in lines if line.startswith("| cvae"))
    assert "70.0% / 60.0% |" in cvae and "0.980 / 1.130 |" in cvae and "*" not in cvae
    assert unmatched == ["only here"]


def test_runs_on_other_pairs_or_in_one_network_are_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("HYDRA_FULL_ERROR", raising=False)  # the user's short message, not the traceback
    a = write(tmp_path, "a.json", run("independent", [row("x", 0.5, 0.5, 1.0)]))
    other_pairs = write(tmp_path, "b.json", run("classifier", [row("x", 0.5, 0.5, 1.0)], num_pairs=200))
    same_network = write(tmp_path, "c.json", run("independent", [row("x", 0.5, 0.5, 1.0)]))
    out = tmp_path / "table.md"
    assert run_benchmark("style_side_by_side", str(a), str(other_pairs), "--out", str(out)) == 2
    assert "num_pairs" in capsys.readouterr().err and not out.exists()
    assert run_benchmark("style_side_by_side", str(a), str(same_network), "--out", str(out)) == 2
    assert "one run per network" in capsys.readouterr().err and not out.exists()
