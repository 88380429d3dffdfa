"""Adversarial loss modes: one object answers "D's loss" and "G's loss" for logits."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from genstyle.errors import require

GAN_LOSS_MODES = ("non_saturating", "lsgan", "hinge", "wasserstein")


class AdversarialLoss:
    """`non_saturating` is the original GAN loss with log D(G(z)) for G; `lsgan` least squares
    (the CycleGAN default); `hinge`; `wasserstein` (use with a gradient penalty)."""

    def __init__(self, mode: str = "non_saturating", label_smoothing: float = 0.0) -> None:
        require(mode in GAN_LOSS_MODES, f"model.loss={mode!r} is not known; choose one of {', '.join(GAN_LOSS_MODES)}.")
        require(0.0 <= label_smoothing < 0.5, f"model.label_smoothing={label_smoothing} must be in [0, 0.5).")
        self.mode, self.label_smoothing = mode, label_smoothing

    def d_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        real_logits, fake_logits = real_logits.float(), fake_logits.float()  # float32 under mixed precision
        if self.mode == "non_saturating":
            # One-sided smoothing: only the real targets move (Salimans et al., 2016).
            real_target = torch.full_like(real_logits, 1.0 - self.label_smoothing)
            return F.binary_cross_entropy_with_logits(real_logits, real_target) + F.binary_cross_entropy_with_logits(
                fake_logits, torch.zeros_like(fake_logits)
            )
        if self.mode == "lsgan":
            return 0.5 * (((real_logits - (1.0 - self.label_smoothing)) ** 2).mean() + (fake_logits**2).mean())
        if self.mode == "hinge":
            return F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean()
        return fake_logits.mean() - real_logits.mean()  # wasserstein critic

    def accuracies(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """D's accuracy on real and on fake logits (any shapes): the share on the correct side of
        the decision boundary, 0.5 for least squares (targets 1 and 0) and 0 for the others."""
        threshold = 0.5 if self.mode == "lsgan" else 0.0
        return (real_logits.detach() > threshold).float().mean(), (fake_logits.detach() < threshold).float().mean()

    def g_loss(self, fake_logits: torch.Tensor) -> torch.Tensor:
        fake_logits = fake_logits.float()  # float32 under mixed precision
        if self.mode == "non_saturating":
            return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))
        if self.mode == "lsgan":
            return 0.5 * ((fake_logits - 1.0) ** 2).mean()
        return -fake_logits.mean()  # hinge and wasserstein


def gradient_norm(parameters) -> torch.Tensor:
    """L2 norm of all gradients of `parameters` (0 where none): a stability indicator."""
    grads = [p.grad.detach() for p in parameters if p.grad is not None]
    if not grads:
        return torch.tensor(0.0)
    # One fused kernel per device and dtype instead of one per parameter; a device tensor, no sync.
    return torch.linalg.vector_norm(torch.stack([n.float() for n in torch._foreach_norm(grads, 2)]), 2)


def r1_penalty(real_logits: torch.Tensor, real_images: torch.Tensor) -> torch.Tensor:
    """R1 (Mescheder et al., 2018): mean over the batch of ||d D(x) / dx||^2 on real images.

    `real_images` must have `requires_grad=True` before they go through D; the result is
    differentiable (create_graph) so it trains D. Computed in float32 for mixed precision.
    """
    (grad,) = torch.autograd.grad(real_logits.float().sum(), real_images, create_graph=True)
    return grad.float().pow(2).flatten(1).sum(1).mean()
