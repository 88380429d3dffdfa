"""The VAE's fitted mixture prior and its importance-weighted likelihood estimate."""

from __future__ import annotations

import math

import hydra
import pytest
import torch

from genstyle.cli.inference_options import apply_inference_options
from genstyle.data.sources import load_fashion_mnist
from genstyle.errors import GenstyleError
from genstyle.models.components.gmm_prior import GaussianMixturePrior
from genstyle.pixels import to_model_range
from tests.models.helpers import NO_EVAL


def test_mixture_fits_separated_clusters_and_samples_the_right_shape() -> None:
    g = torch.Generator().manual_seed(0)
    centres = torch.tensor([[4.0, 0.0, 0.0], [-4.0, 0.0, 0.0], [0.0, 5.0, 0.0]])
    codes = torch.cat([c + 0.3 * torch.randn(300, 3, generator=g) for c in centres])
    prior = GaussianMixturePrior(latent_dim=3, components=3)
    with pytest.raises(GenstyleError, match="not been fitted"):
        prior.sample(4)
    prior.fit(codes)
    found = prior.means[torch.cdist(centres, prior.means).argmin(dim=1)]
    torch.testing.assert_close(found, centres, atol=0.1, rtol=0)
    samples = prior.sample(500, generator=torch.Generator().manual_seed(1))
    assert samples.shape == (500, 3)
    assert torch.equal(samples, prior.sample(500, generator=torch.Generator().manual_seed(1)))  # repeatable
    # Every sample lies near one of the clusters, not in between.
    assert torch.cdist(samples, centres).min(dim=1).values.max() < 2.0
    # log_prob agrees with torch.distributions' mixture.
    mixture = torch.distributions.MixtureSameFamily(
        torch.distributions.Categorical(prior.weights), torch.distributions.MultivariateNormal(prior.means, scale_tril=prior.scale_tril)
    )
    torch.testing.assert_close(prior.log_prob(samples[:20]), mixture.log_prob(samples[:20]), rtol=1e-4, atol=1e-4)
    assert set(prior.state_dict()) == {"weights", "means", "scale_tril", "fitted"}  # in the checkpoint


@pytest.fixture(scope="module")
def real_images(fmnist_root):
    data = load_fashion_mnist("train", str(fmnist_root), download=False)
    return to_model_range(data.images[:1024]), data.labels[:1024]


def build_vae(make_cfg, name: str = "vae", *overrides: str):
    cfg = make_cfg(f"model={name}", *NO_EVAL, *overrides)
    torch.manual_seed(0)
    return hydra.utils.instantiate(cfg.model)


def train_briefly(model, images: torch.Tensor, labels: torch.Tensor, steps: int = 60):
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    g = torch.Generator().manual_seed(0)
    for _ in range(steps):
        idx = torch.randint(len(images), (64,), generator=g)
        out = model.forward_loss({"image": images[idx], "label": labels[idx]})
        optimizer.zero_grad()
        (out["recon"] + out["kl"]).backward()
        optimizer.step()
    return model.eval()


def test_iwae_equals_the_single_sample_elbo_for_k1_and_bounds_the_elbo(make_cfg, real_images, one_thread) -> None:
    images, labels = real_images
    model = train_briefly(build_vae(make_cfg), images, labels)
    x = images[:64]
    with torch.no_grad():
        # k=1 with the same sample: the IWAE estimate is the single-sample negative ELBO.
        mean, logvar = model.encode(x)
        eps = torch.randn(1, *mean.shape, generator=torch.Generator().manual_seed(3))
        z = mean + eps[0] * (0.5 * logvar).exp()
        recon = model.reconstruction_nll(model.decoder(z), x)
        log_q = torch.distributions.Normal(mean, (0.5 * logvar).exp()).log_prob(z).sum(1)
        log_p = torch.distributions.Normal(0.0, 1.0).log_prob(z).sum(1)
        single_sample_nelbo = recon + log_q - log_p
        nll_k1 = model.nll_iwae(x, None, k=1, generator=torch.Generator().manual_seed(3))
        torch.testing.assert_close(nll_k1, single_sample_nelbo, rtol=1e-5, atol=1e-3)
        # With k samples it is a tighter bound: below the negative (analytic) ELBO, by a margin.
        nelbo = -model.forward_loss({"image": x})["elbo"]
        nll_k = model.nll_iwae(x, None, k=64, generator=torch.Generator().manual_seed(4)).mean()
        assert nll_k < nelbo - 0.5
        # and in nats per image of a plausible size; bits per dim divide by 784 ln 2.
        assert 100 < float(nll_k) < 600
        assert float(model.bits_per_dim(nll_k)) == pytest.approx(float(nll_k) / (784 * math.log(2)))


