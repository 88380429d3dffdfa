"""Exponential moving average of a network's weights, for inference (generator EMA).

Built on `torch.optim.swa_utils.AveragedModel` with its EMA averaging function, so the
averaging itself is PyTorch's. The averaged copy is a submodule: its weights and its update
counter are in the LightningModule's `state_dict`, hence in every checkpoint, and a resumed
run continues the same average.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from genstyle.errors import require


class ExponentialMovingAverage(nn.Module):
    """`average = decay * average + (1 - decay) * weights` after every `update`; buffers (e.g.
    BatchNorm running statistics) are averaged too. The first update copies the weights."""

    def __init__(self, network: nn.Module, decay: float = 0.999) -> None:
        super().__init__()
        require(0.0 < decay < 1.0, f"model.recipe.ema.decay={decay} must be in (0, 1).")
        self.decay = decay
        self.averaged = AveragedModel(network, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)
        self.averaged.requires_grad_(False)

    @torch.no_grad()
    def update(self, network: nn.Module) -> None:
        self.averaged.update_parameters(network)

    @property
    def network(self) -> nn.Module:
        """The averaged network, called like the original."""
        return self.averaged.module
