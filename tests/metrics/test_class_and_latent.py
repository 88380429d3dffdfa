"""Class coverage metrics and VAE latent diagnostics on inputs whose answer is known."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from genstyle.errors import GenstyleError
from genstyle.metrics.backends import CLASSIFIER, INCEPTION, build_backend, choose_backend
from genstyle.metrics.classes import class_histogram, class_kl, modes_covered
from genstyle.metrics.latent import collapse_warning, vae_latent_metrics


def test_class_kl_and_modes():
    uniform = torch.full((10,), 100)
    assert class_kl(uniform, uniform) == 0.0
    collapsed = torch.tensor([500, 500, 0, 0, 0, 0, 0, 0, 0, 0])
    assert class_kl(collapsed, uniform) == pytest.approx(math.log(5))  # KL(p || uniform) = log 10 - H(p)
    assert modes_covered(collapsed, 0.01) == 2 and modes_covered(uniform, 0.01) == 10
    assert class_histogram(torch.eye(3)[[0, 0, 2]]).tolist() == [2, 0, 1]


class ToyVAE(nn.Module):
    """forward_loss as the VAE's: posterior means are the first pixels, dims >= `live` are constant."""

    def __init__(self, live: int, dim: int = 8) -> None:
        super().__init__()
        self.live, self.dim, self.device = live, dim, torch.device("cpu")

    def forward_loss(self, batch):
        x = batch["image"].flatten(1)[:, : self.dim].clone()
        x[:, self.live :] = 0.0
        return {"posterior_mean": x, "kl": x.pow(2).sum(1).mean() / 2}


def test_active_units_count_dimensions_that_vary_with_the_input():
    images = torch.randint(0, 256, (200, 1, 28, 28), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    healthy = vae_latent_metrics(ToyVAE(live=5), images)
    assert healthy["active_units"] == 5 and healthy["latent_dim"] == 8 and healthy["kl"] > 0
    assert collapse_warning(healthy, 0.1) is None
    collapsed = vae_latent_metrics(ToyVAE(live=0), images)
    assert collapsed["active_units"] == 0 and "Posterior collapse" in collapse_warning(collapsed, 0.1)


def test_extractor_choice_and_missing_inception_weights_fail_early(tmp_path):
    assert choose_backend("auto", 1, 28, None).name == CLASSIFIER
    assert choose_backend("auto", 3, 32, None).name == INCEPTION
    assert choose_backend("auto", 1, 28, "/x.pth").name == INCEPTION
    with pytest.raises(GenstyleError, match="28x28 grayscale"):
        choose_backend(CLASSIFIER, 3, 32, None)
    with pytest.raises(GenstyleError, match="metrics.inception_weights=.*does not exist.*weights-inception"):
        build_backend("auto", 3, 32, str(tmp_path / "missing.pth"))
    (tmp_path / "bad.pth").write_bytes(b"junk")
    with pytest.raises(GenstyleError, match="not a plain PyTorch state dict"):
        build_backend("auto", 3, 32, str(tmp_path / "bad.pth"))
