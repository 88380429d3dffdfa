"""The shared generator-EMA wrapper and the R1 penalty."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from genstyle.errors import GenstyleError
from genstyle.models.components.ema import ExponentialMovingAverage
from genstyle.models.components.losses import r1_penalty


def test_ema_follows_weights_with_the_requested_decay() -> None:
    net = nn.Linear(3, 2)
    ema = ExponentialMovingAverage(net, decay=0.9)
    ema.update(net)  # first update copies
    assert torch.equal(ema.network.weight, net.weight)
    before = net.weight.detach().clone()
    with torch.no_grad():
        net.weight.add_(1.0)
    ema.update(net)
    expected = 0.9 * before + 0.1 * net.weight.detach()
    torch.testing.assert_close(ema.network.weight, expected)
    assert not torch.equal(ema.network.weight, net.weight)
    # The average and its counter live in the state dict, so checkpoints carry them.
    keys = ema.state_dict().keys()
    assert "averaged.n_averaged" in keys and "averaged.module.weight" in keys
    assert not any(p.requires_grad for p in ema.parameters())


def test_ema_rejects_a_decay_outside_the_unit_interval() -> None:
    with pytest.raises(GenstyleError, match="decay"):
        ExponentialMovingAverage(nn.Linear(1, 1), decay=1.0)


def test_r1_equals_the_squared_input_gradient_of_a_linear_critic() -> None:
    critic = nn.Linear(4, 1, bias=False)
    x = torch.randn(5, 4, requires_grad=True)
    penalty = r1_penalty(critic(x), x)
    # d(w.x)/dx = w for every sample, so the penalty is ||w||^2.
    torch.testing.assert_close(penalty, critic.weight.pow(2).sum())
    penalty.backward()  # differentiable: trains the critic
    assert critic.weight.grad is not None and critic.weight.grad.abs().sum() > 0
