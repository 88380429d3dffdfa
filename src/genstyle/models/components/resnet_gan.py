"""Residual generator and discriminator for small images (28x28 grayscale, 32x32 RGB), after
SNGAN's CIFAR networks (Miyato et al. 2018; the residual blocks of Gulrajani et al. 2017):

- generator: a dense layer to a `(width, s, s)` map, `n` up-blocks (batch norm, ReLU, nearest
  2x upsampling, two 3x3 convolutions, a 1x1 shortcut), each halving the width, then batch norm,
  ReLU, a 3x3 convolution and tanh. `s` is the image side halved while it stays even, at most
  three times and not below 4: 28 -> 7 (two up-blocks), 32 -> 4 (three);
- discriminator: an input block and a down-block (two 3x3 convolutions each, 2x2 average pooling,
  1x1 shortcuts), then two blocks at `S/4` without pooling, ReLU, a sum over positions and one
  linear logit. No normalisation inside: spectral norm (the recipe option `spectral_norm`, on in
  `model=sngan`) wraps every convolution and linear layer from outside.

With `num_classes` the generator concatenates a label embedding to z and the discriminator adds
a projection term `<embed(y), h>` (Miyato & Koyama 2018), as the DCGAN pair does.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from genstyle.errors import require


def bottom_side(image_size: int, max_doublings: int = 3, min_side: int = 4) -> tuple[int, int]:
    """(side of the generator's first map, number of 2x up-blocks): 28 -> (7, 2), 32 -> (4, 3)."""
    side, doublings = image_size, 0
    while doublings < max_doublings and side % 2 == 0 and side // 2 >= min_side:
        side, doublings = side // 2, doublings + 1
    require(
        doublings >= 1 and image_size >= 8,
        f"The residual GAN builds images whose side halves at least once to a map of 4 pixels or more "
        f"(e.g. 28 or 32); data.image_size={image_size} does not. Resize the data, or use model=dcgan.",
    )
    return side, doublings


class GeneratorBlock(nn.Module):
    """BN, ReLU, 2x nearest upsampling, 3x3 conv, BN, ReLU, 3x3 conv; shortcut: upsampling, 1x1 conv."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.norm1, self.conv1 = nn.BatchNorm2d(in_channels), nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.norm2, self.conv2 = nn.BatchNorm2d(out_channels), nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.shortcut = nn.Conv2d(in_channels, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.interpolate(F.relu(self.norm1(x)), scale_factor=2, mode="nearest")
        h = self.conv2(F.relu(self.norm2(self.conv1(h))))
        return h + self.shortcut(F.interpolate(x, scale_factor=2, mode="nearest"))


class ResNetGANGenerator(nn.Module):
    """`z (B, latent_dim)` -> images `(B, C, S, S)` in [-1, 1]. Widths `base_channels * 2**n` at the
    first map, halving at each up-block down to `base_channels` at full resolution."""

    def __init__(
        self, latent_dim: int = 128, channels: int = 1, image_size: int = 28, base_channels: int = 32,
        num_classes: int | None = None, embed_dim: int = 50,
    ) -> None:
        super().__init__()
        require(latent_dim > 0, f"model.latent_dim={latent_dim} must be > 0.")
        require(base_channels > 0, f"model.generator.base_channels={base_channels} must be > 0.")
        self.latent_dim, self.num_classes = latent_dim, num_classes
        self.side, doublings = bottom_side(image_size)
        width = base_channels * 2**doublings
        self.width = width
        self.embed = nn.Embedding(num_classes, embed_dim) if num_classes else None
        self.project = nn.Linear(latent_dim + (embed_dim if num_classes else 0), width * self.side * self.side)
        self.blocks = nn.Sequential(*(GeneratorBlock(width >> i, width >> (i + 1)) for i in range(doublings)))
        self.out = nn.Sequential(nn.BatchNorm2d(base_channels), nn.ReLU(), nn.Conv2d(base_channels, channels, 3, padding=1), nn.Tanh())

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.embed is not None:
            require(labels is not None, "This generator is class-conditional: pass labels.")
            z = torch.cat([z, self.embed(labels)], dim=1)
        h = self.project(z).view(z.shape[0], self.width, self.side, self.side)
        return self.out(self.blocks(h))


class DiscriminatorBlock(nn.Module):
    """(ReLU,) 3x3 conv, ReLU, 3x3 conv, optional 2x2 average pooling; 1x1 shortcut where the
    width or the size changes. The first block of the network takes the image itself, so it has
    no ReLU in front and pools its shortcut before the 1x1 convolution (SNGAN's optimised block)."""

    def __init__(self, in_channels: int, out_channels: int, downsample: bool, first: bool = False) -> None:
        super().__init__()
        self.first, self.downsample = first, downsample
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.shortcut = nn.Conv2d(in_channels, out_channels, 1) if (downsample or in_channels != out_channels) else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv2(F.relu(self.conv1(x if self.first else F.relu(x))))
        if self.downsample:
            h = F.avg_pool2d(h, 2)
        skip = x
        if self.shortcut is not None:
            if self.first:  # pool the image, then project: cheaper and what SNGAN does
                skip = self.shortcut(F.avg_pool2d(x, 2) if self.downsample else x)
            else:
                skip = self.shortcut(x)
                skip = F.avg_pool2d(skip, 2) if self.downsample else skip
        return h + skip


class ResNetGANDiscriminator(nn.Module):
    """Images `(B, C, S, S)` -> one logit per image. Widths `base_channels` at `S/2` and
    `2 * base_channels` at `S/4` (S divisible by 4: 28, 32)."""

    def __init__(
        self, channels: int = 1, image_size: int = 28, base_channels: int = 32, num_classes: int | None = None,
    ) -> None:
        super().__init__()
        require(base_channels > 0, f"model.discriminator.base_channels={base_channels} must be > 0.")
        require(
            image_size % 4 == 0 and image_size >= 8,
            f"The residual discriminator halves the image twice; data.image_size={image_size} must be a multiple "
            "of 4 (e.g. 28 or 32). Resize the data, or use model=dcgan.",
        )
        b = base_channels
        self.num_classes = num_classes
        self.blocks = nn.Sequential(
            DiscriminatorBlock(channels, b, downsample=True, first=True),  # (b, S/2, S/2)
            DiscriminatorBlock(b, 2 * b, downsample=True),  # (2b, S/4, S/4)
            DiscriminatorBlock(2 * b, 2 * b, downsample=False),
            DiscriminatorBlock(2 * b, 2 * b, downsample=False),
        )
        self.head = nn.Linear(2 * b, 1)
        self.projection = nn.Embedding(num_classes, 2 * b) if num_classes else None

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        h = F.relu(self.blocks(x)).sum(dim=(2, 3))  # (B, 2b): sum over positions, as in SNGAN
        logit = self.head(h).squeeze(1)  # (B,)
        if self.projection is not None:
            require(labels is not None, "This discriminator is class-conditional: pass labels.")
            logit = logit + (self.projection(labels) * h).sum(dim=1)
        return logit
