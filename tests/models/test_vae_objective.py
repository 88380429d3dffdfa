"""The VAE objective against independent formulas: torch's binary cross-entropy and
`torch.distributions.kl_divergence` on fixed networks, exact values where they are known
(zero logits: 784 ln 2 nats of reconstruction per 28x28 image), and the options that change the
objective (beta, kl_warmup_steps, likelihood=gaussian)."""

from __future__ import annotations

import functools
import math
from unittest import mock

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Normal, kl_divergence

from genstyle.models.vae import VAE

PIXELS = 28 * 28


class FixedEncoder(nn.Module):
    """Returns the same posterior `(mean, logvar)` for every batch of images."""

    def __init__(self, mean: torch.Tensor, logvar: torch.Tensor) -> None:
        super().__init__()
        self.mean, self.logvar = nn.Parameter(mean), nn.Parameter(logvar)

    def forward(self, x: torch.Tensor, labels=None) -> tuple[torch.Tensor, torch.Tensor]:
        return self.mean.expand(len(x), -1), self.logvar.expand(len(x), -1)


class LinearDecoder(nn.Module):
    """Logits `(B, 1, 28, 28)` = z @ W + b; with W = b = 0 every logit is 0."""

    def __init__(self, latent_dim: int, zero: bool = False) -> None:
        super().__init__()
        self.linear = nn.Linear(latent_dim, PIXELS)
        if zero:
            nn.init.zeros_(self.linear.weight)
            nn.init.zeros_(self.linear.bias)

    def forward(self, z: torch.Tensor, labels=None) -> torch.Tensor:
        return self.linear(z).view(-1, 1, 28, 28)


def make_vae(latent_dim: int = 3, zero_decoder: bool = False, **kwargs) -> tuple[VAE, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    mean, logvar = torch.randn(1, latent_dim), torch.randn(1, latent_dim) * 0.5
    vae = VAE(FixedEncoder(mean, logvar), LinearDecoder(latent_dim, zero_decoder),
              functools.partial(torch.optim.Adam, lr=1e-3), (1, 28, 28), latent_dim=latent_dim, **kwargs)  # fmt: skip
    return vae, mean, logvar


def images(n: int = 5) -> torch.Tensor:
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(1)) * 2 - 1


def expected_kl(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    posterior = Normal(mean, (0.5 * logvar).exp())
    return kl_divergence(posterior, Normal(torch.zeros_like(mean), torch.ones_like(mean))).sum(1)


def test_zero_logits_cost_exactly_784_ln2_nats_per_image_and_kl_matches_torch_distributions():
    vae, mean, logvar = make_vae(zero_decoder=True)
    x = images()
    out = vae.forward_loss({"image": x})
    # Bernoulli with p = 1/2 on every pixel, whatever the intensities: ln 2 nats per pixel, summed.
    assert out["recon"].item() == pytest.approx(PIXELS * math.log(2), rel=1e-6)
    assert out["kl"].item() == pytest.approx(expected_kl(mean, logvar).item(), rel=1e-5)
    assert out["elbo"].item() == pytest.approx(-(PIXELS * math.log(2) + expected_kl(mean, logvar).item()), rel=1e-6)


def test_reconstruction_equals_torch_bce_of_the_reparameterised_code():
    vae, mean, logvar = make_vae()
    x = images()
    torch.manual_seed(7)
    out = vae.forward_loss({"image": x})
    torch.manual_seed(7)  # the same noise the model drew
    z = mean + torch.randn(len(x), mean.shape[1]) * (0.5 * logvar).exp()
    logits = vae.decoder(z)
    recon = F.binary_cross_entropy_with_logits(logits, (x + 1) / 2, reduction="sum") / len(x)  # nats per image
    assert out["recon"].item() == pytest.approx(recon.item(), rel=1e-6)
    assert out["recon"].item() > 100  # summed over pixels, not a per-pixel mean (about 0.7)


@pytest.mark.parametrize(
    ("beta", "warmup", "step", "weight"),
    [(1.0, 0, 0, 1.0), (4.0, 0, 0, 4.0), (2.0, 10, 0, 2.0 / 10), (2.0, 10, 4, 2.0 * 5 / 10), (2.0, 10, 9, 2.0), (2.0, 10, 50, 2.0)],
)
def test_training_loss_weights_kl_by_beta_and_the_warm_up(beta, warmup, step, weight):
    vae, mean, logvar = make_vae(zero_decoder=True, beta=beta, kl_warmup_steps=warmup)
    logged = {}
    vae.log_dict = lambda metrics, **_: logged.update(metrics)
    with mock.patch.object(VAE, "global_step", new_callable=mock.PropertyMock, return_value=step):
        loss = vae.training_step({"image": images()}, 0)
    kl = expected_kl(mean, logvar).item()
    assert loss.item() == pytest.approx(PIXELS * math.log(2) + weight * kl, rel=1e-6)
    assert ("train/kl_weight" in logged) == bool(warmup)
    if warmup:
        assert logged["train/kl_weight"] == pytest.approx(weight)


def test_gaussian_likelihood_is_the_normal_log_density_summed_over_pixels():
    vae, mean, logvar = make_vae(likelihood="gaussian")
    with torch.no_grad():
        vae.log_sigma.fill_(math.log(0.3))
    x = images()
    logits = torch.randn(len(x), 1, 28, 28, generator=torch.Generator().manual_seed(2))
    nll = vae.reconstruction_nll(logits, x)
    expected = -Normal(torch.sigmoid(logits), 0.3).log_prob((x + 1) / 2).flatten(1).sum(1)
    assert torch.allclose(nll, expected, rtol=1e-5)
    assert "log_sigma" in dict(vae.named_parameters())  # the noise scale is learned


def test_options_train_end_to_end(make_cfg, one_thread):
    """beta, kl_warmup_steps and the Gaussian likelihood through a real (3-step) training run."""
    from genstyle.checkpoints import load_model
    from genstyle.cli.train import train

    cfg = make_cfg("model=vae", "model.likelihood=gaussian", "model.beta=0.5", "model.kl_warmup_steps=100",
                   "callbacks.evaluation=null", "test=false")  # fmt: skip
    metrics = train(cfg)
    # Steps 0, 1, 2 of the warm-up: weights 0.5 * (1, 2, 3) / 100, averaged over the epoch.
    assert metrics["train/kl_weight_epoch"] == pytest.approx(0.5 * 2 / 100, rel=1e-6)
    assert metrics["train/kl_weight_step"] == pytest.approx(0.5 * 3 / 100, rel=1e-6)
    model, _ = load_model(f"{cfg.paths.output_dir}/checkpoints/last.ckpt")
    assert model.likelihood == "gaussian" and model.beta == 0.5
    assert model.log_sigma.item() != -2.0  # the noise scale trained
    assert metrics["val/elbo"] == pytest.approx(-(metrics["val/recon"] + metrics["val/kl"]), rel=1e-5)
