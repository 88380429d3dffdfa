"""Convolutional encoder/decoder pair for the VAE family (optionally class-conditional)."""

from __future__ import annotations

import torch
from torch import nn

from genstyle.errors import require
from genstyle.models.components.dcgan import check_side


class ConvEncoder(nn.Module):
    """x `(B, C, S, S)` -> posterior mean and log-variance, each `(B, latent_dim)`."""

    def __init__(
        self, latent_dim: int = 20, channels: int = 1, image_size: int = 28, base_channels: int = 32,
        hidden_dim: int = 256, dropout: float = 0.0, num_classes: int | None = None,
    ) -> None:
        super().__init__()
        require(latent_dim > 0, f"model.latent_dim={latent_dim} must be > 0.")
        require(0.0 <= dropout < 1.0, f"model.encoder.dropout={dropout} must be in [0, 1).")
        side = check_side(image_size, 4, "The VAE encoder")
        b = base_channels
        self.num_classes = num_classes
        self.features = nn.Sequential(
            nn.Conv2d(channels, b, 4, stride=2, padding=1),  # (b, S/2, S/2)
            nn.LeakyReLU(0.2),
            nn.Conv2d(b, 2 * b, 4, stride=2, padding=1),  # (2b, S/4, S/4)
            nn.LeakyReLU(0.2),
            nn.Flatten(),
            nn.Dropout(dropout),
        )
        in_dim = 2 * b * side * side + (num_classes or 0)
        self.hidden = nn.Sequential(nn.Linear(in_dim, hidden_dim), nn.LeakyReLU(0.2))
        self.mean = nn.Linear(hidden_dim, latent_dim)
        self.logvar = nn.Linear(hidden_dim, latent_dim)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.features(x)
        if self.num_classes:
            require(labels is not None, "This encoder is class-conditional: pass labels.")
            h = torch.cat([h, nn.functional.one_hot(labels, self.num_classes).to(h.dtype)], dim=1)
        h = self.hidden(h)
        return self.mean(h), self.logvar(h)


class ConvDecoder(nn.Module):
    """z `(B, latent_dim)` -> per-pixel logits `(B, C, S, S)` (unbounded; the likelihood maps them)."""

    def __init__(
        self, latent_dim: int = 20, channels: int = 1, image_size: int = 28, base_channels: int = 32,
        hidden_dim: int = 256, dropout: float = 0.0, num_classes: int | None = None,
    ) -> None:
        super().__init__()
        require(latent_dim > 0, f"model.latent_dim={latent_dim} must be > 0.")
        self.side = check_side(image_size, 4, "The VAE decoder")
        b = base_channels
        self.num_classes, self.latent_dim = num_classes, latent_dim
        in_dim = latent_dim + (num_classes or 0)
        self.project = nn.Sequential(
            nn.Linear(in_dim, hidden_dim), nn.LeakyReLU(0.2), nn.Dropout(dropout),
            nn.Linear(hidden_dim, 2 * b * self.side * self.side), nn.LeakyReLU(0.2),
        )
        self.upsample = nn.Sequential(
            nn.ConvTranspose2d(2 * b, b, 4, stride=2, padding=1),  # (b, S/2, S/2)
            nn.LeakyReLU(0.2),
            nn.ConvTranspose2d(b, channels, 4, stride=2, padding=1),  # (C, S, S)
        )

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.num_classes:
            require(labels is not None, "This decoder is class-conditional: pass labels.")
            z = torch.cat([z, nn.functional.one_hot(labels, self.num_classes).to(z.dtype)], dim=1)
        h = self.project(z).view(z.shape[0], -1, self.side, self.side)
        return self.upsample(h)
