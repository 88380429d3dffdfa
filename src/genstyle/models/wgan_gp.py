"""WGAN-GP (Gulrajani et al., 2017): a Wasserstein critic kept 1-Lipschitz by a gradient penalty
on random interpolates between real and fake images, several critic steps per generator step."""

from __future__ import annotations

import torch

from genstyle.errors import require
from genstyle.models.gan import GAN


def gradient_penalty(
    critic, real: torch.Tensor, fake: torch.Tensor, labels: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """E[(||grad_x D(x_hat)||_2 - 1)^2] over x_hat = e * real + (1 - e) * fake, e ~ U(0, 1) per image.
    Built with `create_graph` so the penalty itself trains the critic."""
    if generator is None:  # drawn where the images are: no host-to-device copy per step
        eps = torch.rand(len(real), 1, 1, 1, device=real.device)  # (B, 1, 1, 1)
    else:
        eps = torch.rand(len(real), 1, 1, 1, generator=generator, device=generator.device).to(real.device)
    eps = eps.to(torch.promote_types(real.dtype, torch.float32))
    x_hat = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    scores = critic(x_hat, labels)
    (grad,) = torch.autograd.grad(scores.float().sum(), x_hat, create_graph=True)
    return ((grad.float().flatten(1).norm(2, dim=1) - 1.0) ** 2).mean()  # float32 under mixed precision


class WGANGP(GAN):
    """The GAN module with `loss: wasserstein` and a gradient penalty of weight `gp_weight` as its
    D regulariser. The critic must not use batch norm (the penalty is per image)."""

    family = "wgan_gp"
    # The critic stays eager: the gradient penalty differentiates through its gradient (double
    # backward), which torch.compile does not support.
    compiled_networks = ("generator",)

    def __init__(self, *args, gp_weight: float = 10.0, loss: str = "wasserstein", **kwargs) -> None:
        require(
            loss == "wasserstein",
            f"model.loss={loss!r}: WGAN-GP trains a Wasserstein critic; use loss=wasserstein (or model=dcgan for other losses).",
        )
        require(gp_weight >= 0, f"model.gp_weight={gp_weight} must be >= 0 (10 in the paper).")
        super().__init__(*args, loss=loss, **kwargs)
        has_batch_norm = any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in self.discriminator.modules())
        require(not has_batch_norm, "WGAN-GP's critic must not use batch norm (it breaks the per-image gradient penalty).")
        self.gp_weight = gp_weight

    def d_regulariser(self, real: torch.Tensor, fake: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        # The critic sees augmented images everywhere (DiffAugment), the interpolates too.
        return self.gp_weight * gradient_penalty(lambda x, y: self.discriminate(self.augment(x), y), real, fake, labels)
