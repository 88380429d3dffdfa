"""A shipped network's weights file, read safely: one reader for both evaluation networks.

`resolve` gives the file (the shipped one by default) or an error that says how to get it back;
`file_sha256` its hash (the cache key and the name of anything computed with it); `load_payload`
the dict inside, loaded with `torch.load(weights_only=True)` so that a tampered file cannot run
code, and checked for the format version its reader knows. `what` names the file in messages
("Classifier weights"), `train_command` is how to write a new one.
"""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path
from typing import Any

import torch

from genstyle.errors import GenstyleError, file_problem, require


def resolve(path: str | Path | None, shipped: Path, what: str, train_command: str) -> Path:
    """`path`, or the shipped file when None; an error that says how to get it when it is missing."""
    path = shipped if path is None else Path(path).expanduser()
    if not path.exists():
        raise GenstyleError(
            f"{what} {path} do not exist. The project ships them at {shipped}; restore that file from the "
            f"repository or retrain with `{train_command}`."
        )
    problem = file_problem(path, "weights file")
    if problem:
        raise GenstyleError(f"{what} {path}{problem}. Give the weights file itself (the shipped one is {shipped}).")
    return path


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_payload(path: Path, what: str, train_command: str, format_version: int) -> dict[str, Any]:
    """The dict a trainer wrote (`state_dict` + metadata), refused unless it holds tensors and plain
    values only and has `format_version`."""
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        lines = [line.strip() for line in str(err).splitlines() if "WeightsUnpickler error" in line]
        reason = lines[0] if lines else str(err).splitlines()[0]
        raise GenstyleError(
            f"Refusing to load {what.lower()} {path}: the file holds Python objects other than tensors and "
            f"plain values, which could run code when loaded ({reason}). Use the file shipped with the "
            f"project or one written by `{train_command}`."
        ) from None
    except (RuntimeError, EOFError, OSError) as err:
        raise GenstyleError(
            f"{what} {path} are unreadable ({type(err).__name__}: {err}). The file is corrupt or not a "
            f"PyTorch file; restore the shipped one or retrain with `{train_command}`."
        ) from None
    require(
        isinstance(payload, dict) and isinstance(payload.get("state_dict"), dict),
        f"{what} {path} are not a genstyle weights file (expected a dict with a 'state_dict' entry). "
        f"Retrain with `{train_command}`.",
    )
    require(
        payload.get("format_version") == format_version,
        f"{what} {path} have format_version={payload.get('format_version')!r}; this code reads version "
        f"{format_version}. Retrain with `{train_command}`.",
    )
    return payload
