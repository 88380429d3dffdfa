"""How `train.py` ends on Ctrl-C or SIGTERM: one line saying what was kept and the exact command
that resumes it, and exit status 128 + the signal (130 / 143), never 0 or a traceback.

During training `genstyle.callbacks.interrupt_checkpoint.GracefulInterrupt` owns the signals and checkpoints
the current step; before it is set up (composing the config, loading data), `stop_on_signals`
turns both signals into `TrainingInterrupted` so the not-yet-started run is cleaned up like any
failed start.
"""

from __future__ import annotations

import shlex
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from genstyle.errors import AbortedByUser, TrainingInterrupted

DROPPED_ON_RESUME = ("ckpt_path=", "hydra.run.dir=", "+ckpt_path=", "overwrite=")  # a resume never deletes the run


def _raise_interrupted(signum: int, frame: FrameType | None) -> None:
    raise TrainingInterrupted(signum, None, 0, 0)


def resume_command(overrides: list[str], run_dir: Path) -> str:
    """`python train.py <the same overrides> ckpt_path=last hydra.run.dir=<run dir>`."""
    kept = [o for o in overrides if not o.startswith(DROPPED_ON_RESUME)]
    return shlex.join(["python", "train.py", *kept, "ckpt_path=last", f"hydra.run.dir={run_dir}"])


def user_overrides() -> list[str]:
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return []
    return list(HydraConfig.get().overrides.task)


def interruption_message(stop: TrainingInterrupted, run_dir: Path) -> str:
    name = signal.Signals(stop.signum).name
    resume = f"Resume with: {resume_command(user_overrides(), run_dir)}"
    if stop.checkpoint is not None:
        # imported here: it loads Lightning, which a training has loaded by now but start-up has not
        from genstyle.callbacks.epoch_names import shown_epoch

        return f"{name}: stopped at epoch {shown_epoch(stop.epoch)}, step {stop.step}; checkpoint {stop.checkpoint}. {resume}"
    last = run_dir / "checkpoints" / "last.ckpt"
    if last.is_file():  # outside a training step, e.g. during the test after training
        return f"{name}: stopped; the newest checkpoint is {last}. {resume}"
    return f"{name}: stopped before the first training step; nothing to resume, start the run again."


@contextmanager
def stop_on_signals(run_dir: Path | None) -> Iterator[None]:
    """Around a whole `train.py` run: signals end it with a message and 130 / 143."""
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    for signum in previous:
        signal.signal(signum, _raise_interrupted)
    try:
        yield
    except TrainingInterrupted as stop:
        print(interruption_message(stop, run_dir or Path(".")), file=sys.stderr, flush=True)
        sys.exit(stop.exit_status)
    except (AbortedByUser, SystemExit) as exc:
        # Lightning answers a KeyboardInterrupt during fit with sys.exit(1); the second Ctrl-C is one
        chain = exc if isinstance(exc, AbortedByUser) else exc.__context__
        if isinstance(chain, AbortedByUser):
            last = (run_dir or Path(".")) / "checkpoints" / "last.ckpt"
            kept = f"the newest checkpoint is {last}" if last.is_file() else "no checkpoint was written"
            print(f"SIGINT twice: aborted at once; {kept}.", file=sys.stderr, flush=True)
            sys.exit(128 + signal.SIGINT)
        raise
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
