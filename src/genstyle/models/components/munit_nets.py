"""Networks of model=munit, the exemplar style-transfer model (after MUNIT, Huang et al. 2018, reduced to
one domain): a content encoder that keeps a spatial map, a style encoder that pools to a vector,
a decoder that injects the style through adaptive instance normalisation whose scale and shift
an MLP predicts from the style vector, and a multi-scale-free PatchGAN discriminator.

All are sized from the data config: `image_size` must be divisible by `2**n_down`, so 28x28
grayscale (n_down=2, 7x7 content map) and 128-256 px RGB (n_down=2 or 3) use the same code.
"""

from __future__ import annotations

import torch
from torch import nn

from genstyle.errors import require
from genstyle.style_ops import modulate


def check_divisible(image_size: int, n_down: int, who: str) -> None:
    factor = 2**n_down
    require(
        n_down >= 1 and image_size % factor == 0 and image_size // factor >= 2,
        f"{who} halves the image {n_down} times, so data.image_size must be a multiple of {factor} "
        f"(at least {2 * factor}); got {image_size}. Change n_down or resize the data.",
    )


class InstanceNormResBlock(nn.Module):
    """Two 3x3 convolutions with instance norm and a skip: the content map keeps its shape."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(dim, dim, 3, padding=1, padding_mode="reflect"),
            nn.InstanceNorm2d(dim, affine=False),
            nn.ReLU(inplace=True),
            nn.Conv2d(dim, dim, 3, padding=1, padding_mode="reflect"),
            nn.InstanceNorm2d(dim, affine=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ContentEncoder(nn.Module):
    """Image `(B, C, S, S)` -> content map `(B, base*2**n_down, S/2**n_down, S/2**n_down)`.

    Instance norm removes per-image feature statistics, i.e. the part of the signal the style
    code is meant to carry, so the map keeps structure (where things are) rather than style."""

    def __init__(self, channels: int = 1, image_size: int = 28, base_channels: int = 32, n_down: int = 2, n_res: int = 2) -> None:
        super().__init__()
        check_divisible(image_size, n_down, "The MUNIT content encoder")
        require(base_channels > 0 and n_res >= 0, "model.content_encoder: base_channels must be > 0 and n_res >= 0.")
        layers: list[nn.Module] = [
            nn.Conv2d(channels, base_channels, 7, padding=3, padding_mode="reflect"),
            nn.InstanceNorm2d(base_channels),
            nn.ReLU(inplace=True),
        ]
        dim = base_channels
        for _ in range(n_down):
            layers += [nn.Conv2d(dim, 2 * dim, 4, stride=2, padding=1, padding_mode="reflect"), nn.InstanceNorm2d(2 * dim), nn.ReLU(inplace=True)]
            dim *= 2
        layers += [InstanceNormResBlock(dim) for _ in range(n_res)]
        self.net = nn.Sequential(*layers)
        self.out_channels = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class PooledStyleEncoder(nn.Module):
    """Image `(B, C, S, S)` -> style vector `(B, style_dim)`.

    No normalisation layers (they would erase the very statistics style is made of), and a
    global average pool, so the code cannot say *where* anything is."""

    def __init__(self, channels: int = 1, image_size: int = 28, base_channels: int = 32, n_down: int = 2, style_dim: int = 8) -> None:
        super().__init__()
        check_divisible(image_size, n_down, "The MUNIT style encoder")
        require(style_dim > 0 and base_channels > 0, "model.style_encoder: style_dim and base_channels must be > 0.")
        layers: list[nn.Module] = [nn.Conv2d(channels, base_channels, 7, padding=3, padding_mode="reflect"), nn.ReLU(inplace=True)]
        dim = base_channels
        for _ in range(n_down):
            layers += [nn.Conv2d(dim, 2 * dim, 4, stride=2, padding=1, padding_mode="reflect"), nn.ReLU(inplace=True)]
            dim *= 2
        layers += [nn.AdaptiveAvgPool2d(1), nn.Conv2d(dim, style_dim, 1)]
        self.net = nn.Sequential(*layers)
        self.style_dim = style_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).flatten(1)


class MLPAdaIN(nn.Module):
    """Instance-normalise, then scale and shift with per-sample parameters that the decoder's MLP sets."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim
        self.gamma: torch.Tensor | None = None  # (B, dim), set before every forward
        self.beta: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.gamma is None or self.beta is None:
            raise RuntimeError("AdaIN parameters were not set; call the decoder, not its layers.")
        return modulate(x, self.gamma, self.beta)


