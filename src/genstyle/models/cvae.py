"""Class-conditional VAE (model=cvae): the class is the content, the latent code is the style.

The plain VAE built with `num_classes`; this class only insists on it (so a run on unlabelled
data cannot silently train an unconditional model) and adds what conditioning makes possible:
`stylize(content, style)` keeps the style image's posterior-mean latent code and swaps in the
content image's class.
"""

from __future__ import annotations

import torch

from genstyle.models.base import evaluating
from genstyle.models.class_conditioning import ConditionalStylize, require_num_classes
from genstyle.models.vae import VAE


class ConditionalVAE(ConditionalStylize, VAE):
    """VAE with q(z | x, y) and p(x | z, y): z keeps what the class does not explain (stroke,
    shade, proportions), which is what `stylize` carries from the style image."""

    family = "cvae"

    def __init__(self, *args, num_classes: int | None = None, **kwargs) -> None:
        require_num_classes("cvae", num_classes)
        super().__init__(*args, num_classes=num_classes, **kwargs)

    @torch.no_grad()
    def stylize(
        self,
        content: torch.Tensor,
        style: torch.Tensor,
        *,
        content_labels: torch.Tensor | None = None,
        style_labels: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """`content` `(B, C, H, W)` and `style` `(B or 1, C, H, W)` in [-1, 1] -> `(B, C, H, W)` in [-1, 1]:
        the style image's posterior-mean latent decoded with the content image's class. Labels not
        given come from the attached classifier (the encoder needs the style image's class too)."""
        with evaluating(self):
            content, style, content_labels, style_labels = self.stylize_inputs(content, style, content_labels, style_labels)
            mean, _ = self.encode(style, style_labels)  # (B, latent_dim): the style code
            return self.decode_mean(mean, content_labels)
