"""Variational autoencoder: Gaussian posterior, reparameterisation, ELBO in nats per image."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from genstyle.errors import require
from genstyle.models.base import GenerativeModule, OptimizerFactory, evaluating
from genstyle.models.class_conditioning import LabelConditioning
from genstyle.models.components.gmm_prior import GaussianMixturePrior
from genstyle.pixels import to_model_range

LIKELIHOODS = ("bernoulli", "gaussian")
PRIORS = ("standard", "gmm")
IWAE_CHUNK_IMAGES = 8192  # decoder inputs per pass when estimating the IWAE bound (bounds memory)


class VAE(LabelConditioning, GenerativeModule):
    """ELBO = E_q[log p(x|z)] - KL(q(z|x) || p(z)), trained on recon + beta * w_t * KL where w_t
    rises linearly from 0 to 1 over `kl_warmup_steps`. Likelihoods are evaluated on pixel
    intensities in [0, 1] and summed over pixels (as pytorch/examples' VAE), so ELBOs compare."""

    family = "vae"
    compiled_networks = ("encoder", "decoder")

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
        prior: str = "standard",
        prior_components: int = 10,
        prior_fit_images: int | None = 10000,
        iwae_samples: int = 0,
        compile: bool = False,
    ) -> None:
        super().__init__(image_shape, num_classes, monitor, monitor_mode, compile=compile)
        require(prior in PRIORS, f"model.prior={prior!r} is not known; choose one of {', '.join(PRIORS)}.")
        require(prior_fit_images is None or prior_fit_images >= prior_components,
                f"model.prior_fit_images={prior_fit_images} must be >= model.prior_components={prior_components} (or null for all).")
        require(isinstance(iwae_samples, int) and iwae_samples >= 0, f"model.iwae_samples={iwae_samples} must be an integer >= 0 (0 = off).")
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
        # The prior `sample` draws from: N(0, I), or a mixture fitted to the training codes after
        # training (the decoder is trained against N(0, I) either way). `self.prior` may be
        # switched to "standard" at inference to compare on the same checkpoint.
        self.prior, self.prior_fit_images, self.iwae_samples = prior, prior_fit_images, iwae_samples
        self.gmm = GaussianMixturePrior(latent_dim, prior_components) if prior == "gmm" else None

    @property
    def has_prior_choice(self) -> bool:
        return True  # `prior`: the standard normal, or the mixture fitted to the training codes

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
        logits = logits.float()  # the likelihood in float32 under mixed precision
        if self.likelihood == "bernoulli":
            nll = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
        else:
            sigma = self.log_sigma.exp()
            nll = 0.5 * ((target - torch.sigmoid(logits)) / sigma) ** 2 + self.log_sigma + 0.5 * math.log(2 * math.pi)
        return nll.flatten(1).sum(1)

    def forward_loss(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        x, labels = batch["image"], self.batch_labels(batch)
        mean, logvar = self.encode(x, labels)
        mean, logvar = mean.float(), logvar.float()  # KL and sampling in float32 under mixed precision
        z = mean + torch.randn_like(mean) * (0.5 * logvar).exp()  # reparameterisation
        recon = self.reconstruction_nll(self.decoder(z, labels), x)  # (B,)
        kl = 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar).sum(1)  # (B,) KL(q || N(0, I))
        return {"recon": recon.mean(), "kl": kl.mean(), "elbo": -(recon + kl).mean(), "posterior_mean": mean}

    def kl_weight(self) -> float:
        if self.kl_warmup_steps == 0:
            return self.beta
        return self.beta * min(1.0, (self.global_step + 1) / self.kl_warmup_steps)

    # --- likelihood and prior ------------------------------------------------------------------

    def log_prior(self, z: torch.Tensor, prior: str = "standard") -> torch.Tensor:
        """log p(z) `(...)` for codes `(..., latent_dim)` under the standard or the fitted prior."""
        if prior == "gmm":
            return self.gmm.log_prob(z)
        return -0.5 * (z.pow(2) + math.log(2 * math.pi)).sum(-1)

    @torch.no_grad()
    def log_importance_weights(
        self, x: torch.Tensor, labels: torch.Tensor | None, k: int, prior: str = "standard",
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """log w_i = log p(x, z_i) - log q(z_i | x) for k posterior samples per image: `(B, k)`.
        Their mean is a Monte Carlo ELBO, their log-mean-exp the IWAE bound (Burda et al. 2016)."""
        mean, logvar = self.encode(x, labels)  # (B, D)
        std = (0.5 * logvar).exp()
        batch = len(x)
        chunk = max(1, IWAE_CHUNK_IMAGES // batch)  # samples per decoder pass
        weights = []
        for start in range(0, k, chunk):
            n = min(chunk, k - start)
            eps = torch.randn(n, *mean.shape, generator=generator).to(mean) if generator is not None else torch.randn(n, *mean.shape, device=mean.device)
            z = mean + eps * std  # (n, B, D)
            flat_labels = None if labels is None else labels.repeat(n)
            logits = self.decoder(z.flatten(0, 1), flat_labels)  # (n * B, C, H, W)
            log_px = -self.reconstruction_nll(logits, x.repeat(n, 1, 1, 1)).view(n, batch)
            log_q = (-0.5 * (eps.pow(2) + math.log(2 * math.pi)) - 0.5 * logvar).sum(-1)  # (n, B)
            weights.append(log_px + self.log_prior(z, prior) - log_q)
        return torch.cat(weights).T  # (B, k)

    def nll_iwae(self, x: torch.Tensor, labels: torch.Tensor | None, k: int, prior: str = "standard",
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """-log p(x) estimated with k importance samples, nats per image `(B,)` (an upper bound
        on the true NLL that tightens with k; k=1 is the single-sample negative ELBO)."""
        log_w = self.log_importance_weights(x, labels, k, prior, generator)
        return -(torch.logsumexp(log_w, dim=1) - math.log(k))

    def bits_per_dim(self, nats: torch.Tensor) -> torch.Tensor:
        return nats / (math.prod(self.image_shape) * math.log(2))

    @torch.no_grad()
    def fit_prior(self, codes: torch.Tensor) -> None:
        """Fit the mixture prior to posterior means `(N, latent_dim)`; no-op for prior=standard."""
        if self.gmm is not None:
            self.gmm.fit(codes)

    def training_codes(self, batch_size: int = 1000) -> torch.Tensor:
        """Posterior means `(N, latent_dim)` of the first `prior_fit_images` training images, in
        eval mode and in order: no random draws, so fitting never disturbs training or resume."""
        data = self.trainer.datamodule.train_set
        n = len(data) if self.prior_fit_images is None else min(len(data), self.prior_fit_images)
        codes = []
        with evaluating(self):
            for start in range(0, n, batch_size):
                x = to_model_range(data.images[start : start + batch_size]).to(self.device)
                labels = None if not self.is_conditional else data.labels[start : start + batch_size].to(self.device)
                codes.append(self.encode(x, labels)[0].float().cpu())
        return torch.cat(codes)

    def refit_prior(self) -> None:
        if self.gmm is not None and getattr(self.trainer, "datamodule", None) is not None:
            self.fit_prior(self.training_codes())

    # --- Lightning hooks -----------------------------------------------------------------------

    def on_validation_epoch_start(self) -> None:
        # Before the evaluation callback samples at the end of this validation: the prior then
        # matches the weights being evaluated (and saved in this epoch's checkpoints).
        if not self.trainer.sanity_checking:
            self.refit_prior()

    def on_train_end(self) -> None:
        if self.gmm is not None and not bool(self.gmm.fitted):  # runs without validation
            self.refit_prior()


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
        if self.iwae_samples:
            x, labels = batch["image"], self.batch_labels(batch)
            metrics = {"test/elbo_bpd": self.bits_per_dim(-self.forward_loss(batch)["elbo"])}
            priors = ("standard", "gmm") if self.gmm is not None and bool(self.gmm.fitted) else ("standard",)
            for prior in priors:
                suffix = "" if prior == "standard" else "_gmm"
                nll = self.nll_iwae(x, labels, self.iwae_samples, prior).mean()
                metrics[f"test/nll_iwae{suffix}"] = nll
                metrics[f"test/nll_iwae{suffix}_bpd"] = self.bits_per_dim(nll)
            self.log_dict(metrics, on_epoch=True, batch_size=len(x), sync_dist=True)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return self.optimizer_factory(self.parameters())

    # --- the GenerativeModule interface --------------------------------------------------------

    def draw(self, n: int, labels: torch.Tensor | None, generator: torch.Generator | None) -> torch.Tensor:
        """`sample`'s body: z from the fitted mixture with `prior=gmm`, from N(0, I) otherwise."""
        if self.prior != "gmm":
            return super().draw(n, labels, generator)
        require(self.gmm is not None, "prior='gmm' was asked for but this model was trained with model.prior=standard (no mixture to sample from).")
        labels = self.check_labels(labels, n)
        z = self.gmm.sample(n, generator)
        if labels is None and self.is_conditional:
            labels = self.sample_labels(n, generator)  # the training label distribution
        return self.decode_latent(z, labels)
