"""The four networks of StarGAN v2 (Choi et al. 2020), sized from the data.

- `Generator`: image + style code -> image. An encoder of pre-activation residual blocks with
  average-pool downsampling, then a decoder of AdaIN residual blocks (nearest upsampling) whose
  normalisation scales and shifts come from the style code. No high-pass filter or face masks
  (those are for aligned faces).
- `MappingNetwork`: noise z + target domain -> style code (shared MLP trunk, one head per domain).
- `StyleEncoder`: image + its domain -> style code (shared conv trunk, one linear head per domain).
- `Discriminator`: image + domain -> one real/fake logit, the domain's output of a multi-task head.

Widths and depths left null are sized from `image_size` (see `default_*`): 28x28 gray gets small
networks (widths 16-64) that train on a CPU; 64-256 px follows the paper (first width 2**14 / size, capped at 512;
encoder down to 16x16 in the generator, to 4x4 in the discriminator and style encoder).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from genstyle.errors import require
from genstyle.style_ops import modulate


def default_width(image_size: int) -> int:
    """First convolution width: 16 for small images (a CPU step well under a second at 28x28),
    the paper's 2**14 / size from 64 px."""
    return 16 if image_size < 64 else min(512, 2**14 // image_size)


def default_max_width(image_size: int) -> int:
    return 64 if image_size < 64 else 512


def default_down(image_size: int, smallest: int) -> int:
    """The most halvings that divide `image_size` exactly and keep at least `smallest` pixels."""
    k = 0
    while image_size % 2 ** (k + 1) == 0 and image_size // 2 ** (k + 1) >= smallest:
        k += 1
    return k


def generator_bottleneck(image_size: int) -> int:
    """The generator's encoder stops at 16x16 from 64 px (the paper's), at 7-8 px for small images."""
    return 16 if image_size >= 64 else 7


def check_size(image_size: int, n_down: int, key: str) -> None:
    require(n_down >= 1, f"{key}.n_down={n_down} must be >= 1 (data.image_size={image_size} must be even).")
    require(
        image_size % 2**n_down == 0,
        f"{key}: data.image_size={image_size} is not divisible by 2**n_down={2**n_down}; use fewer downsamplings "
        f"(n_down <= {default_down(image_size, 1)}) or another image size.",
    )


def require_domains(num_domains: int | None, key: str) -> None:
    require(
        num_domains is not None and num_domains >= 2,
        f"{key}.num_domains={num_domains}: model=stargan_v2 translates between the classes of the data (its "
        "domains, at least 2) and needs model.num_classes (it follows data.num_classes). Use data with classes "
        "(data=fashion_mnist), or data=image_folder with one sub-folder per class and data.num_classes set to their number.",
    )


def widths(first: int, cap: int, n: int) -> list[int]:
    """`first, 2 first, 4 first, ...` (n + 1 entries), capped at `cap`."""
    return [min(cap, first * 2**i) for i in range(n + 1)]


class ResBlock(nn.Module):
    """Pre-activation residual block: (norm, LeakyReLU, conv) x 2, optional 2x average-pool
    downsampling, learned 1x1 shortcut when the width changes; the sum is scaled by 1/sqrt(2)
    so activations keep their variance through many blocks."""

    def __init__(self, dim_in: int, dim_out: int, normalize: bool = False, downsample: bool = False) -> None:
        super().__init__()
        self.downsample = downsample
        self.conv1 = nn.Conv2d(dim_in, dim_in, 3, 1, 1)
        self.conv2 = nn.Conv2d(dim_in, dim_out, 3, 1, 1)
        self.norm1 = nn.InstanceNorm2d(dim_in, affine=True) if normalize else nn.Identity()
        self.norm2 = nn.InstanceNorm2d(dim_in, affine=True) if normalize else nn.Identity()
        self.shortcut = nn.Conv2d(dim_in, dim_out, 1, 1, 0, bias=False) if dim_in != dim_out else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = self.shortcut(x)
        h = self.conv1(F.leaky_relu(self.norm1(x), 0.2))
        if self.downsample:
            skip, h = F.avg_pool2d(skip, 2), F.avg_pool2d(h, 2)
        h = self.conv2(F.leaky_relu(self.norm2(h), 0.2))
        return (skip + h) / math.sqrt(2)


class AdaIN(nn.Module):
    """Instance norm whose per-channel scale (1 + gamma) and shift beta are a linear function of the style."""

    def __init__(self, style_dim: int, channels: int) -> None:
        super().__init__()
        self.fc = nn.Linear(style_dim, 2 * channels)

    def forward(self, x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.fc(s)[:, :, None, None].chunk(2, dim=1)
        return modulate(x, gamma, beta)


class AdainResBlock(nn.Module):
    """Decoder block: (AdaIN, LeakyReLU, conv) x 2 with optional 2x nearest upsampling."""

    def __init__(self, dim_in: int, dim_out: int, style_dim: int, upsample: bool = False) -> None:
        super().__init__()
        self.upsample = upsample
        self.norm1, self.norm2 = AdaIN(style_dim, dim_in), AdaIN(style_dim, dim_out)
        self.conv1 = nn.Conv2d(dim_in, dim_out, 3, 1, 1)
        self.conv2 = nn.Conv2d(dim_out, dim_out, 3, 1, 1)
        self.shortcut = nn.Conv2d(dim_in, dim_out, 1, 1, 0, bias=False) if dim_in != dim_out else nn.Identity()

    def forward(self, x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        skip = x
        h = F.leaky_relu(self.norm1(x, s), 0.2)
        if self.upsample:
            skip, h = F.interpolate(skip, scale_factor=2, mode="nearest"), F.interpolate(h, scale_factor=2, mode="nearest")
        h = self.conv2(F.leaky_relu(self.norm2(self.conv1(h), s), 0.2))
        return (self.shortcut(skip) + h) / math.sqrt(2)


class Generator(nn.Module):
    """`(B, C, S, S)` in [-1, 1] and a style code `(B, style_dim)` -> `(B, C, S, S)`. The output is
    not squashed (as in the paper); callers clamp to [-1, 1] at inference."""

    def __init__(
        self,
        channels: int,
        image_size: int,
        style_dim: int = 64,
        base_width: int | None = None,
        max_width: int | None = None,
        n_down: int | None = None,
        n_bottleneck: int = 2,
        skip_sizes: Sequence[int] = (),
    ) -> None:
        super().__init__()
        base_width, max_width = base_width or default_width(image_size), max_width or default_max_width(image_size)
        n_down = default_down(image_size, generator_bottleneck(image_size)) if n_down is None else n_down
        check_size(image_size, n_down, "model.generator")
        sizes = [image_size // 2**i for i in range(1, n_down)]  # the encoder's maps between the input and the bottleneck
        skip_sizes = sorted({int(size) for size in skip_sizes}, reverse=True)
        require(
            all(size in sizes for size in skip_sizes),
            f"model.generator.skip_sizes={list(skip_sizes)}: a skip path joins an encoder map to the decoder map of the same "
            f"size, and this generator's encoder has maps of {sizes or 'no size'} between its input and its bottleneck; "
            "use some of those sizes, or [] for none.",
        )
        self.skip_sizes = tuple(skip_sizes)
        require(style_dim > 0 and n_bottleneck >= 0, f"model.generator: style_dim={style_dim} must be > 0, n_bottleneck={n_bottleneck} >= 0.")
        self.style_dim = style_dim
        dims = widths(base_width, max_width, n_down)
        self.from_image = nn.Conv2d(channels, dims[0], 3, 1, 1)
        self.encoder = nn.ModuleList(ResBlock(a, b, normalize=True, downsample=True) for a, b in itertools.pairwise(dims))
        self.encoder.extend(ResBlock(dims[-1], dims[-1], normalize=True) for _ in range(n_bottleneck))
        self.decoder = nn.ModuleList(AdainResBlock(dims[-1], dims[-1], style_dim) for _ in range(n_bottleneck))
        self.decoder.extend(AdainResBlock(b, a, style_dim, upsample=True) for a, b in reversed(list(itertools.pairwise(dims))))
        self.to_image = nn.Sequential(nn.InstanceNorm2d(dims[0], affine=True), nn.LeakyReLU(0.2), nn.Conv2d(dims[0], channels, 1))
        # Skip paths: the encoder's map at each of `skip_sizes` (after its downsampling block),
        # through a 1x1 convolution, added to the decoder's map of that size (after its upsampling
        # block), so the source's layout at that scale reaches the output without the bottleneck.
        width = {image_size // 2**i: dims[i] for i in range(n_down + 1)}
        self.skips = nn.ModuleDict({str(size): nn.Conv2d(width[size], width[size], 1) for size in self.skip_sizes})

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[int, torch.Tensor]]:
        """The encoder: `(B, C, S, S)` -> (the bottleneck map, {size: the map kept for its skip path})."""
        h, kept = self.from_image(x), {}
        for block in self.encoder:
            h = block(h)
            if h.shape[-1] in self.skip_sizes and h.shape[-1] not in kept:
                kept[h.shape[-1]] = h
        return h, kept

    def forward(self, x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        h, kept = self.encode(x)
        for block in self.decoder:
            h = block(h, s)
            size = h.shape[-1]
            if size in kept:
                h = h + self.skips[str(size)](kept.pop(size))
        return self.to_image(h)


def structure(x: torch.Tensor) -> torch.Tensor:
    """`(B, C, H, W)` -> `(B, 1, H, W)`: the Sobel gradient magnitude of each image after normalising
    it to mean 0 and standard deviation 1 (the channels averaged first): where its edges are, not
    its shade or contrast. The source-structure loss of `model.lambda_struct` compares these."""
    gray = x.mean(dim=1, keepdim=True)
    gray = (gray - gray.mean(dim=(2, 3), keepdim=True)) / (gray.std(dim=(2, 3), keepdim=True) + 1e-5)
    kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], device=x.device, dtype=x.dtype) / 8
    kernels = torch.stack([kx, kx.t()])[:, None]  # (2, 1, 3, 3): d/dx, d/dy
    grad = F.conv2d(F.pad(gray, (1, 1, 1, 1), mode="replicate"), kernels)
    return (grad.pow(2).sum(dim=1, keepdim=True) + 1e-8).sqrt()


def pick(outputs: torch.Tensor, domains: torch.Tensor) -> torch.Tensor:
    """`outputs` `(B, D, ...)`, `domains` `(B,)` -> `(B, ...)`: each row's output for its domain."""
    return outputs[torch.arange(len(domains), device=outputs.device), domains]


class MappingNetwork(nn.Module):
    """`z` `(B, latent_dim)` and domains `(B,)` -> style codes `(B, style_dim)`: a shared MLP
    trunk (`shared_layers` layers) and one MLP head per domain (`head_layers`, the last linear)."""

    def __init__(
        self,
        num_domains: int,
        image_size: int,
        latent_dim: int = 16,
        style_dim: int = 64,
        mlp_width: int | None = None,
        shared_layers: int = 4,
        head_layers: int = 4,
    ) -> None:
        super().__init__()
        require_domains(num_domains, "model.mapping_network")
        require(shared_layers >= 1 and head_layers >= 1, "model.mapping_network: shared_layers and head_layers must be >= 1.")
        hidden_dim = mlp_width or (128 if image_size < 64 else 512)
        self.latent_dim, self.style_dim, self.num_domains = latent_dim, style_dim, num_domains
        trunk: list[nn.Module] = []
        for i in range(shared_layers):
            trunk += [nn.Linear(latent_dim if i == 0 else hidden_dim, hidden_dim), nn.ReLU()]
        self.shared = nn.Sequential(*trunk)

        def head() -> nn.Sequential:
            layers: list[nn.Module] = []
            for _ in range(head_layers - 1):
                layers += [nn.Linear(hidden_dim, hidden_dim), nn.ReLU()]
            return nn.Sequential(*layers, nn.Linear(hidden_dim, style_dim))

        self.heads = nn.ModuleList(head() for _ in range(num_domains))

    def forward(self, z: torch.Tensor, domains: torch.Tensor) -> torch.Tensor:
        h = self.shared(z)
        return pick(torch.stack([head(h) for head in self.heads], dim=1), domains)  # (B, D, style) -> (B, style)


class ConvTrunk(nn.Module):
    """Shared by the style encoder and the discriminator: conv, `n_down` downsampling residual
    blocks (no normalisation), LeakyReLU, a conv over the whole remaining map, LeakyReLU -> `(B, width)`."""

    def __init__(self, channels: int, image_size: int, base_width: int | None, max_width: int | None, n_down: int | None, key: str) -> None:
        super().__init__()
        base_width, max_width = base_width or default_width(image_size), max_width or default_max_width(image_size)
        n_down = default_down(image_size, 4) if n_down is None else n_down
        check_size(image_size, n_down, key)
        dims = widths(base_width, max_width, n_down)
        final = image_size // 2**n_down
        self.body = nn.Sequential(
            nn.Conv2d(channels, dims[0], 3, 1, 1),
            *(ResBlock(a, b, downsample=True) for a, b in itertools.pairwise(dims)),
            nn.LeakyReLU(0.2),
            nn.Conv2d(dims[-1], dims[-1], final, 1, 0),
            nn.LeakyReLU(0.2),
        )
        self.out_width = dims[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x).flatten(1)


class StyleEncoder(nn.Module):
    """Image `(B, C, S, S)` and its domains `(B,)` -> style codes `(B, style_dim)`, one linear head per domain."""

    def __init__(
        self,
        channels: int,
        image_size: int,
        num_domains: int,
        style_dim: int = 64,
        base_width: int | None = None,
        max_width: int | None = None,
        n_down: int | None = None,
    ) -> None:
        super().__init__()
        require_domains(num_domains, "model.style_encoder")
        self.trunk = ConvTrunk(channels, image_size, base_width, max_width, n_down, "model.style_encoder")
        self.heads = nn.Linear(self.trunk.out_width, num_domains * style_dim)  # D heads in one matmul
        self.num_domains, self.style_dim = num_domains, style_dim

    def forward(self, x: torch.Tensor, domains: torch.Tensor) -> torch.Tensor:
        codes = self.heads(self.trunk(x)).view(len(x), self.num_domains, self.style_dim)
        return pick(codes, domains)


class Discriminator(nn.Module):
    """Multi-task discriminator: image `(B, C, S, S)` and domains `(B,)` -> logits `(B,)`, the
    real/fake output for each image's domain (one output per domain, picked by the domain)."""

    def __init__(
        self,
        channels: int,
        image_size: int,
        num_domains: int,
        base_width: int | None = None,
        max_width: int | None = None,
        n_down: int | None = None,
    ) -> None:
        super().__init__()
        require_domains(num_domains, "model.discriminator")
        self.trunk = ConvTrunk(channels, image_size, base_width, max_width, n_down, "model.discriminator")
        self.heads = nn.Linear(self.trunk.out_width, num_domains)
        self.num_domains = num_domains

    def forward(self, x: torch.Tensor, domains: torch.Tensor) -> torch.Tensor:
        return pick(self.heads(self.trunk(x)), domains)
