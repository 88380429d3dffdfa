"""The small networks the judges train from scratch, and their fixed, seeded training recipe.

A judge must be fresh (it has never seen the model under test), cheap (seconds on a CPU for a
few thousand 28x28 images) and repeatable (the same images and seed give the same number), so
the recipe is fixed: Adam, a set number of epochs, shuffling from a seeded generator, and the
global RNG left as it was.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from genstyle.errors import GenstyleError, require
from genstyle.metrics.features import check_model_range
from genstyle.pixels import to_model_range


@dataclass(frozen=True)
class JudgeRecipe:
    """How a judge network is trained; recorded with every number it produces."""

    epochs: int = 8
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-4
    width: int = 32

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "width"):
            require(int(getattr(self, name)) > 0, f"judge {name}={getattr(self, name)} must be a positive integer.")
        require(self.lr > 0, f"judge lr={self.lr} must be positive.")

    def as_dict(self) -> dict:
        return asdict(self)


class JudgeCNN(nn.Module):
    """Two strided 3x3 convolutions, a 4x4 average pool and a linear head: `(B, C, H, W)` in
    `[-1, 1]` -> `(B, outputs)` logits. Pooling to a fixed 4x4 grid lets any image size in."""

    def __init__(self, channels: int, outputs: int, width: int = 32) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, width, 3, stride=2, padding=1),  # (w, H/2, W/2)
            nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 3, stride=2, padding=1),  # (2w, H/4, W/4)
            nn.LeakyReLU(0.2),
            nn.AdaptiveAvgPool2d(4),  # (2w, 4, 4)
            nn.Flatten(),
        )
        self.head = nn.Linear(2 * width * 16, outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def as_model_range(images: torch.Tensor, what: str) -> torch.Tensor:
    """uint8 `[0, 255]` or float `[-1, 1]` images -> float32 `[-1, 1]` on the CPU."""
    if not torch.is_tensor(images) or images.ndim != 4:
        raise GenstyleError(f"{what}: expected an image tensor (N, C, H, W), got {getattr(images, 'shape', type(images))}.")
    if images.dtype == torch.uint8:
        return to_model_range(images).cpu()
    images = images.detach().float().cpu()
    check_model_range(images)
    return images.clamp(-1, 1)


@contextmanager
def training_allowed() -> Iterator[None]:
    """Gradients on, inference mode off: a judge may be trained inside Lightning's validation loop,
    which runs under `torch.inference_mode()`."""
    with torch.inference_mode(False), torch.enable_grad():
        yield


def fit(network: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, recipe: JudgeRecipe, seed: int) -> nn.Module:
    """Train `network` on `(inputs, targets)` with cross-entropy (class indices) for
    `recipe.epochs` seeded epochs; the caller's RNG state is untouched."""
    generator = torch.Generator().manual_seed(seed)
    with training_allowed():
        inputs, targets = inputs.clone(), targets.clone()  # ordinary tensors, even if made under inference mode
        optimizer = torch.optim.Adam(network.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
        network.train()
        for _ in range(recipe.epochs):
            order = torch.randperm(len(inputs), generator=generator)
            for batch in order.split(recipe.batch_size):
                loss = F.cross_entropy(network(inputs[batch]), targets[batch])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
    return network.eval()


@torch.no_grad()
def predict(network: nn.Module, inputs: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """`(N,)` predicted class indices."""
    network.eval()
    return torch.cat([network(chunk).argmax(1) for chunk in inputs.split(batch_size)]) if len(inputs) else torch.empty(0, dtype=torch.long)


def train_cnn(inputs: torch.Tensor, targets: torch.Tensor, outputs: int, recipe: JudgeRecipe, seed: int) -> JudgeCNN:
    """A fresh `JudgeCNN` initialised and trained from `seed` alone."""
    with torch.random.fork_rng(devices=[]), training_allowed():
        torch.manual_seed(seed)
        network = JudgeCNN(inputs.shape[1], outputs, recipe.width)
    return fit(network, inputs, targets, recipe, seed)
