"""Pixel conversions between stored images (uint8 `[0, 255]`) and the models' range (`[-1, 1]`).

The one small module that data, metrics, models and the commands share for this, so none of them
needs the DataModule (or anything else heavy) just to convert pixels.
"""

from __future__ import annotations

import torch


def to_model_range(images: torch.Tensor) -> torch.Tensor:
    """uint8 `[0, 255]` -> float `[-1, 1]`, the range every model and metric expects."""
    return images.float().div_(127.5).sub_(1.0)


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """float `[-1, 1]` -> uint8 `[0, 255]` (the inverse of `to_model_range`, with clamping)."""
    return ((images.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
