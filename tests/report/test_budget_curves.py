"""benchmarks/budget_curves.py collect: the table of budget points, by network, over seeds."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from PIL import Image

from tests.helpers.benchmark_scripts import load_benchmark, run_benchmark

CLASSIFIER, INDEPENDENT = "fmnist-classifier", "fmnist-independent"


def fake_run(out, name, primary, history, chunk=10):
    run_dir = out / name
    run_dir.mkdir(parents=True)
    (run_dir / "command.txt").write_text(f"train.py model=dcgan trainer.limit_train_batches={chunk} trainer.max_epochs=4\n")
    (run_dir / "eval.json").write_text(json.dumps({"protocol": {"extractor": primary}, "history": history}))


def point(epoch, fid, second_fid=None, **extra):
    row = {"epoch": epoch, "step": 2 * epoch, "val/fid": fid, "val/precision": 0.5, "val/recall": 0.1, **extra}
    if second_fid is not None:
        row[f"val/{INDEPENDENT}/fid"] = second_fid
    return row


def test_collect_keeps_each_network_apart_and_averages_seeds(tmp_path):
    out = tmp_path / "runs"
    fake_run(out, "dcgan_seed1", CLASSIFIER, [point(0, 90.0, 200.0), point(3, 50.0, 150.0, **{"val/c2st_acc": 0.9})])
    fake_run(out, "dcgan_seed2", CLASSIFIER, [point(0, 110.0, 220.0), point(3, 70.0, 170.0, **{"val/c2st_acc": 1.0})])
    # A run scored in the independent network only (metrics.extractor=fmnist-independent).
    fake_run(out, "sngan_seed1", INDEPENDENT, [point(1, 120.0)])
    (out / "cost.json").write_text(json.dumps({"families": {"dcgan": {"vs_dcgan": 1.0}, "sngan": {"vs_dcgan": 2.5}}}))
    # The grids the evaluation drew, named by the chunk they end (from 1); only the nearest point's is read.
    for name, shown in (("dcgan_seed1", 4), ("sngan_seed1", 2)):
        (out / name / "eval_samples").mkdir()
        Image.new("L", (20, 20), 128).save(out / name / "eval_samples" / f"epoch_{shown:03d}.png")
    doc = tmp_path / "doc" / "curves"
    assert run_benchmark("budget_curves", "collect", "--out", str(out), "--doc", str(doc), "--plot", str(tmp_path / "c.png"),
                         "--samples-at", "45", "--samples-plot", str(tmp_path / "s.png")) == 0
    table = json.loads(doc.with_suffix(".json").read_text())["table"]
    first, last, sngan = table
    assert (first["family"], first["iterations"], first["seeds"]) == ("dcgan", 10, 2)  # after chunk 1 of 10 batches
    assert first["networks"][CLASSIFIER]["fid"][:2] == pytest.approx([100.0, 14.1421], rel=1e-4)
    assert first["networks"][INDEPENDENT]["fid"][0] == pytest.approx(210.0)
    assert last["iterations"] == 40 and last["c2st_acc"][0] == pytest.approx(0.95) and "c2st_acc" not in first
    assert (sngan["iterations"], sngan["dcgan_iteration_equivalents"]) == (20, 50.0)
    assert set(sngan["networks"]) == {INDEPENDENT} and sngan["networks"][INDEPENDENT]["fid"][0] == 120.0
    md = doc.with_suffix(".md").read_text()
    assert "| dcgan | 10 | 10 | 2 | 100.00 ± 14.14 | 210.00 ± 14.14 |" in md
    assert "| sngan | 20 | 50 | 1 | - | 120.00 |" in md
    assert (tmp_path / "c.png").stat().st_size > 0 and (tmp_path / "s.png").stat().st_size > 0


def test_more_chunks_extend_a_finished_run_and_equal_chunks_skip_it(tmp_path, monkeypatch):
    curves = load_benchmark("budget_curves")
    started = []
    monkeypatch.setattr(curves.subprocess, "run", lambda cmd, **_: started.append(cmd) or SimpleNamespace(returncode=0))
    run_dir = tmp_path / "dcgan_seed1"
    (run_dir / "checkpoints").mkdir(parents=True)
    (run_dir / "checkpoints" / "last.ckpt").write_bytes(b"")
    (run_dir / "metrics.json").write_text("{}")
    (run_dir / "command.txt").write_text("train.py model=dcgan trainer.limit_train_batches=107 trainer.max_epochs=20\n")
    args = ["run", "--families", "dcgan", "--seeds", "1", "--out", str(tmp_path)]
    assert curves.main([*args, "--chunks", "20"]) == 0 and started == []  # done already
    assert curves.main([*args, "--chunks", "40"]) == 0
    (cmd,) = started
    assert "ckpt_path=last" in cmd and "trainer.max_epochs=40" in cmd and "overwrite=true" not in cmd
    assert "trainer.max_epochs=40" in (run_dir / "command.txt").read_text()  # the next extension starts from 40
