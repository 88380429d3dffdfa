"""ResNet-style translation generator (Johnson et al. 2016, as used by CycleGAN):
7x7 stem, `n_downsampling` stride-2 convolutions, `n_blocks` residual blocks, mirrored upsampling."""

from __future__ import annotations

import torch
from torch import nn

from genstyle.errors import require
from genstyle.models.components.translation_layers import (
    check_divisible,
    init_gan_weights,
    norm_layer,
)


def default_width(image_size: int) -> int:
    """`ngf: null`: 16 for small images (28-64 px, minutes on a CPU), 64 (the paper's) above."""
    return 16 if image_size <= 64 else 64


def default_blocks(image_size: int) -> int:
    """`n_blocks: null`: 3 up to 64 px, 6 below 256 px and 9 from 256 px (the paper's choice)."""
    return 3 if image_size <= 64 else 6 if image_size < 256 else 9


class ResidualBlock(nn.Module):
    def __init__(self, width: int, norm: str, dropout: float) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(width, width, 3), norm_layer(norm, width), nn.ReLU(True),
            nn.Dropout(dropout) if dropout > 0 else nn.Identity(),
            nn.ReflectionPad2d(1), nn.Conv2d(width, width, 3), norm_layer(norm, width),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResnetGenerator(nn.Module):
    """`(B, C, S, S)` in [-1, 1] -> `(B, C, S, S)` in [-1, 1]. Width `ngf * 2**n_downsampling` at
    `S / 2**n_downsampling` resolution in the residual trunk. `ngf`/`n_blocks` left null are sized
    from `image_size`: 28x28 gets ngf=16, n_blocks=3; 256x256 ngf=64, n_blocks=9 (the paper's)."""

    def __init__(
        self,
        channels: int,
        image_size: int,
        ngf: int | None = None,
        n_blocks: int | None = None,
        n_downsampling: int = 2,
        norm: str = "instance",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        ngf, n_blocks = ngf or default_width(image_size), default_blocks(image_size) if n_blocks is None else n_blocks
        check_divisible(image_size, n_downsampling, "model.generator")
        require(ngf > 0 and n_blocks >= 0, f"model.generator: ngf={ngf} must be > 0 and n_blocks={n_blocks} >= 0.")
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(channels, ngf, 7), norm_layer(norm, ngf), nn.ReLU(True)]
        width = ngf
        for _ in range(n_downsampling):  # (B, w, s, s) -> (B, 2w, s/2, s/2)
            layers += [nn.Conv2d(width, 2 * width, 3, stride=2, padding=1), norm_layer(norm, 2 * width), nn.ReLU(True)]
            width *= 2
        layers += [ResidualBlock(width, norm, dropout) for _ in range(n_blocks)]
        for _ in range(n_downsampling):  # exact doubling: (s-1)*2 - 2 + 3 + 1 = 2s
            layers += [
                nn.ConvTranspose2d(width, width // 2, 3, stride=2, padding=1, output_padding=1),
                norm_layer(norm, width // 2), nn.ReLU(True),
            ]  # fmt: skip
            width //= 2
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(width, channels, 7), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        init_gan_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
