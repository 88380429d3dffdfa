"""Pieces shared by the image-to-image networks (ResNet/U-Net generators, PatchGAN)."""

from __future__ import annotations

from torch import nn

from genstyle.errors import require

NORMS = ("instance", "batch", "none")


def norm_layer(kind: str, channels: int) -> nn.Module:
    """Instance norm is the CycleGAN default: per-image statistics keep one image's style from
    leaking into another's through batch statistics."""
    require(kind in NORMS, f"model norm={kind!r} is not known; choose one of {', '.join(NORMS)}.")
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    return nn.Identity()


def check_divisible(image_size: int, n_downsampling: int, key: str) -> None:
    """Each stride-2 stage halves the size and the decoder doubles it back: the size must divide."""
    require(n_downsampling >= 1, f"{key}.n_downsampling={n_downsampling} must be >= 1.")
    factor = 2**n_downsampling
    require(
        image_size % factor == 0,
        f"{key}: data.image_size={image_size} is not divisible by 2**n_downsampling={factor} "
        f"(n_downsampling={n_downsampling}); the decoder could not restore the input size. Use an image size "
        f"that is a multiple of {factor}, or fewer downsamplings (largest that fits: "
        f"{max((k for k in range(1, 9) if image_size % 2**k == 0), default=0)}).",
    )


def init_gan_weights(module: nn.Module, std: float = 0.02) -> None:
    """N(0, 0.02) for convolutions, N(1, 0.02) for norm scales, as in the CycleGAN paper's code."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, std)
            nn.init.zeros_(m.bias)
