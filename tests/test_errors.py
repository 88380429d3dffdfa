"""errors.file_problem: the one check of an input file, so that a folder (or a device) given where a
file is expected is called what it is, never "no such file"."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from genstyle.checkpoints import read_checkpoint
from genstyle.errors import GenstyleError, file_problem


def test_file_problem_says_what_the_path_is_instead(tmp_path: Path):
    (tmp_path / "votes.json").write_text("{}")
    os.symlink(tmp_path / "votes.json", tmp_path / "link.json")
    os.symlink(tmp_path / "gone.json", tmp_path / "broken.json")
    assert file_problem(tmp_path / "votes.json", "votes file") is None
    assert file_problem(tmp_path / "link.json", "votes file") is None  # a link to a file is that file
    assert file_problem(tmp_path, "votes file") == " is a folder, not a votes file"
    assert file_problem(tmp_path, "image file") == " is a folder, not an image file"
    assert file_problem(tmp_path / "missing.json", "votes file") == ": no such votes file"
    assert file_problem(tmp_path / "broken.json") == ": no such file"
    assert file_problem(Path(os.devnull), "image file") == " is not a regular file (a device, pipe or socket), so not an image file"


def test_a_device_given_as_checkpoint_is_not_called_missing():
    with pytest.raises(GenstyleError, match=r"^ckpt_path=/dev/null is not a regular file .*Pass the \.ckpt file"):
        read_checkpoint(os.devnull)
