"""PatchGAN discriminator (pix2pix/CycleGAN): a fully convolutional net whose output is a map of
real/fake logits, one per overlapping patch, so it judges local texture rather than layout."""

from __future__ import annotations

import torch
from torch import nn

from genstyle.errors import require
from genstyle.models.components.translation_layers import init_gan_weights, norm_layer


class PatchDiscriminator(nn.Module):
    """`(B, C, S, S)` -> logits `(B, 1, S/2**n_layers - 2, same)`. `n_layers=3` at 256 px is the
    paper's 70x70 PatchGAN; 28x28 images use `n_layers=2` (5x5 patch map)."""

    def __init__(
        self, channels: int, image_size: int, ndf: int | None = None, n_layers: int | None = None, norm: str = "instance"
    ) -> None:
        super().__init__()
        # null = sized from the image: small and shallow for 28-64 px, the paper's 64/3 above.
        ndf = ndf or (32 if image_size <= 64 else 64)
        n_layers = (2 if image_size < 64 else 3) if n_layers is None else n_layers
        require(n_layers >= 1, f"model.discriminator.n_layers={n_layers} must be >= 1.")
        final = image_size // 2**n_layers
        require(
            final >= 3,
            f"model.discriminator.n_layers={n_layers} is too many for data.image_size={image_size}: after "
            f"{n_layers} stride-2 layers the map is {final}x{final}, and the two last 4x4 convolutions need at "
            f"least 3x3. Use n_layers <= {max(1, (image_size // 3).bit_length() - 1)}.",
        )
        layers: list[nn.Module] = [nn.Conv2d(channels, ndf, 4, stride=2, padding=1), nn.LeakyReLU(0.2, True)]
        width = ndf
        for i in range(1, n_layers):
            nxt = ndf * min(2**i, 8)
            layers += [nn.Conv2d(width, nxt, 4, stride=2, padding=1), norm_layer(norm, nxt), nn.LeakyReLU(0.2, True)]
            width = nxt
        nxt = ndf * min(2**n_layers, 8)
        layers += [nn.Conv2d(width, nxt, 4, stride=1, padding=1), norm_layer(norm, nxt), nn.LeakyReLU(0.2, True)]
        layers += [nn.Conv2d(nxt, 1, 4, stride=1, padding=1)]
        self.net = nn.Sequential(*layers)
        init_gan_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