def test_gmm_prior_is_fitted_sampled_and_switchable(make_cfg, real_images, one_thread) -> None:
    images, labels = real_images
    model = train_briefly(build_vae(make_cfg, "vae", "model.prior=gmm", "model.prior_components=5"), images, labels)
    with torch.no_grad():
        model.fit_prior(model.encode(images)[0])
    assert bool(model.gmm.fitted) and "gmm.means" in model.state_dict()
    g = lambda: torch.Generator().manual_seed(2)  # noqa: E731
    samples = model.sample(16, generator=g())
    assert samples.shape == (16, 1, 28, 28) and samples.min() >= -1 and samples.max() <= 1
    torch.testing.assert_close(samples, model.decode_mean(model.gmm.sample(16, generator=g())))
    # evaluate.py / generate.py prior=standard: N(0, I) on the same checkpoint.
    assert apply_inference_options(model, prior="standard") == {"prior": "standard"}
    torch.testing.assert_close(model.sample(16, generator=g()), model.decode_mean(model.noise(16, model.latent_dim, g())))
    # The likelihood under the fitted prior is finite and reported separately.
    nll_gmm = model.nll_iwae(images[:16], None, k=8, prior="gmm").mean()
    assert torch.isfinite(nll_gmm)
    with pytest.raises(GenstyleError, match="model.prior=standard"):
        apply_inference_options(build_vae(make_cfg, "vae", "model.prior=standard"), prior="gmm")


def test_vae_samples_from_the_fitted_mixture_by_default(make_cfg) -> None:
    """model=vae ships prior=gmm (it won on the same checkpoint, docs/quality.md); the cVAE,
    not measured, keeps N(0, I)."""
    vae, cvae = build_vae(make_cfg), build_vae(make_cfg, "cvae")
    assert vae.prior == "gmm" and vae.gmm is not None and vae.gmm.components == 10
    assert cvae.prior == "standard" and cvae.gmm is None


def test_training_fits_the_prior_and_reports_iwae_at_test(make_cfg, tmp_path, one_thread) -> None:
    """Through the real pipeline: the mixture is fitted at validation, stored in the checkpoint,
    and the test step logs test/nll_iwae (standard and gmm) in nats and bits per dim."""
    import json

    from genstyle.checkpoints import load_model
    from genstyle.cli.train import train

    cfg = make_cfg("model=cvae", *NO_EVAL, "model.prior=gmm", "model.prior_components=3", "model.prior_fit_images=200", "model.iwae_samples=4")
    train(cfg)
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    for key in ("test/nll_iwae", "test/nll_iwae_bpd", "test/nll_iwae_gmm", "test/elbo_bpd"):
        assert math.isfinite(metrics[key]), key
    assert metrics["test/nll_iwae"] < -metrics["test/elbo"] + 1.0  # k=4: at most a little above the negative ELBO
    model, _ = load_model(tmp_path / "run" / "checkpoints" / "last.ckpt", "cpu")
    assert bool(model.gmm.fitted)
    assert model.sample(4, generator=torch.Generator().manual_seed(0)).shape == (4, 1, 28, 28)
