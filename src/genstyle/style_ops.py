"""The style operations, defined once for models, metrics and stylization alike: per-channel
statistics, AdaIN (Huang & Belongie 2017) and the AdaIN layer's modulation, Gram matrices
(Gatys et al. 2016), pixel statistics, the relative distance the style metrics report, and the
check that a style batch fits its content batch. Plain tensor functions on `(B, C, H, W)`; no
module of genstyle but `errors` below them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from genstyle.errors import require

EPS = 1e-5  # added to the variance, as torch's instance norm does


def channel_stats(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample, per-channel mean and standard deviation `(B, C, 1, 1)` of feature maps
    `(B, C, H, W)` (the biased variance plus `EPS`, as instance norm computes it)."""
    mean = x.mean(dim=(2, 3), keepdim=True)
    std = (x.var(dim=(2, 3), keepdim=True, unbiased=False) + EPS).sqrt()
    return mean, std


def adain(content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
    """Adaptive instance normalisation: the content feature maps with the style feature maps'
    per-channel mean and standard deviation, `(B, C, H, W)`."""
    c_mean, c_std = channel_stats(content)
    s_mean, s_std = channel_stats(style)
    return (content - c_mean) / c_std * s_std + s_mean


def modulate(x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    """The AdaIN layer of style-based generators: instance-normalise `x` `(B, C, H, W)`, then scale
    by `1 + gamma` and shift by `beta`, per sample and channel (`(B, C)` or `(B, C, 1, 1)`)."""
    if gamma.ndim == 2:
        gamma, beta = gamma[:, :, None, None], beta[:, :, None, None]
    return (1 + gamma) * F.instance_norm(x, eps=EPS) + beta


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """`(B, C, H, W)` feature maps -> `(B, C, C)` Gram matrices F F^T / (H W): which feature
    channels fire together, wherever they fire (Gatys et al. 2016)."""
    flat = features.flatten(2)  # (B, C, HW)
    return flat @ flat.transpose(1, 2) / flat.shape[-1]


def pixel_statistics(x: torch.Tensor) -> torch.Tensor:
    """Model-independent style statistics of images `(B, C, H, W)` in [-1, 1] -> `(B, 4C)`: per
    channel the mean and standard deviation of the intensities and the mean absolute horizontal
    and vertical gradients (brightness, contrast and texture, nothing about where things are)."""
    dx = (x[..., :, 1:] - x[..., :, :-1]).abs().mean(dim=(2, 3))
    dy = (x[..., 1:, :] - x[..., :-1, :]).abs().mean(dim=(2, 3))
    return torch.cat([x.mean(dim=(2, 3)), x.std(dim=(2, 3)), dx, dy], dim=1)


def relative_distance(result: torch.Tensor, style: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """mean ||result - style|| / mean ||content - style|| over the rows of `(N, D)` descriptors: 0
    when every result has its style image's descriptor, 1 when it is (on average) as far from it
    as the content image's own."""
    den = (content - style).norm(dim=1).mean()
    return (result - style).norm(dim=1).mean() / den.clamp_min(1e-12)


def check_style_count(n_content: int, n_style: int) -> None:
    """A style batch gives one style image per content image, or one for all of them."""
    require(n_style in (1, n_content), f"style has {n_style} images for {n_content} content images; give 1 or {n_content}.")


BACKGROUND_LEVEL = -0.9  # model range; uint8 <= 12 of 255: Fashion-MNIST's black background
BACKGROUND_MARGIN = 1  # pixels next to the garment that do not count as background


def background_mask(content: torch.Tensor, margin: int = BACKGROUND_MARGIN, level: float = BACKGROUND_LEVEL) -> torch.Tensor:
    """`(N, C, H, W)` in [-1, 1] -> bool `(N, 1, H, W)`: background pixels at least `margin` pixels
    away from anything brighter than `level` (in every channel), so the garment's own edge, which a
    softer result may blur by a pixel, is left out. The background change metric and the AdaIN
    model's background loss both use it."""
    require(content.ndim == 4 and margin >= 0, f"background_mask takes (N, C, H, W) images and margin >= 0, got {tuple(content.shape)}, {margin}.")
    brightest = content.amax(dim=1, keepdim=True)
    if margin > 0:
        brightest = F.max_pool2d(brightest, 2 * margin + 1, stride=1, padding=margin)
    return brightest <= level
