"""Variational autoencoder: Gaussian posterior, reparameterisation, ELBO in nats per image."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from genstyle.errors import require
from genstyle.models.base import GenerativeModule, OptimizerFactory
from genstyle.models.conditioning import LabelConditioning

LIKELIHOODS = ("bernoulli", "gaussian")


class VAE(LabelConditioning, GenerativeModule):
    """ELBO = E_q[log p(x|z)] - KL(q(z|x) || p(z)), trained on recon + beta * w_t * KL where w_t
    rises linearly from 0 to 1 over `kl_warmup_steps`. Likelihoods are evaluated on pixel
    intensities in [0, 1] and summed over pixels (as pytorch/examples' VAE), so ELBOs compare."""

    family = "vae"

    def __init__(
        self,
        encoder: nn.Module,
        decoder: nn.Module,
        optimizer: OptimizerFactory,
        image_shape: tuple[int, int, int],
        likelihood: str = "bernoulli",
        beta: float = 1.0,
        kl_warmup_steps: int = 0,
        latent_dim: int = 20,
        num_classes: int | None = None,
        monitor: str | None = "val/loss",
        monitor_mode: str = "min",
    ) -> None:
        super().__init__(image_shape, num_classes, monitor, monitor_mode)
        require(latent_dim > 0, f"model.latent_dim={latent_dim} must be > 0.")
        require(likelihood in LIKELIHOODS, f"model.likelihood={likelihood!r} is not known; choose one of {', '.join(LIKELIHOODS)}.")
        require(beta >= 0, f"model.beta={beta} must be >= 0.")
        require(kl_warmup_steps >= 0, f"model.kl_warmup_steps={kl_warmup_steps} must be >= 0.")
        self.encoder, self.decoder, self.optimizer_factory = encoder, decoder, optimizer
        self.likelihood, self.beta, self.kl_warmup_steps = likelihood, beta, kl_warmup_steps
        self.latent_dim = latent_dim
        # Gaussian likelihood learns one global observation noise scale.
        self.log_sigma = nn.Parameter(torch.tensor(-2.0)) if likelihood == "gaussian" else None
        # With num_classes the encoder and decoder are told the class (model=cvae).
        self.init_conditioning()

    # --- the model -----------------------------------------------------------------------------

    def encode(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        return self.encoder(x, labels)

    def decode_mean(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Mean image of p(x|z) mapped to [-1, 1]."""
        return torch.sigmoid(self.decoder(z, labels)) * 2 - 1

    def decode_latent(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Images `(B, C, H, W)` in [-1, 1] for given latent codes (interpretability views)."""
        return self.decode_mean(z, labels)

    def reconstruction_nll(self, logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """-log p(x|z) in nats per image `(B,)`, for x in [-1, 1]."""
        target = (x + 1) / 2  # intensities in [0, 1]
        if self.likelihood == "bernoulli":
            nll = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
        else:
            sigma = self.log_sigma.exp()
            nll = 0.5 * ((target - torch.sigmoid(logits)) / sigma) ** 2 + self.log_sigma + 0.5 * math.log(2 * math.pi)
        return nll.flatten(1).sum(1)

    def forward_loss(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        x, labels = batch["image"], self.batch_labels(batch)
        mean, logvar = self.encode(x, labels)
        z = mean + torch.randn_like(mean) * (0.5 * logvar).exp()  # reparameterisation
        recon = self.reconstruction_nll(self.decoder(z, labels), x)  # (B,)
        kl = 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar).sum(1)  # (B,) KL(q || N(0, I))
        return {"recon": recon.mean(), "kl": kl.mean(), "elbo": -(recon + kl).mean(), "posterior_mean": mean}

    def kl_weight(self) -> float:
        if self.kl_warmup_steps == 0:
            return self.beta
        return self.beta * min(1.0, (self.global_step + 1) / self.kl_warmup_steps)

    # --- Lightning hooks -----------------------------------------------------------------------

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        out = self.forward_loss(batch)
        weight = self.kl_weight()
        loss = out["recon"] + weight * out["kl"]
        metrics = {"train/loss": loss, "train/recon": out["recon"], "train/kl": out["kl"]}
        if self.kl_warmup_steps:  # constant otherwise; every logged key costs time on each step
            metrics["train/kl_weight"] = weight
        self.log_dict(metrics, on_step=True, on_epoch=True, batch_size=len(batch["image"]))
        return loss

    def _evaluate(self, batch: dict[str, torch.Tensor], stage: str) -> None:
        out = self.forward_loss(batch)
        self.log_dict(
            {f"{stage}/elbo": out["elbo"], f"{stage}/loss": -out["elbo"], f"{stage}/kl": out["kl"], f"{stage}/recon": out["recon"]},
            on_epoch=True, batch_size=len(batch["image"]), prog_bar=stage == "val",
            sync_dist=True,  # under DDP each rank sees a shard of the split: average over all of them
        )

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._evaluate(batch, "val")

    def test_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._evaluate(batch, "test")

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return self.optimizer_factory(self.parameters())
