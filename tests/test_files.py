"""files.py, the one atomic writer: the target is always the old complete file or the new one, a
failure anywhere in the write leaves the old file and no temporary file, and no module under
src/ writes atomically by hand."""

from __future__ import annotations

import csv
import json
import os
import re
import stat
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from genstyle import files
from genstyle.callbacks.resume_state import trim_csv
from genstyle.files import (
    save_torch_atomic,
    write_atomic,
    write_bytes_atomic,
    write_json_atomic,
    write_text_atomic,
)
from genstyle.images import save_png

SRC = Path(__file__).resolve().parents[1] / "src" / "genstyle"


def test_writes_bytes_text_json_and_torch(tmp_path):
    assert write_bytes_atomic(tmp_path / "a" / "b.bin", b"\x00\x01") == tmp_path / "a" / "b.bin"  # folder created
    assert (tmp_path / "a" / "b.bin").read_bytes() == b"\x00\x01"
    write_text_atomic(tmp_path / "t.csv", "x,y\r\n1,2\r\n")  # no newline translation
    assert (tmp_path / "t.csv").read_bytes() == b"x,y\r\n1,2\r\n"
    write_json_atomic(tmp_path / "m.json", {"b": 1.5, "a": float("nan")})
    assert (tmp_path / "m.json").read_text() == '{\n  "a": NaN,\n  "b": 1.5\n}\n'
    save_torch_atomic({"w": torch.arange(3)}, tmp_path / "w.pt")
    assert torch.equal(torch.load(tmp_path / "w.pt", weights_only=True)["w"], torch.arange(3))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "m.json", "t.csv", "w.pt"]  # no temporary files


def test_files_are_readable_by_others(tmp_path):
    path = write_text_atomic(tmp_path / "r.txt", "x")
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # mkstemp's 0600 would hide results from other users


@pytest.mark.parametrize("failure", [ValueError("not serialisable"), KeyboardInterrupt(), OSError(28, "No space left on device")])
def test_a_failing_serialiser_leaves_the_old_file_and_no_temporary(tmp_path, failure):
    target = write_json_atomic(tmp_path / "metrics.json", {"old": 1})

    def half_then_fail(fh):
        fh.write(b'{"new": ')  # the crash comes in the middle of the write
        raise failure

    with pytest.raises(type(failure)):
        write_atomic(target, half_then_fail)
    assert json.loads(target.read_text()) == {"old": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_torch_save_dying_mid_write_keeps_the_old_checkpoint(tmp_path, monkeypatch):
    target = save_torch_atomic({"step": torch.tensor(1)}, tmp_path / "last.ckpt")
    before = target.read_bytes()

    def killed(obj, fh, *args, **kwargs):
        fh.write(b"PK\x03\x04 half a zip")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", killed)
    with pytest.raises(KeyboardInterrupt):
        save_torch_atomic({"step": torch.tensor(2)}, target)
    assert target.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]


def test_json_that_cannot_be_encoded_leaves_the_old_file(tmp_path):
    target = write_json_atomic(tmp_path / "eval.json", {"old": 1})
    with pytest.raises(TypeError):
        write_json_atomic(target, {"new": object()})
    assert json.loads(target.read_text()) == {"old": 1} and [p.name for p in tmp_path.iterdir()] == ["eval.json"]


def test_synced_before_the_rename_and_renamed_last(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(files.os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(files.os, "replace", lambda a, b: (events.append(("replace", Path(a).parent, Path(b))), real_replace(a, b))[1])
    write_text_atomic(tmp_path / "done", "ok")
    assert events == ["fsync", ("replace", tmp_path, tmp_path / "done")]  # the temporary file sits beside the target


def test_a_failing_rename_removes_the_temporary(tmp_path, monkeypatch):
    target = write_text_atomic(tmp_path / "done", "old")

    def cross_device(a, b):
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(files.os, "replace", cross_device)
    with pytest.raises(OSError):
        write_text_atomic(target, "new")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["done"]


def test_png_is_encoded_whole_and_a_failed_encoding_keeps_the_old_image(tmp_path, monkeypatch):
    image = torch.randint(0, 256, (1, 5, 7), dtype=torch.uint8)
    path = save_png(image, tmp_path / "grid.png")
    with Image.open(path) as img:
        assert np.array_equal(np.asarray(img), image[0].numpy())
    before = path.read_bytes()

    def disk_full(self, fp, *args, **kwargs):  # writes part of the image, then the disk is full
        if isinstance(fp, (str, Path)):
            with open(fp, "wb") as fh:
                fh.write(b"\x89PNG half")
        else:
            fp.write(b"\x89PNG half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", disk_full)
    with pytest.raises(OSError):
        save_png(torch.zeros(1, 5, 7, dtype=torch.uint8), path)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["grid.png"]


def test_trimmed_csv_keeps_its_line_endings(tmp_path):
    path = tmp_path / "metrics.csv"
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["step", "loss"])
        writer.writeheader()
        writer.writerows([{"step": 1, "loss": 0.5}, {"step": 2, "loss": 0.4}, {"step": 3, "loss": 0.3}])
    assert trim_csv(path, max_step=2) == 1
    assert path.read_bytes() == b"step,loss\r\n1,0.5\r\n2,0.4\r\n"


# A hand-written atomic write: a rename of a temporary file, or a temporary file made for one.
HAND_WRITTEN = re.compile(r"os\.(replace|rename)\(|mkstemp\(|NamedTemporaryFile\(|\btmp\w*\.(replace|rename)\(")


def test_no_module_writes_atomically_by_hand():
    offenders = [
        f"{path.relative_to(SRC)}:{number}: {line.strip()}"
        for path in sorted(SRC.rglob("*.py")) if path.name != "files.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if HAND_WRITTEN.search(line.split("#")[0])
    ]
    assert not offenders, "use genstyle.files instead of:\n" + "\n".join(offenders)


def test_a_figure_failing_mid_write_keeps_the_old_one(tmp_path, monkeypatch):
    import matplotlib.figure

    from genstyle.report.plots import save_figure

    path = save_figure(matplotlib.figure.Figure(figsize=(1, 1)), tmp_path / "curve.png")
    before = path.read_bytes()
    assert before.startswith(b"\x89PNG")

    def half_then_full(self, fname, *args, **kwargs):
        if isinstance(fname, (str, Path)):
            with open(fname, "wb") as fh:
                fh.write(b"\x89PNG half")
        else:
            fname.write(b"\x89PNG half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", half_then_full)
    with pytest.raises(OSError):
        save_figure(matplotlib.figure.Figure(figsize=(1, 1)), path)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["curve.png"]
