"""compare.py's inputs: a run given twice (directly, or also through its sweep) would enter the
means twice and is refused; a file where a folder belongs is named as such."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from genstyle.errors import GenstyleError
from genstyle.report.runs import find_runs


def run(folder: Path, overrides: list[str]) -> Path:
    (folder / ".hydra").mkdir(parents=True)
    (folder / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
    (folder / ".hydra" / "config.yaml").write_text("model:\n  _target_: genstyle.models.vae.VAE\n")
    (folder / "metrics.json").write_text(json.dumps({"val/fid": 10.0}))
    return folder


def test_a_run_given_twice_is_refused(tmp_path):
    sweep = tmp_path / "sweep"
    a, b = run(sweep / "0_vae", ["seed=0"]), run(sweep / "1_vae", ["seed=1"])
    assert len(find_runs([a, b])) == 2
    with pytest.raises(GenstyleError, match=r"0_vae is given twice; each run would enter the means"):
        find_runs([a, a])
    with pytest.raises(GenstyleError, match=r"1_vae is given twice \(through .*sweep and .*1_vae\)"):
        find_runs([sweep, b])


def test_a_file_is_not_a_missing_folder(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(GenstyleError, match=r"notes\.txt is a file, not a directory"):
        find_runs([tmp_path / "notes.txt"])
    with pytest.raises(GenstyleError, match=r"nothing: no such directory"):
        find_runs([tmp_path / "nothing"])
