"""What every command shares: where the configs live, and turning user errors into a clean
one-paragraph message with a non-zero exit instead of a traceback."""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from genstyle.errors import GenstyleError

CONFIG_DIR = str(Path(__file__).resolve().parents[3] / "conf")
EXIT_USER_ERROR = 2
log = logging.getLogger("genstyle")


def user_error_in(exc: BaseException) -> BaseException | None:
    """The user-fixable error behind `exc`, looking through wrappers (Hydra's
    InstantiationException, Lightning's re-raises) via the cause/context chain."""
    from omegaconf.errors import MissingMandatoryValue
    from pytorch_lightning.utilities.exceptions import MisconfigurationException

    from genstyle.faults import DISK_ERRNOS

    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, (GenstyleError, MisconfigurationException)):
            return exc
        if isinstance(exc, MissingMandatoryValue):  # a `???` value the user did not give
            key = getattr(exc, "full_key", None) or str(exc).split(":", 1)[-1].split()[0]
            return GenstyleError(f"{key} is required and was not given; add {key}=<value> to the command.")
        if isinstance(exc, OSError) and exc.errno in DISK_ERRNOS:  # read-only folder, full disk
            return GenstyleError(
                f"Could not write {exc.filename or 'an output file'}: {exc.strerror or exc}. Choose a writable "
                "location (out=... or hydra.run.dir=...) or free disk space; no partial file was left behind."
            )
        exc = exc.__cause__ or exc.__context__
    return None


def report_user_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Print user errors as `error: ...` on stderr and exit 2. HYDRA_FULL_ERROR=1 shows the traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except Exception as exc:
            user_error = user_error_in(exc)
            if user_error is None or os.environ.get("HYDRA_FULL_ERROR") == "1":
                raise
            print(f"error: {user_error}", file=sys.stderr)
            sys.exit(EXIT_USER_ERROR)

    return wrapper


HYDRA_FILES = (".hydra/config.yaml", ".hydra/hydra.yaml", ".hydra/overrides.yaml")


def discard_unstarted_run(output_dir: Path, log_name: str) -> None:
    """Remove what Hydra wrote for a run that failed before training began, so the folder
    cannot be mistaken for a finished run. Only files this program created are touched."""
    for rel in (*HYDRA_FILES, f"{log_name}.log"):
        (output_dir / rel).unlink(missing_ok=True)
    for folder in (output_dir / ".hydra", output_dir):
        try:
            folder.rmdir()  # only succeeds when empty: a user's own files stay
        except OSError:
            pass
