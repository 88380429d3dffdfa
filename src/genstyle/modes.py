"""`evaluating`: eval mode without gradients for a block, the module's own mode restored after.
Shared by models (sample, translate, stylize) and metrics (feature extraction, latent metrics)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn


@contextmanager
def evaluating(module: nn.Module) -> Iterator[None]:
    """Eval mode and no gradients inside; the module's previous mode is restored afterwards."""
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        module.train(was_training)
