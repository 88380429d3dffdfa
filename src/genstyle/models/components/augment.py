"""Differentiable augmentation of the discriminator's inputs (DiffAugment, Zhao et al. 2020).

Every image the discriminator sees, real or fake, in the D step and in the G step, goes
through the same policy with independent random draws per image; the ops are differentiable,
so the generator learns through them. The generator's own outputs (`sample`) are never
augmented. The three ops follow the DiffAugment reference code:

- `color`: brightness shift in [-0.5, 0.5], saturation factor in [0, 2] (RGB only), contrast
  factor in [0.5, 1.5], per image. Values may leave [-1, 1], as in DiffAugment.
- `translation`: integer shift of up to 1/8 of the side in each direction, zero-padded.
- `cutout`: a square of half the side set to zero at a random position (may be clipped).

Written in torch rather than with kornia.augmentation: these are DiffAugment's own ops
(integer shifts and a zero mask, so 28x28 images are not resampled by a bilinear warp),
about 40 lines, and need no new dependency; kornia's RandomAffine/RandomErasing would add
one and differ from the published recipe.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import nn

from genstyle.errors import require

POLICY_ORDER = ("color", "translation", "cutout")  # DiffAugment's order, whatever order is given
ALIASES = {"colour": "color"}


def parse_policy(policy: str | Iterable[str] | None) -> tuple[str, ...]:
    """`None`, `""`, `[]` -> no augmentation; `"translation,cutout"` or a list -> those ops, in
    DiffAugment's order. An unknown name is an error naming the accepted ones."""
    if policy is None:
        return ()
    names = policy.split(",") if isinstance(policy, str) else list(policy)
    names = [ALIASES.get(str(n).strip().lower(), str(n).strip().lower()) for n in names]
    names = [n for n in names if n]
    unknown = [n for n in names if n not in POLICY_ORDER]
    require(
        not unknown,
        f"model.recipe.augment={policy!r}: {', '.join(map(repr, unknown))} is not a DiffAugment op; choose any of "
        f"{', '.join(POLICY_ORDER)} as a list or comma-separated (e.g. model.recipe.augment=translation,cutout), or null for none.",
    )
    return tuple(op for op in POLICY_ORDER if op in names)


def _uniform(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """One U(0, 1) draw per image, `(B, 1, 1, 1)`, drawn on CPU when a generator is given."""
    if generator is None:
        return torch.rand(x.shape[0], 1, 1, 1, dtype=x.dtype, device=x.device)
    return torch.rand(x.shape[0], 1, 1, 1, generator=generator).to(x)


def _randint(low: int, high: int, n: int, device: torch.device, generator: torch.Generator | None) -> torch.Tensor:
    if generator is None:
        return torch.randint(low, high, (n, 1, 1), device=device)
    return torch.randint(low, high, (n, 1, 1), generator=generator).to(device)


def color(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    x = x + (_uniform(x, generator) - 0.5)  # brightness
    if x.shape[1] > 1:  # saturation is the identity on one channel: skip it (and its draws)
        mean = x.mean(dim=1, keepdim=True)
        x = (x - mean) * (_uniform(x, generator) * 2) + mean
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_uniform(x, generator) + 0.5) + mean  # contrast


def translation(x: torch.Tensor, ratio: float = 0.125, generator: torch.Generator | None = None) -> torch.Tensor:
    b, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    ty = _randint(-sh, sh + 1, b, x.device, generator)  # (B, 1, 1)
    tx = _randint(-sw, sw + 1, b, x.device, generator)
    grid_b, grid_y, grid_x = torch.meshgrid(
        torch.arange(b, device=x.device), torch.arange(h, device=x.device), torch.arange(w, device=x.device), indexing="ij"
    )
    # Index into a 1-pixel zero border: positions shifted out of the image read zeros.
    grid_y = (grid_y + ty + 1).clamp(0, h + 1)
    grid_x = (grid_x + tx + 1).clamp(0, w + 1)
    padded = F.pad(x, [1, 1, 1, 1]).permute(0, 2, 3, 1)  # (B, H+2, W+2, C)
    return padded[grid_b, grid_y, grid_x].permute(0, 3, 1, 2).contiguous()


def cutout(x: torch.Tensor, ratio: float = 0.5, generator: torch.Generator | None = None) -> torch.Tensor:
    b, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    oy = _randint(0, h + (1 - ch % 2), b, x.device, generator)
    ox = _randint(0, w + (1 - cw % 2), b, x.device, generator)
    grid_b, grid_y, grid_x = torch.meshgrid(
        torch.arange(b, device=x.device), torch.arange(ch, device=x.device), torch.arange(cw, device=x.device), indexing="ij"
    )
    grid_y = (grid_y + oy - ch // 2).clamp(0, h - 1)
    grid_x = (grid_x + ox - cw // 2).clamp(0, w - 1)
    mask = torch.ones(b, h, w, dtype=x.dtype, device=x.device)
    mask[grid_b, grid_y, grid_x] = 0
    return x * mask.unsqueeze(1)


OPS = {"color": color, "translation": translation, "cutout": cutout}


class DiffAugment(nn.Module):
    """`augment(x)` applies the policy's ops to a batch `(B, C, H, W)`; with no ops it returns
    `x` itself (no copy, no random draws), so a plain run is unchanged. Random draws come from
    the global RNG (restored on resume), or from `generator` when given (tests)."""

    def __init__(self, policy: str | Iterable[str] | None = None) -> None:
        super().__init__()
        self.policy = parse_policy(policy)

    def __bool__(self) -> bool:
        return bool(self.policy)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        for name in self.policy:
            x = OPS[name](x, generator=generator)
        return x

    def extra_repr(self) -> str:
        return ",".join(self.policy) or "none"
