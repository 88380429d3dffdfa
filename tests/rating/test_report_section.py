"""compare.py shows the win rates that `rate.py score=` wrote into a run's eval.json."""

from __future__ import annotations

import json
from pathlib import Path

from genstyle.cli.compare import build_report
from tests.test_compare import make_run


def test_report_shows_human_rating(tmp_path: Path) -> None:
    root = tmp_path / "sweep"
    rated = make_run(root, "0_vae", "vae", 1, [50.0, 40.0])
    make_run(root, "1_dcgan", "dcgan", 1, [60.0, 30.0])
    comparison = {"task": "preference", "opponent": "1_dcgan", "wins": 71, "losses": 29, "ties": 4, "votes": 104,
                  "win_rate": 0.71, "ci95": [0.6146, 0.7899], "p_value": 3.4e-05, "raters": 2}
    (rated / "eval.json").write_text(json.dumps({"metrics": {}, "human_rating": {"comparisons": [comparison]}}))
    text = build_report([root], tmp_path / "report", "rated").read_text()
    assert "Human rating" in text and 'id="human_rating"' in text
    assert "0.71 [0.6146, 0.7899]" in text and ">1_dcgan<" in text
    plain = build_report([root / "1_dcgan"], tmp_path / "report2", "unrated").read_text()
    assert "Human rating" not in plain