class MLPAdaINResBlock(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(dim, dim, 3, padding=1, padding_mode="reflect")
        self.norm1 = MLPAdaIN(dim)
        self.conv2 = nn.Conv2d(dim, dim, 3, padding=1, padding_mode="reflect")
        self.norm2 = MLPAdaIN(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.norm1(self.conv1(x)))
        return x + self.norm2(self.conv2(h))


class LayerNorm2d(nn.Module):
    """Normalise over (C, H, W) per sample: keeps the style the AdaIN blocks injected (instance
    norm in the upsampling path would wash it out again)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        std = x.std(dim=(1, 2, 3), keepdim=True)
        return (x - mean) / (std + 1e-5) * self.weight[None, :, None, None] + self.bias[None, :, None, None]


class AdaINDecoder(nn.Module):
    """(content map, style vector) -> image `(B, C, S, S)` in [-1, 1].

    An MLP maps the style vector to the scale and shift of every AdaIN layer in the residual
    blocks; upsampling then restores the resolution."""

    def __init__(
        self, content_channels: int = 128, channels: int = 1, style_dim: int = 8, n_up: int = 2, n_res: int = 2, mlp_dim: int = 128,
    ) -> None:
        super().__init__()
        require(n_up >= 1 and n_res >= 1, "model.decoder: n_up and n_res must be >= 1 (n_up equal to the encoders' n_down).")
        require(content_channels % 2**n_up == 0, f"model.decoder.content_channels={content_channels} must be divisible by 2**n_up={2**n_up}.")
        dim = self.content_channels = content_channels
        self.blocks = nn.Sequential(*[MLPAdaINResBlock(dim) for _ in range(n_res)])
        self.adains = [m for m in self.blocks.modules() if isinstance(m, MLPAdaIN)]
        n_params = sum(2 * m.dim for m in self.adains)
        self.mlp = nn.Sequential(
            nn.Linear(style_dim, mlp_dim), nn.ReLU(inplace=True),
            nn.Linear(mlp_dim, mlp_dim), nn.ReLU(inplace=True),
            nn.Linear(mlp_dim, n_params),
        )  # fmt: skip
        up: list[nn.Module] = []
        for _ in range(n_up):
            up += [
                nn.Upsample(scale_factor=2, mode="nearest"),
                nn.Conv2d(dim, dim // 2, 5, padding=2, padding_mode="reflect"),
                LayerNorm2d(dim // 2),
                nn.ReLU(inplace=True),
            ]
            dim //= 2
        up += [nn.Conv2d(dim, channels, 7, padding=3, padding_mode="reflect"), nn.Tanh()]
        self.upsample = nn.Sequential(*up)

    def forward(self, content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        params = self.mlp(style)  # (B, sum of 2*dim over AdaIN layers)
        offset = 0
        for layer in self.adains:
            layer.gamma = params[:, offset : offset + layer.dim]
            layer.beta = params[:, offset + layer.dim : offset + 2 * layer.dim]
            offset += 2 * layer.dim
        return self.upsample(self.blocks(content))


class StridedPatchDiscriminator(nn.Module):
    """PatchGAN: strided convolutions to a map of real/fake logits, one per receptive field."""

    def __init__(self, channels: int = 1, image_size: int = 28, base_channels: int = 32, n_layers: int = 2) -> None:
        super().__init__()
        check_divisible(image_size, n_layers, "The patch discriminator")
        layers: list[nn.Module] = [nn.Conv2d(channels, base_channels, 4, stride=2, padding=1), nn.LeakyReLU(0.2, inplace=True)]
        dim = base_channels
        for _ in range(n_layers - 1):
            layers += [nn.Conv2d(dim, 2 * dim, 4, stride=2, padding=1), nn.InstanceNorm2d(2 * dim, affine=True), nn.LeakyReLU(0.2, inplace=True)]
            dim *= 2
        layers += [nn.Conv2d(dim, 1, 3, padding=1)]  # (B, 1, S/2**n_layers, S/2**n_layers)
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
