"""DCGAN networks for small images (28x28 grayscale, 32x32 RGB), after the classic recipe:
a dense layer to a (4b, S/4, S/4) map, then transposed convolutions with batch norm and a tanh
output; the discriminator is strided convolutions with LeakyReLU and dropout."""

from __future__ import annotations

import torch
from torch import nn

from genstyle.errors import require


def check_side(image_size: int, factor: int, who: str) -> int:
    """Side of the smallest feature map; the architecture doubles it twice to reach the image."""
    require(
        image_size % factor == 0 and image_size >= 2 * factor,
        f"{who} builds images whose side is a multiple of {factor} (at least {2 * factor}); "
        f"data.image_size={image_size} is not. Use e.g. 28 or 32, or resize the data.",
    )
    return image_size // factor


class DCGANGenerator(nn.Module):
    def __init__(
        self, latent_dim: int = 100, channels: int = 1, image_size: int = 28, base_channels: int = 64,
        num_classes: int | None = None, embed_dim: int = 50,
    ) -> None:
        super().__init__()
        require(latent_dim > 0, f"model.latent_dim={latent_dim} must be > 0.")
        require(base_channels > 0, f"model.generator.base_channels={base_channels} must be > 0.")
        self.latent_dim, self.num_classes = latent_dim, num_classes
        self.side = check_side(image_size, 4, "The DCGAN generator")
        b = base_channels
        # Conditional generators concatenate a learned label embedding to z.
        self.embed = nn.Embedding(num_classes, embed_dim) if num_classes else None
        in_dim = latent_dim + (embed_dim if num_classes else 0)
        self.project = nn.Sequential(
            nn.Linear(in_dim, 4 * b * self.side * self.side, bias=False),
            nn.BatchNorm1d(4 * b * self.side * self.side),
            nn.LeakyReLU(0.2),
        )
        self.upsample = nn.Sequential(
            nn.ConvTranspose2d(4 * b, 2 * b, 5, stride=1, padding=2, bias=False),  # (2b, S/4, S/4)
            nn.BatchNorm2d(2 * b),
            nn.LeakyReLU(0.2),
            nn.ConvTranspose2d(2 * b, b, 4, stride=2, padding=1, bias=False),  # (b, S/2, S/2)
            nn.BatchNorm2d(b),
            nn.LeakyReLU(0.2),
            nn.ConvTranspose2d(b, channels, 4, stride=2, padding=1),  # (C, S, S)
            nn.Tanh(),
        )

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.embed is not None:
            require(labels is not None, "This generator is class-conditional: pass labels.")
            z = torch.cat([z, self.embed(labels)], dim=1)
        h = self.project(z).view(z.shape[0], -1, self.side, self.side)
        return self.upsample(h)


LABEL_CONDITIONING = ("projection", "concat")


class DCGANDiscriminator(nn.Module):
    """Outputs one logit per image. With `num_classes` it is class-conditional, either through a
    projection term <embed(y), h> (`conditioning: projection`, Miyato & Koyama, 2018) or through
    a learned label map concatenated to the image as an extra input channel (`concat`, as in
    Mirza & Osindero's cGAN)."""

    def __init__(
        self, channels: int = 1, image_size: int = 28, base_channels: int = 64, dropout: float = 0.3,
        num_classes: int | None = None, conditioning: str = "projection",
    ) -> None:
        super().__init__()
        require(0.0 <= dropout < 1.0, f"model.discriminator.dropout={dropout} must be in [0, 1).")
        require(
            conditioning in LABEL_CONDITIONING,
            f"model.discriminator.conditioning={conditioning!r} is not known; choose one of {', '.join(LABEL_CONDITIONING)}.",
        )
        side = check_side(image_size, 4, "The DCGAN discriminator")
        b = base_channels
        self.num_classes, self.conditioning, self.image_size = num_classes, conditioning, image_size
        concat = bool(num_classes) and conditioning == "concat"
        # One learned H x W map per class, stacked on the image as an extra channel.
        self.label_map = nn.Embedding(num_classes, image_size * image_size) if concat else None
        self.features = nn.Sequential(
            nn.Conv2d(channels + int(concat), b, 4, stride=2, padding=1),  # (b, S/2, S/2)
            nn.LeakyReLU(0.2),
            nn.Dropout(dropout),
            nn.Conv2d(b, 2 * b, 4, stride=2, padding=1),  # (2b, S/4, S/4)
            nn.LeakyReLU(0.2),
            nn.Dropout(dropout),
            nn.Flatten(),
        )
        feature_dim = 2 * b * side * side
        self.head = nn.Linear(feature_dim, 1)
        self.projection = nn.Embedding(num_classes, feature_dim) if num_classes and not concat else None

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.label_map is not None:
            require(labels is not None, "This discriminator is class-conditional: pass labels.")
            label_map = self.label_map(labels).view(-1, 1, self.image_size, self.image_size)
            x = torch.cat([x, label_map], dim=1)  # (B, C + 1, S, S)
        h = self.features(x)  # (B, F)
        logit = self.head(h).squeeze(1)  # (B,)
        if self.projection is not None:
            require(labels is not None, "This discriminator is class-conditional: pass labels.")
            logit = logit + (self.projection(labels) * h).sum(dim=1)
        return logit
