"""U-Net translation generator (pix2pix / CycleGAN option): `n_downsampling` stride-2 4x4
convolutions, mirrored transposed convolutions, a skip connection at every resolution."""

from __future__ import annotations

import torch
from torch import nn

from genstyle.models.components.translation_layers import (
    check_divisible,
    init_gan_weights,
    norm_layer,
)


class UnetGenerator(nn.Module):
    """`(B, C, S, S)` -> `(B, C, S, S)` in [-1, 1]. Widths `ngf * min(2**i, 8)`; the innermost
    (smallest) level has no norm so a 1x1 bottleneck works. Skips keep fine detail, which helps
    structure-preserving translations and can also let the generator copy its input."""

    def __init__(
        self,
        channels: int,
        image_size: int,
        ngf: int = 64,
        n_downsampling: int = 7,
        norm: str = "instance",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        check_divisible(image_size, n_downsampling, "model.generator")
        n = n_downsampling
        widths = [ngf * min(2**i, 8) for i in range(n)]
        self.down = nn.ModuleList()
        c_in = channels
        for i, w in enumerate(widths):  # level i: (B, c_in, s, s) -> (B, w, s/2, s/2)
            self.down.append(nn.Sequential(
                nn.LeakyReLU(0.2, True) if i > 0 else nn.Identity(),
                nn.Conv2d(c_in, w, 4, stride=2, padding=1),
                norm_layer(norm, w) if 0 < i < n - 1 else nn.Identity(),
            ))  # fmt: skip
            c_in = w
        self.up = nn.ModuleList()
        for i in range(n):  # up[i] undoes down[i]; its input is down[i]'s output (+ skip below the top)
            c_in = widths[i] if i == n - 1 else 2 * widths[i]
            c_out = channels if i == 0 else widths[i - 1]
            last = [nn.Tanh()] if i == 0 else [norm_layer(norm, c_out)] + ([nn.Dropout(dropout)] if dropout > 0 else [])
            self.up.append(nn.Sequential(nn.ReLU(True), nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1), *last))
        init_gan_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        h = x
        for block in self.down:
            h = block(h)
            skips.append(h)
        h = self.up[-1](skips[-1])
        for i in range(len(self.up) - 2, -1, -1):
            h = self.up[i](torch.cat([h, skips[i]], dim=1))
        return h
