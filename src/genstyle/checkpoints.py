"""Checkpoints, in one place: reading them safely, writing them atomically, finding `last`,
checking that one can resume a run, and rebuilding the model one holds.

- Reading: `torch.load(weights_only=True)`, tensors and plain containers only, so a crafted file
  cannot run code. The run config stored inside (see `GenerativeModule.on_save_checkpoint`)
  rebuilds the model without the original run folder (`load_model`).
- Writing (`AtomicCheckpointIO`, the trainer's checkpoint plugin): Lightning writes `last.ckpt`
  in place, and a SIGKILL in the middle leaves a truncated file. Here every checkpoint goes
  through `files.save_torch_atomic` (a temporary file in the same folder, renamed over the
  target), so the target is always the previous complete checkpoint or the new complete one.
- Resuming: `resolve_ckpt_path` turns `ckpt_path=last` into the run's `checkpoints/last.ckpt`;
  `check_resumable` fails with a message when a checkpoint does not fit the run's model.
"""

from __future__ import annotations

import pickle
import sys
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.plugins.io import TorchCheckpointIO

from genstyle import renames
from genstyle.errors import DISK_ERRNOS, GenstyleError, file_problem
from genstyle.files import save_torch_atomic
from genstyle.models.base import CHECKPOINT_FORMAT_VERSION, CHECKPOINT_KEY, GenerativeModule


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """The checkpoint dict, or a GenstyleError saying why this file is not a usable checkpoint."""
    path = Path(path).expanduser()
    if path.is_dir():
        raise GenstyleError(f"ckpt_path={path} is a folder, not a checkpoint file. Pass the .ckpt file of a genstyle run "
                            f"(for a run folder: {path / 'checkpoints' / 'last.ckpt'}).")
    problem = file_problem(path)
    if problem:  # nothing there, or a device, pipe or socket
        raise GenstyleError(f"ckpt_path={path}{problem}. Pass the .ckpt file of a genstyle run (outputs/.../checkpoints/last.ckpt).")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise GenstyleError(
            f"ckpt_path={path} was refused by the safe loader: it contains objects other than tensors and "
            f"plain containers ({str(err).splitlines()[0]}). It is not a genstyle checkpoint, or it was "
            "tampered with; genstyle never unpickles arbitrary objects."
        ) from None
    except Exception as err:  # truncated zip, random bytes, a text file ...
        raise GenstyleError(f"ckpt_path={path} is not a readable PyTorch checkpoint ({type(err).__name__}: {err}).") from None
    if not isinstance(checkpoint, dict) or CHECKPOINT_KEY not in checkpoint or "state_dict" not in checkpoint:
        raise GenstyleError(
            f"ckpt_path={path} is a PyTorch file but not a genstyle checkpoint (no '{CHECKPOINT_KEY}' section). "
            "Use a checkpoint written by `python train.py`."
        )
    meta = checkpoint[CHECKPOINT_KEY]
    if meta.get("format_version", 0) > CHECKPOINT_FORMAT_VERSION or not meta.get("config"):
        raise GenstyleError(f"ckpt_path={path} was written by a newer or incompatible genstyle; upgrade genstyle to read it.")
    return checkpoint


# `_target_`s that stored run configs name and that have moved since: a checkpoint written before
# the move still loads, built from the new home (old name -> new name).
MOVED_TARGETS = {
    "genstyle.metrics.classifier.load_classifier": "genstyle.classifier.fashion_classifier.load_classifier",
    **renames.TARGETS,  # the models and networks renamed so that model=<name> builds models/<name>.py
}


