"""Adversarial training of a generator against a discriminator (DCGAN and its loss variants)."""

from __future__ import annotations

import torch
from torch import nn

from genstyle.errors import require
from genstyle.models.base import GenerativeModule, OptimizerFactory
from genstyle.models.class_conditioning import LabelConditioning
from genstyle.models.components.losses import AdversarialLoss
from genstyle.models.recipe import AdversarialRecipe, Recipe


class GAN(AdversarialRecipe, LabelConditioning, GenerativeModule):
    """Alternating updates with manual optimisation: D on real and *detached* fake images, then
    G through a fresh pass of D. `n_critic` D steps per G step. With `num_classes` both networks
    are class-conditional (model=cgan) and every batch must carry labels. `recipe` holds the shared recipe
    options (`model.recipe`: EMA, DiffAugment, lazy R1, spectral norm; models/recipe.py)."""

    family = "dcgan"
    compiled_networks = ("generator", "discriminator")

    def __init__(
        self,
        generator: nn.Module,
        discriminator: nn.Module,
        g_optimizer: OptimizerFactory,
        d_optimizer: OptimizerFactory,
        image_shape: tuple[int, int, int],
        loss: str = "non_saturating",
        label_smoothing: float = 0.0,
        n_critic: int = 1,
        latent_dim: int = 100,
        num_classes: int | None = None,
        monitor: str | None = None,
        monitor_mode: str = "min",
        recipe: Recipe | None = None,
        compile: bool = False,
    ) -> None:
        super().__init__(image_shape, num_classes, monitor, monitor_mode, compile=compile)
        require(latent_dim > 0, f"model.latent_dim={latent_dim} must be > 0.")
        require(n_critic >= 1, f"model.n_critic={n_critic} must be >= 1.")
        self.automatic_optimization = False
        self.generator, self.discriminator = generator, discriminator
        self.g_optimizer_factory, self.d_optimizer_factory = g_optimizer, d_optimizer
        self.adversarial = AdversarialLoss(loss, label_smoothing)
        self.n_critic = n_critic
        self.latent_dim = latent_dim
        self.init_conditioning()
        self.init_recipe({"generator": generator}, [discriminator], recipe)

    def generate(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.generator(z, labels)

    def discriminate(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.discriminator(x, labels)

    def decode_latent(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Images `(B, C, H, W)` in [-1, 1] for given latent codes `(B, latent_dim)` (sample, views):
        the EMA generator when the run kept one (and `use_ema` is on)."""
        return self.inference_network("generator")(z, labels)

    def d_regulariser(self, real: torch.Tensor, fake: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor | None:
        """Extra D loss term (e.g. a gradient penalty); none for the plain GAN."""
        return None

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        opt_g, opt_d = self.optimizers()
        real = batch["image"]  # (B, C, H, W)
        labels = self.batch_labels(batch)
        z = self.noise(len(real), self.latent_dim)

        # Discriminator: real vs detached fake, so this step never updates G. Every image D sees
        # goes through the same DiffAugment policy (a no-op when off).
        def d_step() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
            fake = self.generate(z, labels).detach()
            r1_due = self.r1_due()
            real_in = self.r1_input(real, r1_due)
            real_logits = self.discriminate(self.augment(real_in), labels)
            fake_logits = self.discriminate(self.augment(fake), labels)
            d_loss = self.adversarial.d_loss(real_logits, fake_logits)
            penalty = self.d_regulariser(real, fake, labels)
            if penalty is not None:
                self.log("train/d_penalty", penalty.detach(), on_step=True, on_epoch=True, batch_size=len(real))
                d_loss = d_loss + penalty
            d_loss = self.add_r1(d_loss, r1_due, len(real), (real_logits, real_in))
            return d_loss, real_logits, fake_logits

        (d_loss, real_logits, fake_logits), grad_norm_d = self.adversarial_step("d", opt_d, d_step, self.discriminator.parameters())
        real_acc, fake_acc = self.adversarial.accuracies(real_logits, fake_logits)  # lsgan's boundary is 0.5, not 0
        metrics = {
            "train/d_loss": d_loss.detach(),
            "train/d_real_acc": real_acc,
            "train/d_fake_acc": fake_acc,
            "stability/grad_norm_d": grad_norm_d,
        }
        if self.adversarial.mode == "wasserstein":
            # The critic's estimate of the Wasserstein-1 distance (penalty excluded): should shrink.
            metrics["train/wasserstein"] = (real_logits.mean() - fake_logits.mean()).detach()

        # Generator: every n_critic-th step, through a fresh pass of the updated D.
        if (batch_idx + 1) % self.n_critic == 0:
            g_loss, metrics["stability/grad_norm_g"] = self.adversarial_step(
                "g", opt_g, lambda: self.adversarial.g_loss(self.discriminate(self.augment(self.generate(z, labels)), labels)),
                self.generator.parameters(),
            )
            metrics["train/g_loss"] = g_loss.detach()
        self.log_dict(metrics, on_step=True, on_epoch=True, batch_size=len(real))
        self.log_progress({"d": d_loss.detach(), "g": metrics.get("train/g_loss", torch.nan)})

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        # How well D separates held-out real images from fresh fakes: cheap, and flags collapse.
        real = batch["image"]
        labels = self.batch_labels(batch)
        fake = self.generate(self.noise(len(real), self.latent_dim), labels)
        real_logits, fake_logits = self.discriminate(real, labels), self.discriminate(fake, labels)
        real_acc, fake_acc = self.adversarial.accuracies(real_logits, fake_logits)
        metrics = {
            "val/d_loss": self.adversarial.d_loss(real_logits, fake_logits),
            "val/g_loss": self.adversarial.g_loss(fake_logits),
            "val/d_real_acc": real_acc,
            "val/d_fake_acc": fake_acc,
        }
        if self.adversarial.mode == "wasserstein":
            metrics["val/wasserstein"] = real_logits.mean() - fake_logits.mean()
        self.log_dict(metrics, on_epoch=True, batch_size=len(real), sync_dist=True)  # DDP: over all ranks' shards

    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        return [
            self.g_optimizer_factory(self.generator.parameters()),
            self.d_optimizer_factory(self.discriminator.parameters()),
        ]


class SNGAN(GAN):
    """model=sngan: the same adversarial training with SNGAN's residual networks
    (components/resnet_gan.py), hinge loss and spectral norm on D (conf/model/sngan.yaml)."""

    family = "sngan"
