"""One run per folder: a run directory that holds another run is refused unless resumed or
overwritten, and a folder a live training holds is refused (its lock), a dead one's lock taken over."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path

import pytest

from genstyle.cli.run_dir import LOCK_NAME, acquire_run_lock, claim_run_dir, release_run_lock
from genstyle.errors import GenstyleError


def earlier_run(folder: Path) -> Path:
    (folder / ".hydra").mkdir(parents=True)
    (folder / ".hydra" / "config.yaml").write_text("model: vae\n")
    (folder / "checkpoints").mkdir()
    (folder / "checkpoints" / "last.ckpt").write_bytes(b"weights")
    (folder / "notes.txt").write_text("the user's own file\n")
    return folder


def test_a_folder_holding_a_run_is_refused_without_resume_or_overwrite(tmp_path):
    run = earlier_run(tmp_path / "run")
    with pytest.raises(GenstyleError, match=r"already holds a run.*ckpt_path=last.*overwrite=true"):
        claim_run_dir(run, resumed=None, overwrite=False)
    assert (run / "checkpoints" / "last.ckpt").read_bytes() == b"weights"
    # a checkpoint from elsewhere is not a resume of this run: still refused
    other = tmp_path / "other.ckpt"
    other.write_bytes(b"x")
    with pytest.raises(GenstyleError, match="already holds a run"):
        claim_run_dir(run, resumed=str(other), overwrite=False)


def test_resuming_the_run_keeps_it(tmp_path):
    run = earlier_run(tmp_path / "run")
    claim_run_dir(run, resumed=str(run / "checkpoints" / "last.ckpt"), overwrite=True)  # resume wins over overwrite
    assert (run / "checkpoints" / "last.ckpt").is_file() and (run / ".hydra" / "config.yaml").is_file()


def test_overwrite_removes_the_earlier_run_and_nothing_else(tmp_path):
    run = earlier_run(tmp_path / "run")
    claim_run_dir(run, resumed=None, overwrite=True)
    assert sorted(p.name for p in run.iterdir()) == ["notes.txt"]


def test_an_empty_or_foreign_folder_is_not_a_run(tmp_path):
    (tmp_path / "a.txt").write_text("x")
    (tmp_path / "checkpoints").mkdir()  # empty: nothing to lose
    claim_run_dir(tmp_path, resumed=None, overwrite=False)


def test_a_live_lock_is_refused_and_a_dead_ones_is_taken_over(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, os, sys, time\n"
        f"fd = os.open({str(run / LOCK_NAME)!r}, os.O_RDWR | os.O_CREAT)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\n"
        "os.write(fd, str(os.getpid()).encode())\n"
        "print('held', flush=True)\n"
        "time.sleep(60)\n")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(GenstyleError, match=rf"in use by another training \(pid {holder.pid}"):
            acquire_run_lock(run)
    finally:
        holder.kill()
        holder.wait()
    # the holder died (SIGKILL: its lock file stays, with its pid): the next run takes the folder over
    assert (run / LOCK_NAME).read_text().strip() == str(holder.pid)
    acquire_run_lock(run)
    try:
        assert (run / LOCK_NAME).read_text().strip() == str(os.getpid())
        fd = os.open(run / LOCK_NAME, os.O_RDWR)
        with pytest.raises(BlockingIOError):
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # really held
        os.close(fd)
    finally:
        release_run_lock(run)
    assert not (run / LOCK_NAME).exists()


def test_the_printed_resume_command_never_overwrites():
    from genstyle.cli.signals import resume_command

    command = resume_command(["model=vae", "overwrite=true"], Path("/runs/a"))
    assert command == "python train.py model=vae ckpt_path=last hydra.run.dir=/runs/a"
