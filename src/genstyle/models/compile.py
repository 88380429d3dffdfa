"""`model.compile=true`: each network compiled on its own with `torch.compile`.

The adversarial step calls G and D separately (D on detached fakes, then G through D), so each
network is its own compiled graph rather than one graph per step. `nn.Module.compile` compiles in
place: parameter names, hence checkpoints, are those of the eager network. On CUDA the networks
also move to `channels_last`, the layout the convolution kernels with tensor cores prefer.
"""

from __future__ import annotations

import torch
from torch import nn

from genstyle.errors import require


def compile_networks(module: nn.Module, names: tuple[str, ...], channels_last: bool = False, **options) -> list[str]:
    """Compile `module.<name>` for each name in place; returns the names compiled. `options` go
    to `torch.compile` (e.g. `mode`, `backend`)."""
    require(names, f"model.compile=true, but {type(module).__name__} names no networks to compile.")
    for name in names:
        network = getattr(module, name)
        if channels_last and any(isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) for m in network.modules()):
            network.to(memory_format=torch.channels_last)
        network.compile(**options)
    return list(names)