def current_targets(node: Any) -> Any:
    """A stored config with every moved `_target_` (MOVED_TARGETS) renamed to its current home."""
    if isinstance(node, dict):
        return {
            key: MOVED_TARGETS.get(value, value) if key == "_target_" and isinstance(value, str) else current_targets(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [current_targets(value) for value in node]
    return node


def load_model(path: str | Path, device: str | torch.device = "cpu") -> tuple[GenerativeModule, dict[str, Any]]:
    """Rebuild the model of a checkpoint from its stored config and load its weights (eval mode)."""
    import hydra
    from omegaconf import OmegaConf

    checkpoint = read_checkpoint(path)
    stored = checkpoint[CHECKPOINT_KEY]
    old_model = stored["config"].get("model", {}).get("_target_")
    stored["config"] = current_targets(stored["config"])
    if isinstance(stored["config"].get("model"), dict):  # written before the recipe was one node
        stored["config"]["model"] = renames.recipe_moved(stored["config"]["model"])
    config = OmegaConf.create(stored["config"])
    model = hydra.utils.instantiate(config.model)
    if old_model in renames.TARGETS or stored.get("family", model.family) != model.family:
        print(
            f"note: ckpt_path={path} was written before the model names changed (family {stored.get('family')!r}, "
            f"{old_model}); it loads as model={model.family}.",
            file=sys.stderr,
        )
    missing, unexpected = model.load_state_dict(checkpoint["state_dict"], strict=False)
    if missing or unexpected:
        raise GenstyleError(
            f"ckpt_path={path}: the weights do not fit the model its config describes "
            f"(missing {len(missing)}, unexpected {len(unexpected)} tensors). The file was modified or is damaged."
        )
    model.run_config = checkpoint[CHECKPOINT_KEY]["config"]
    return model.to(device).eval(), checkpoint


def resolve_ckpt_path(ckpt_path: str | None, output_dir: Path) -> str | None:
    """The checkpoint file a run resumes from: `last` is the run directory's `checkpoints/last.ckpt`."""
    if ckpt_path is None:
        return None
    path = output_dir / "checkpoints" / "last.ckpt" if ckpt_path == "last" else Path(ckpt_path).expanduser()
    if not path.is_file():
        raise GenstyleError(
            f"ckpt_path={ckpt_path}: no checkpoint at {path}. Give the path of a .ckpt file written by "
            "genstyle, or ckpt_path=last together with hydra.run.dir=<the run directory to resume>."
        )
    return str(path)


def check_resumable(ckpt_path: str, model: pl.LightningModule) -> None:
    """Read the checkpoint with the safe loader and check it fits this run's model, so a foreign,
    tampered or mismatched file fails with a message instead of deep inside Lightning."""
    checkpoint = read_checkpoint(ckpt_path)
    stored = (checkpoint[CHECKPOINT_KEY].get("config") or {}).get("model", {}).get("_target_")
    stored = MOVED_TARGETS.get(stored, stored)
    wanted = f"{type(model).__module__}.{type(model).__qualname__}"
    if stored and stored != wanted:
        raise GenstyleError(
            f"ckpt_path={ckpt_path} holds a {stored.rsplit('.', 1)[-1]} model but this run builds a "
            f"{type(model).__qualname__}; resume with the same model=... (and settings) as the run that wrote it."
        )
    own = model.state_dict()
    state = checkpoint["state_dict"]
    if hasattr(model, "upgraded_state_dict"):  # a family whose state-dict layout changed (stargan_v2's averages)
        state = model.upgraded_state_dict(state)
    mismatched = [k for k, v in state.items() if k in own and tuple(own[k].shape) != tuple(v.shape)]
    missing = [k for k in own if k not in state]
    if mismatched or missing:
        example = (mismatched or missing)[0]
        raise GenstyleError(
            f"ckpt_path={ckpt_path} does not fit this run's {type(model).__qualname__}: {len(mismatched)} tensors differ "
            f"in shape and {len(missing)} are missing (e.g. {example}). Resume with the model and data settings "
            "(image size, channels, widths) of the run that wrote it."
        )


class AtomicCheckpointIO(TorchCheckpointIO):
    def save_checkpoint(self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any | None = None) -> None:
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} takes no storage_options, got {storage_options!r}.")
        path = Path(path)
        try:
            save_torch_atomic(checkpoint, path)
        except OSError as err:
            if err.errno in DISK_ERRNOS:
                previous = f"the previous {path.name} is intact" if path.is_file() else "no earlier checkpoint of this name exists"
                raise GenstyleError(
                    f"Could not write checkpoint {path}: {err.strerror or err} (errno {err.errno}); {previous}. "
                    "Free disk space or make the folder writable, then resume with ckpt_path=last "
                    f"hydra.run.dir={path.parent.parent}."
                ) from err
            raise
