"""Ctrl-C and SIGTERM during training keep the work: `train.py` (a real subprocess, real signals
through the real handlers) writes last.ckpt of the current step with mid-epoch checkpoints off,
prints the command that resumes it, exits 130 / 143 (never 0), keeps its .hydra config, and the
resumed run ends bit-identical to a run never interrupted. A second Ctrl-C aborts at once."""

from __future__ import annotations

import os
import re
import shlex
from concurrent.futures import ThreadPoolExecutor

import torch

from genstyle.checkpoints import read_checkpoint
from tests.conftest import ROOT, run_cli
from tests.test_resume import BATCHES_PER_EPOCH, assert_same_run, tiny_run

SIGNAL_STEP = BATCHES_PER_EPOCH + 3  # epoch 1, before its 4th batch (VAE: one step per batch)
# this checkout's code (src/) and its test helpers (tests.helpers.kill) in the subprocess
ENV = {"PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]), "OMP_NUM_THREADS": "1"}
NO_MID_EPOCH = "callbacks.mid_epoch_checkpoint.every_n_train_steps=0"  # only the interrupt can save this step


def signal_at(step: int, signum: str, times: int = 1) -> list[str]:
    return ["+callbacks.signal._target_=tests.helpers.kill.SignalAtStep", f"+callbacks.signal.global_step={step}",
            f"+callbacks.signal.signum={signum}", f"+callbacks.signal.times={times}"]


def test_sigint_and_sigterm_checkpoint_the_current_step_and_resume_exactly(tmp_path, fmnist_root):
    env = ENV
    runs = {name: tmp_path / name for name in ("full", "sigterm", "sigint", "twice")}

    def launch(name: str):
        extra = {"full": [], "sigterm": signal_at(SIGNAL_STEP, "SIGTERM"), "sigint": signal_at(SIGNAL_STEP, "SIGINT"),
                 "twice": signal_at(SIGNAL_STEP, "SIGINT", times=2)}[name]
        return name, run_cli("train.py", *tiny_run(fmnist_root, runs[name], "vae", NO_MID_EPOCH, *extra), env=env)

    with ThreadPoolExecutor(2) as pool:
        done = dict(pool.map(launch, runs))
    assert done["full"].returncode == 0, done["full"].stderr[-3000:]

    for name, status in (("sigterm", 143), ("sigint", 130)):
        result, run_dir = done[name], runs[name]
        assert result.returncode == status, (name, result.returncode, result.stderr[-3000:])
        assert "Traceback" not in result.stderr
        checkpoint = run_dir / "checkpoints" / "last.ckpt"
        state = read_checkpoint(checkpoint)
        assert state["global_step"] == SIGNAL_STEP + 1 and state["epoch"] == 1  # the batch that was running finished
        assert not [p for p in (run_dir / "checkpoints").iterdir() if p.name.endswith(".tmp")]
        assert (run_dir / ".hydra" / "config.yaml").is_file()  # the run can be resumed with its own config
        # one line: what was kept and the exact command that resumes it
        line = next(x for x in result.stderr.splitlines() if x.startswith(f"SIG{name[3:].upper()}: stopped at epoch 1"))
        assert f"checkpoint {checkpoint}" in line
        command = shlex.split(line.split("Resume with: ", 1)[1])
        assert command[:2] == ["python", "train.py"] and command[-2:] == ["ckpt_path=last", f"hydra.run.dir={run_dir}"]
        assert f"data.root={fmnist_root}" in command

    # the second Ctrl-C aborts at once: exit 130, nothing saved after epoch 0's checkpoint
    twice = done["twice"]
    assert twice.returncode == 130, twice.stderr[-3000:]
    assert re.search(r"SIGINT twice: aborted at once; the newest checkpoint is .*last\.ckpt", twice.stderr)
    assert read_checkpoint(runs["twice"] / "checkpoints" / "last.ckpt")["global_step"] == BATCHES_PER_EPOCH
    assert not [p for p in (runs["twice"] / "checkpoints").iterdir() if p.name.endswith(".tmp")]

    # the printed command (without the test's signal callback) continues the run exactly
    resumed = run_cli("train.py", *tiny_run(fmnist_root, runs["sigterm"], "vae", NO_MID_EPOCH), "ckpt_path=last", env=env)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert_same_run(runs["full"], runs["sigterm"], steps_per_batch=1)
    final = torch.load(runs["sigterm"] / "checkpoints" / "last.ckpt", weights_only=True)
    assert final["global_step"] == 2 * BATCHES_PER_EPOCH


def test_signal_before_training_leaves_no_run_folder(tmp_path, fmnist_root):
    """A SIGTERM while the data is still being loaded: nothing was trained, so nothing is kept."""
    run_dir = tmp_path / "run"
    env = ENV
    args = tiny_run(fmnist_root, run_dir, "vae", "data._target_=tests.helpers.kill.signalling_datamodule")
    result = run_cli("train.py", *args, env=env)
    assert result.returncode == 143, result.stderr[-3000:]
    assert "SIGTERM: stopped before the first training step; nothing to resume" in result.stderr
    assert not run_dir.exists(), list(run_dir.rglob("*"))
