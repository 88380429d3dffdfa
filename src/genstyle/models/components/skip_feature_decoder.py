"""Decoder of the frozen-encoder AdaIN style-transfer model (after Huang & Belongie 2017).

It turns AdaIN-normalised feature maps of the frozen Fashion-MNIST classifier back into an image:
the second stage's map `(B, deep, 7, 7)` and, as a skip, the first stage's `(B, skip, 14, 14)`.
With `pixel_skip`, the content image itself joins at full resolution: the classifier's pooled
maps cannot say where an edge lies within a 2x2 cell, and a decoder that has to guess draws soft
edges; with the pixels at hand it only has to repaint them.
With `residual`, the decoder draws a change to the content image instead of a new image:
`tanh(atanh(content) + h)`. It starts where the optimisation reference (Gatys et al.) starts, from
the content image, so the silhouette and sharp edges come for free and training only has to learn
the texture to add.
No normalisation layers (they would wash out the statistics AdaIN just set) and nearest-neighbour
upsampling followed by convolutions (no transposed convolutions, whose uneven overlap paints
checkerboard artefacts).
"""

from __future__ import annotations

import torch
from torch import nn

from genstyle.errors import require


def conv_relu(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, padding=1, padding_mode="reflect"), nn.ReLU(inplace=True)]


class SkipFeatureDecoder(nn.Module):
    """(deep map `(B, deep, S/4, S/4)`, skip map `(B, skip, S/2, S/2)`[, content image]) -> image `(B, C, S, S)` in [-1, 1]."""

    def __init__(self, deep_channels: int = 64, skip_channels: int = 32, channels: int = 1, width: int = 48, pixel_skip: bool = False, residual: bool = False) -> None:
        super().__init__()
        require(min(deep_channels, skip_channels, width) > 0 and width % 2 == 0, "model.decoder: channel counts must be > 0 and width even.")
        self.deep_channels, self.skip_channels, self.pixel_skip, self.residual = deep_channels, skip_channels, pixel_skip, residual
        self.deep = nn.Sequential(*conv_relu(deep_channels, width), *conv_relu(width, width))
        self.up1 = nn.Upsample(scale_factor=2, mode="nearest")
        self.mid = nn.Sequential(*conv_relu(width + skip_channels, width), *conv_relu(width, width // 2))
        self.up2 = nn.Upsample(scale_factor=2, mode="nearest")
        self.out = nn.Sequential(
            *conv_relu(width // 2 + (channels if pixel_skip else 0), width // 2),
            nn.Conv2d(width // 2, channels, 3, padding=1, padding_mode="reflect"),
        )
        if residual:
            nn.init.zeros_(self.out[-1].weight)  # starts as the identity: the result is the content image
            nn.init.zeros_(self.out[-1].bias)

    def forward(self, deep: torch.Tensor, skip: torch.Tensor, pixels: torch.Tensor | None = None) -> torch.Tensor:
        """`pixels`: the content image `(B, C, S, S)`, required with `pixel_skip` or `residual`."""
        h = self.up1(self.deep(deep))  # (B, width, S/2, S/2)
        h = self.up2(self.mid(torch.cat([h, skip], dim=1)))  # (B, width/2, S, S)
        if (self.pixel_skip or self.residual) and pixels is None:
            raise ValueError("This decoder has pixel_skip or residual set: pass the content image as pixels.")
        if self.pixel_skip:
            h = torch.cat([h, pixels], dim=1)
        h = self.out(h)
        if self.residual:
            # 0.999 keeps atanh finite at the data's exact -1 background
            h = h + torch.atanh(pixels.clamp(-0.999, 0.999))
        return torch.tanh(h)
