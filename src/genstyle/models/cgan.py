"""Class-conditional GAN (model=cgan): the class is the content, the latent code is the style.

The plain GAN built with `num_classes`; this class only insists on it (so a run on unlabelled
data cannot silently train an unconditional model) and adds what conditioning makes possible:
`stylize(content, style)` finds the style image's latent code by GAN inversion and swaps in the
content image's class.
"""

from __future__ import annotations

import torch

from genstyle.errors import require
from genstyle.models.class_conditioning import ConditionalStylize, require_num_classes
from genstyle.models.gan import GAN


class ConditionalGAN(ConditionalStylize, GAN):
    """DCGAN with a label embedding in G and a projection (or concatenated label map) in D.

    `stylize` finds the style image's latent code by GAN inversion (G has no encoder) and decodes
    it with the content image's class. `inversion_steps` / `inversion_lr` / `inversion_restarts` /
    `inversion_prior` set that optimisation (see `invert`)."""

    family = "cgan"

    def __init__(
        self,
        *args,
        num_classes: int | None = None,
        inversion_steps: int = 200,
        inversion_lr: float = 0.05,
        inversion_restarts: int = 1,
        inversion_prior: float = 1e-3,
        inversion_seed: int = 0,
        **kwargs,
    ) -> None:
        require_num_classes("cgan", num_classes)
        require(isinstance(inversion_steps, int) and inversion_steps >= 0, f"model.inversion_steps={inversion_steps} must be an integer >= 0.")
        require(inversion_lr > 0, f"model.inversion_lr={inversion_lr} must be > 0.")
        require(isinstance(inversion_restarts, int) and inversion_restarts >= 1, f"model.inversion_restarts={inversion_restarts} must be an integer >= 1.")
        require(inversion_prior >= 0, f"model.inversion_prior={inversion_prior} must be >= 0.")
        super().__init__(*args, num_classes=num_classes, **kwargs)
        self.inversion_steps, self.inversion_lr = inversion_steps, inversion_lr
        self.inversion_restarts, self.inversion_prior, self.inversion_seed = inversion_restarts, inversion_prior, inversion_seed

    def inversion_error(self, z: torch.Tensor, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Per-image mean squared pixel error `(B,)` of G(z, labels) against `images`."""
        return (self.inference_network("generator")(z, labels) - images).pow(2).flatten(1).mean(dim=1)

    def initial_latent(self, n: int, restart: int = 0) -> torch.Tensor:
        """The fixed starting codes `(n, latent_dim)` of restart `restart` (own generator: the
        global RNG is left alone, and the same call always starts from the same codes)."""
        generator = torch.Generator().manual_seed(self.inversion_seed + restart)
        return self.noise(n, self.latent_dim, generator)

    def invert(self, images: torch.Tensor, labels: torch.Tensor, steps: int | None = None) -> torch.Tensor:
        """Latent codes `(B, latent_dim)` with G(z, labels) close to `images` `(B, C, H, W)` in [-1, 1].

        Adam on z for `steps` (default `inversion_steps`) minimising the per-image pixel MSE plus
        `inversion_prior * mean(z^2)` (keeps z where G was trained), from `inversion_restarts`
        fixed-seed starts; each image keeps its best code. G is frozen in eval mode. This is an
        approximation (G may not be able to draw the image at all) and costs
        `restarts * (steps + 1)` generator forward and backward passes."""
        steps = self.inversion_steps if steps is None else steps
        was_training = self.training
        self.eval()  # not `evaluating`: the optimisation of z needs gradients
        frozen = [(p, p.requires_grad) for p in self.inference_network("generator").parameters()]
        for p, _ in frozen:
            p.requires_grad_(False)
        images, labels = images.detach(), labels.detach()
        best_z, best_err = None, None
        try:
            with torch.enable_grad():  # callers such as stylize run under no_grad
                for restart in range(self.inversion_restarts):
                    z = self.initial_latent(len(images), restart).requires_grad_(True)
                    optimizer = torch.optim.Adam([z], lr=self.inversion_lr)
                    for _ in range(steps):
                        optimizer.zero_grad(set_to_none=True)
                        loss = self.inversion_error(z, images, labels) + self.inversion_prior * z.pow(2).mean(dim=1)
                        loss.sum().backward()  # sum: each image's code gets its own loss's gradient
                        optimizer.step()
                    with torch.no_grad():
                        err = self.inversion_error(z, images, labels)
                        if best_z is None:
                            best_z, best_err = z.detach().clone(), err
                        else:
                            better = err < best_err
                            best_z[better], best_err = z.detach()[better], torch.minimum(err, best_err)
        finally:
            for p, requires_grad in frozen:
                p.requires_grad_(requires_grad)
            self.train(was_training)
        return best_z

    def style_code(self, style: torch.Tensor, style_labels: torch.Tensor) -> torch.Tensor:
        """The style images' latent codes `(B, latent_dim)`. A GAN has no encoder, so they are found by
        inversion (`invert`, which needs the style images' class too): an approximation that costs
        `inversion_restarts * (inversion_steps + 1)` generator passes per batch, not one.
        Deterministic: the starting codes come from a fixed seed, not the global RNG."""
        return self.invert(style, style_labels)

    def draw_with_class(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.inference_network("generator")(z, labels).clamp(-1, 1)
