"""What the tests of model=adain's targets share: a decoder that records the targets it is given,
and an untrained model built from the default config."""

from __future__ import annotations

import hydra
import torch
from torch import nn


class Recorder(nn.Module):
    """A decoder that keeps the targets it is given and returns the content pixels."""

    def forward(self, t2: torch.Tensor, t1: torch.Tensor, pixels: torch.Tensor) -> torch.Tensor:
        self.targets = (t1, t2)
        return pixels


def untrained_adain(tmp_path_factory, fmnist_root, name: str):
    """model=adain as the default config builds it (seed 0), evaluation off."""
    from tests.conftest import compose_train

    torch.manual_seed(0)
    overrides = [f"data.root={fmnist_root}", "model=adain", "callbacks.evaluation=null"]
    return hydra.utils.instantiate(compose_train(overrides, tmp_path_factory.mktemp(name)).model)
