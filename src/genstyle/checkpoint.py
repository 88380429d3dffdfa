"""Loading genstyle checkpoints safely and rebuilding the model they hold.

Checkpoints are read with `torch.load(weights_only=True)`: tensors and plain containers only,
so a crafted file cannot run code. The run config stored inside (see
`GenerativeModule.on_save_checkpoint`) rebuilds the model without the original run folder.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import hydra
import torch
from omegaconf import OmegaConf

from genstyle.errors import GenstyleError
from genstyle.models.base import CHECKPOINT_FORMAT_VERSION, CHECKPOINT_KEY, GenerativeModule


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """The checkpoint dict, or a GenstyleError saying why this file is not a usable checkpoint."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise GenstyleError(f"ckpt_path={path}: no such file. Pass the .ckpt file of a genstyle run (outputs/.../checkpoints/last.ckpt).")
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


def load_model(path: str | Path, device: str | torch.device = "cpu") -> tuple[GenerativeModule, dict[str, Any]]:
    """Rebuild the model of a checkpoint from its stored config and load its weights (eval mode)."""
    checkpoint = read_checkpoint(path)
    config = OmegaConf.create(checkpoint[CHECKPOINT_KEY]["config"])
    model = hydra.utils.instantiate(config.model)
    missing, unexpected = model.load_state_dict(checkpoint["state_dict"], strict=False)
    if missing or unexpected:
        raise GenstyleError(
            f"ckpt_path={path}: the weights do not fit the model its config describes "
            f"(missing {len(missing)}, unexpected {len(unexpected)} tensors). The file was modified or is damaged."
        )
    model.run_config = checkpoint[CHECKPOINT_KEY]["config"]
    return model.to(device).eval(), checkpoint
