"""Class-conditional VAE (model=cvae): the class is the content, the latent code is the style.

The plain VAE built with `num_classes`; this class only insists on it (so a run on unlabelled
data cannot silently train an unconditional model) and adds what conditioning makes possible:
`stylize(content, style)` keeps the style image's posterior-mean latent code and swaps in the
content image's class.
"""

from __future__ import annotations

import torch

from genstyle.models.class_conditioning import ConditionalStylize, require_num_classes
from genstyle.models.vae import VAE


class ConditionalVAE(ConditionalStylize, VAE):
    """VAE with q(z | x, y) and p(x | z, y): z keeps what the class does not explain (stroke,
    shade, proportions), which is what `stylize` carries from the style image."""

    family = "cvae"

    def __init__(self, *args, num_classes: int | None = None, **kwargs) -> None:
        require_num_classes("cvae", num_classes)
        super().__init__(*args, num_classes=num_classes, **kwargs)

    def style_code(self, style: torch.Tensor, style_labels: torch.Tensor) -> torch.Tensor:
        """The style images' posterior means `(B, latent_dim)` (the encoder needs their class too)."""
        return self.encode(style, style_labels)[0]

    def draw_with_class(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.decode_mean(z, labels)
