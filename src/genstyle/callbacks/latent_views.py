"""Latent-space views of trained models, as image batches ready for `grid_image` (drawn by
`callbacks/interpretability.py`).

- VAEs (`model.has_encoder`: `encode` and `decode_latent`): latent interpolation between two real
  images, and latent traversals of the dimensions with the highest KL (the ones the model uses).
- Conditional models (`is_conditional` and `decode_latent`): a style x content grid, where each
  row shares one latent code (the style) and each column one class (the content).

Every function runs in eval mode without gradients and returns images in [-1, 1].
"""

from __future__ import annotations

import torch

from genstyle.errors import require
from genstyle.models.base import GenerativeModule, evaluating


def has_style_content(model: GenerativeModule) -> bool:
    return model.is_conditional and callable(getattr(model, "decode_latent", None))


def _labels(model: GenerativeModule, labels: torch.Tensor | None) -> torch.Tensor | None:
    if not model.is_conditional:
        return None
    require(labels is not None, f"This {model.family} model is class-conditional: its views need the images' labels.")
    return labels.to(model.device)


def kl_per_dimension(model: GenerativeModule, images: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
    """Mean KL(q(z_d|x) || N(0, 1)) over `images` for each latent dimension `(latent_dim,)`, in nats."""
    with evaluating(model):
        mean, logvar = model.encode(images.to(model.device), _labels(model, labels))
        return (0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar)).mean(0)


def interpolation(
    model: GenerativeModule, start: torch.Tensor, end: torch.Tensor, labels: torch.Tensor | None = None, steps: int = 8,
) -> torch.Tensor:
    """Rows `[start, decode((1-t) z_start + t z_end) for t in linspace(0, 1, steps), end]` for each
    pair: `(P * (steps + 2), C, H, W)`. z is the posterior mean; conditional models decode with
    `labels` (pick pairs of the same class, so only the style moves)."""
    require(steps >= 2, f"interpolation steps={steps} must be >= 2.")
    start, end = start.to(model.device), end.to(model.device)
    labels = _labels(model, labels)
    with evaluating(model):
        z0, _ = model.encode(start, labels)  # (P, D)
        z1, _ = model.encode(end, labels)
        t = torch.linspace(0, 1, steps, device=model.device).view(1, steps, 1)
        z = (1 - t) * z0[:, None] + t * z1[:, None]  # (P, steps, D)
        row_labels = None if labels is None else labels.repeat_interleave(steps)
        decoded = model.decode_latent(z.flatten(0, 1), row_labels).view(len(start), steps, *start.shape[1:])
        return torch.cat([start[:, None], decoded, end[:, None]], dim=1).flatten(0, 1)


def traversal(
    model: GenerativeModule, image: torch.Tensor, dims: list[int], label: torch.Tensor | None = None,
    values: torch.Tensor | None = None,
) -> torch.Tensor:
    """One row per dimension in `dims`: the posterior mean of `image` `(1, C, H, W)` with that
    dimension set to each of `values` (default 9 values over [-3, 3]): `(len(dims) * V, C, H, W)`."""
    values = torch.linspace(-3, 3, 9) if values is None else values
    label = _labels(model, label)
    with evaluating(model):
        base, _ = model.encode(image.to(model.device), label)  # (1, D)
        z = base.repeat(len(dims) * len(values), 1).view(len(dims), len(values), -1)
        for row, dim in enumerate(dims):
            z[row, :, dim] = values.to(z)
        row_labels = None if label is None else label.expand(len(dims) * len(values))
        return model.decode_latent(z.flatten(0, 1), row_labels)


def top_kl_dims(kl: torch.Tensor, k: int) -> list[int]:
    return kl.argsort(descending=True)[: min(k, len(kl))].tolist()


def class_style_grid(
    model: GenerativeModule, styles: torch.Tensor, style_images: torch.Tensor | None = None,
) -> torch.Tensor:
    """Rows share a latent code from `styles` `(R, latent_dim)`, columns a class `0..K-1`:
    `(R * K, C, H, W)`, or `(R * (K + 1), ...)` with the image each style came from first in its row."""
    require(has_style_content(model), f"The style x content grid needs a class-conditional model; this {model.family} model is not one.")
    k, r = model.num_classes, len(styles)
    with evaluating(model):
        z = styles.to(model.device).repeat_interleave(k, dim=0)  # (R * K, D): row-major
        classes = torch.arange(k, device=model.device).repeat(r)
        grid = model.decode_latent(z, classes).view(r, k, *model.image_shape)
        if style_images is not None:
            grid = torch.cat([style_images.to(grid)[:, None], grid], dim=1)
        return grid.flatten(0, 1)
