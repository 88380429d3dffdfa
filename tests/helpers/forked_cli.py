"""Run an entry script in a forked copy of the test process.

A CLI started with `subprocess` spends most of a failing run importing torch and Lightning
(about 4 s on a 2-core machine, before it can say what is wrong). A fork of the test process,
which has imported them once, runs the script as `python script.py args` would (`__main__`,
its own argv, cwd, environment, standard streams and exit code) in its own process, so nothing it
does reaches the tests, and pays only for its own work. For what needs a fresh interpreter (import
time, warnings printed at import, signals, launchers) use `tests.conftest.run_cli`.
"""

from __future__ import annotations

import os
import runpy
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

from tests.conftest import ROOT, cli_env, run_cli


def warm_imports() -> None:
    """Import once in the parent what every entry script imports, so each fork inherits it."""
    import pytorch_lightning  # noqa: F401
    import torchvision  # noqa: F401

    import genstyle.checkpoints  # noqa: F401
    import genstyle.cli.train  # noqa: F401


def forkable() -> bool:
    """A fork copies only the calling thread: with other Python threads alive (a logger's, a
    pool's) a lock one of them holds could stay locked in the child, so those runs use a
    subprocess."""
    return hasattr(os, "fork") and threading.active_count() == 1


def run_cli_forked(script: str, *args: str, cwd: Path | None = None, env: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    if not forkable():
        return run_cli(script, *args, cwd=cwd, env=env, timeout=timeout)
    warm_imports()
    full_env = cli_env(env)
    argv = [str(ROOT / script), *args]
    with tempfile.TemporaryDirectory() as tmp:
        out_path, err_path = Path(tmp) / "stdout", Path(tmp) / "stderr"
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the child: never returns
            run_as_main(argv, cwd or ROOT, full_env, out_path, err_path)
        status = wait(pid, timeout, argv)
        return subprocess.CompletedProcess([sys.executable, *argv], os.waitstatus_to_exitcode(status),
                                           out_path.read_text(errors="replace"), err_path.read_text(errors="replace"))


def run_as_main(argv: list[str], cwd: Path, env: dict, out_path: Path, err_path: Path) -> None:
    code = 1
    try:
        for fd, path in ((1, out_path), (2, err_path)):
            os.dup2(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644), fd)
        sys.stdout = sys.__stdout__ = open(1, "w", closefd=False, buffering=1)  # noqa: SIM115
        sys.stderr = sys.__stderr__ = open(2, "w", closefd=False, buffering=1)  # noqa: SIM115
        # GNU OpenMP's thread pool does not survive a fork: one thread keeps torch off it.
        import torch

        torch.set_num_threads(1)
        from hydra.core.global_hydra import GlobalHydra

        GlobalHydra.instance().clear()
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(env)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        sys.argv = list(argv)
        sys.path[0] = str(Path(argv[0]).parent)  # as `python script.py` sets it
        runpy.run_path(argv[0], run_name="__main__")
        code = 0
    except SystemExit as exit_:
        if exit_.code is None or isinstance(exit_.code, int):
            code = exit_.code or 0
        else:  # sys.exit("message"): printed, exit status 1
            print(exit_.code, file=sys.stderr)
    except BaseException:  # noqa: BLE001 - what the interpreter would print and exit 1 with
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def wait(pid: int, timeout: float, argv: list[str]) -> int:
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise subprocess.TimeoutExpired(argv, timeout)
        time.sleep(0.01)
