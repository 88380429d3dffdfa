"""WGAN-GP: the gradient penalty on a critic with a known gradient, n_critic, and config checks."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from genstyle.cli.train import train
from genstyle.errors import GenstyleError
from tests.models.helpers import NO_EVAL, build_model


class LinearCritic(nn.Module):
    """D(x) = <w, x>: its gradient is w at every point, so the penalty is (||w|| - 1)^2."""

    def __init__(self, norm: float) -> None:
        super().__init__()
        w = torch.ones(1, 1, 4, 4)
        self.w = nn.Parameter(w / w.norm() * norm)

    def forward(self, x: torch.Tensor, labels=None) -> torch.Tensor:
        return (x * self.w).flatten(1).sum(1)


@pytest.mark.parametrize(("norm", "expected"), [(1.0, 0.0), (3.0, 4.0), (0.5, 0.25)])
def test_gradient_penalty_of_a_linear_critic(norm, expected):
    from genstyle.models.wgan_gp import gradient_penalty

    real, fake = torch.randn(8, 1, 4, 4), torch.randn(8, 1, 4, 4)
    penalty = gradient_penalty(LinearCritic(norm), real, fake)
    assert penalty.item() == pytest.approx(expected, abs=1e-5)
    assert penalty.requires_grad  # differentiable: the penalty trains the critic


def test_penalty_weight_and_gradient_flow(make_cfg):
    model = build_model(make_cfg, "wgan_gp")
    assert model.gp_weight == 10.0 and model.n_critic == 5 and model.adversarial.mode == "wasserstein"
    real, fake = torch.rand(4, 1, 28, 28) * 2 - 1, torch.rand(4, 1, 28, 28) * 2 - 1
    penalty = model.d_regulariser(real, fake, None)
    penalty.backward()
    first_conv = model.discriminator.features[0].weight
    assert penalty.item() > 0 and first_conv.grad is not None and first_conv.grad.abs().sum() > 0
    assert all(p.grad is None for p in model.generator.parameters())  # the D step never touches G


def test_optimizer_settings(make_cfg):
    model = build_model(make_cfg, "wgan_gp")
    opt_g, opt_d = model.configure_optimizers()
    for opt in (opt_g, opt_d):
        assert opt.defaults["lr"] == 1e-4 and tuple(opt.defaults["betas"]) == (0.0, 0.9)


def test_generator_waits_for_n_critic_steps(make_cfg):
    metrics = train(make_cfg("model=wgan_gp", *NO_EVAL, "trainer.limit_train_batches=3"))
    # 3 critic steps, n_critic=5: no generator step yet, but the critic and its penalty were logged.
    assert "train/g_loss_epoch" not in metrics and metrics["train/d_penalty_epoch"] > 0
    assert "val/wasserstein" in metrics


def test_bad_wgan_gp_config(make_cfg):
    with pytest.raises(Exception, match="use loss=wasserstein"):
        build_model(make_cfg, "wgan_gp", "model.loss=hinge")
    with pytest.raises(Exception, match="gp_weight=-1"):
        build_model(make_cfg, "wgan_gp", "model.gp_weight=-1")
    with pytest.raises(GenstyleError, match="batch norm"):
        from genstyle.models.wgan_gp import WGANGP

        critic = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4))
        WGANGP(nn.Identity(), critic, torch.optim.Adam, torch.optim.Adam, image_shape=(1, 28, 28))
