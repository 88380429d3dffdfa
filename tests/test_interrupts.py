"""Ctrl-C and SIGTERM during training keep the work: `train.py` (a real subprocess, real signals
through the real handlers) writes last.ckpt of the current step with mid-epoch checkpoints off,
prints the command that resumes it, exits 130 / 143 (never 0), keeps its .hydra config, and the
resumed run ends bit-identical to a run never interrupted. A second Ctrl-C aborts at once."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from genstyle.checkpoints import read_checkpoint
from tests.conftest import ROOT, cli_env, run_cli
from tests.test_resume import BATCHES_PER_EPOCH, assert_same_run, tiny_run

SIGNAL_STEP = BATCHES_PER_EPOCH + 3  # epoch 1, before its 4th batch (VAE: one step per batch)
# this checkout's code (src/) and its test helpers (tests.helpers.kill) in the subprocess
ENV = {"PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]), "OMP_NUM_THREADS": "1"}
NO_MID_EPOCH = "callbacks.mid_epoch_checkpoint.every_n_train_steps=0"  # only the interrupt can save this step


def signal_at(step: int, signum: str, times: int = 1) -> list[str]:
    return ["+callbacks.signal._target_=tests.helpers.kill.SignalAtStep", f"+callbacks.signal.global_step={step}",
            f"+callbacks.signal.signum={signum}", f"+callbacks.signal.times={times}"]


# The VAE (one optimiser) and a GAN (two optimisers, manual optimisation: two global steps a batch).
@pytest.mark.parametrize(("model", "steps_per_batch"), [("vae", 1), ("dcgan", 2)])
def test_sigint_and_sigterm_checkpoint_the_current_step_and_resume_exactly(tmp_path, fmnist_root, model, steps_per_batch):
    env = ENV
    signal_step = SIGNAL_STEP * steps_per_batch
    extra = ["model.monitor=null"] if model == "dcgan" else []  # its default monitor (val/fid) needs the evaluation callback
    names = ("full", "sigterm", "sigint", "twice") if model == "vae" else ("full", "sigint")  # one signal path is enough
    runs = {name: tmp_path / name for name in names}

    def launch(name: str):
        signals = {"full": [], "sigterm": signal_at(signal_step, "SIGTERM"), "sigint": signal_at(signal_step, "SIGINT"),
                   "twice": signal_at(signal_step, "SIGINT", times=2)}[name]
        return name, run_cli("train.py", *tiny_run(fmnist_root, runs[name], model, NO_MID_EPOCH, *extra, *signals), env=env)

    with ThreadPoolExecutor(2) as pool:
        done = dict(pool.map(launch, runs))
    assert done["full"].returncode == 0, done["full"].stderr[-3000:]

    printed = {}
    for name, status in ((n, s) for n, s in (("sigterm", 143), ("sigint", 130)) if n in runs):
        result, run_dir = done[name], runs[name]
        assert result.returncode == status, (name, result.returncode, result.stderr[-3000:])
        assert "Traceback" not in result.stderr
        checkpoint = run_dir / "checkpoints" / "last.ckpt"
        state = read_checkpoint(checkpoint)
        assert state["global_step"] == signal_step + steps_per_batch and state["epoch"] == 1  # the running batch finished
        assert not [p for p in (run_dir / "checkpoints").iterdir() if p.name.endswith(".tmp")]
        assert (run_dir / ".hydra" / "config.yaml").is_file()  # the run can be resumed with its own config
        # one line: what was kept and the exact command that resumes it
        line = next(x for x in result.stderr.splitlines() if x.startswith(f"SIG{name[3:].upper()}: stopped at epoch 2"))
        assert f"checkpoint {checkpoint}" in line
        printed[name] = line.split("Resume with: ", 1)[1]
        command = shlex.split(printed[name])
        assert command[:2] == ["python", "train.py"] and command[-2:] == ["ckpt_path=last", f"hydra.run.dir={run_dir}"]
        assert f"data.root={fmnist_root}" in command and f"model={model}" in command

    if "twice" in runs:  # the second Ctrl-C aborts at once: exit 130, nothing saved after epoch 0's checkpoint
        twice = done["twice"]
        assert twice.returncode == 130, twice.stderr[-3000:]
        assert re.search(r"SIGINT twice: aborted at once; the newest checkpoint is .*last\.ckpt", twice.stderr)
        assert read_checkpoint(runs["twice"] / "checkpoints" / "last.ckpt")["global_step"] == BATCHES_PER_EPOCH
        assert not [p for p in (runs["twice"] / "checkpoints").iterdir() if p.name.endswith(".tmp")]

    # The printed command, run exactly as printed (a shell in the repository, `python` this
    # interpreter), continues the run to the same end as the run never interrupted. It still
    # names the test's signal callback, whose step has passed.
    resumed = subprocess.run(printed["sigint"], shell=True, cwd=ROOT, env=cli_env({**env, "PATH": os.pathsep.join(
        [str(Path(sys.executable).parent), os.environ.get("PATH", "")])}), capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert_same_run(runs["full"], runs["sigint"], steps_per_batch=steps_per_batch)


def test_signal_before_training_leaves_no_run_folder(tmp_path, fmnist_root):
    """A SIGTERM while the data is still being loaded: nothing was trained, so nothing is kept."""
    run_dir = tmp_path / "run"
    env = ENV
    args = tiny_run(fmnist_root, run_dir, "vae", "data._target_=tests.helpers.kill.signalling_datamodule")
    result = run_cli("train.py", *args, env=env)
    assert result.returncode == 143, result.stderr[-3000:]
    assert "SIGTERM: stopped before the first training step; nothing to resume" in result.stderr
    assert not run_dir.exists(), list(run_dir.rglob("*"))
