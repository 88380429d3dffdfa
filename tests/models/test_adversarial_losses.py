"""Every adversarial loss mode on logits whose losses are known by hand."""

from __future__ import annotations

import math

import pytest
import torch

from genstyle.models.components.losses import GAN_LOSS_MODES, AdversarialLoss
from tests.models.helpers import build_model

REAL = torch.tensor([2.0, -1.0, 0.5])
FAKE = torch.tensor([-3.0, 1.0, 0.0])


def softplus(x: float) -> float:
    return math.log1p(math.exp(x))


def test_every_mode_has_a_case_here():
    assert set(GAN_LOSS_MODES) == {"non_saturating", "lsgan", "hinge", "wasserstein"}


def test_non_saturating_at_zero_logits_is_2_ln_2_for_d_and_ln_2_for_g():
    loss = AdversarialLoss("non_saturating")
    zeros = torch.zeros(4)
    assert loss.d_loss(zeros, zeros).item() == pytest.approx(2 * math.log(2), rel=1e-7)
    assert loss.g_loss(zeros).item() == pytest.approx(math.log(2), rel=1e-7)


def test_non_saturating_by_hand():
    loss = AdversarialLoss("non_saturating")
    # -log sigmoid(r) = softplus(-r); -log(1 - sigmoid(f)) = softplus(f)
    d = sum(softplus(-r) for r in REAL.tolist()) / 3 + sum(softplus(f) for f in FAKE.tolist()) / 3
    g = sum(softplus(-f) for f in FAKE.tolist()) / 3  # -log D(G(z)), the non-saturating form
    assert loss.d_loss(REAL, FAKE).item() == pytest.approx(d, rel=1e-6)
    assert loss.g_loss(FAKE).item() == pytest.approx(g, rel=1e-6)


def test_one_sided_smoothing_moves_only_the_real_target():
    plain, smooth = AdversarialLoss("non_saturating"), AdversarialLoss("non_saturating", label_smoothing=0.1)
    zeros = torch.zeros(3)
    # Real target 0.9: BCE(r, 0.9) = 0.9 softplus(-r) + 0.1 softplus(r).
    real_part = sum(0.9 * softplus(-r) + 0.1 * softplus(r) for r in REAL.tolist()) / 3
    assert smooth.d_loss(REAL, zeros).item() == pytest.approx(real_part + math.log(2), rel=1e-6)
    # The fake target stays 0: with real logits fixed, the fake term is the same in both.
    for fake in (FAKE, torch.full((3,), 4.0)):
        fake_part = sum(softplus(f) for f in fake.tolist()) / 3
        assert smooth.d_loss(zeros, fake).item() == pytest.approx(0.9 * math.log(2) + 0.1 * math.log(2) + fake_part, rel=1e-6)
        assert (smooth.d_loss(REAL, fake) - plain.d_loss(REAL, fake)).item() == pytest.approx(
            (smooth.d_loss(REAL, zeros) - plain.d_loss(REAL, zeros)).item(), abs=1e-6)
    assert smooth.g_loss(FAKE).item() == plain.g_loss(FAKE).item()  # G's target is never smoothed
    # The smoothed optimum of a real logit is log(0.9 / 0.1), no longer +infinity.
    best = torch.tensor([math.log(9.0)], requires_grad=True)
    smooth.d_loss(best, torch.zeros(1)).backward()
    assert best.grad.abs().item() < 1e-6


def test_lsgan_by_hand():
    loss = AdversarialLoss("lsgan")
    d = 0.5 * (sum((r - 1) ** 2 for r in REAL.tolist()) / 3 + sum(f**2 for f in FAKE.tolist()) / 3)
    assert loss.d_loss(REAL, FAKE).item() == pytest.approx(d, rel=1e-6)
    assert loss.g_loss(FAKE).item() == pytest.approx(0.5 * sum((f - 1) ** 2 for f in FAKE.tolist()) / 3, rel=1e-6)
    assert loss.d_loss(torch.ones(2), torch.zeros(2)).item() == 0.0  # D at its targets
    smooth = AdversarialLoss("lsgan", label_smoothing=0.2)
    assert smooth.d_loss(torch.full((2,), 0.8), torch.zeros(2)).item() == pytest.approx(0.0, abs=1e-12)


def test_hinge_by_hand():
    loss = AdversarialLoss("hinge")
    # relu(1 - r): 0, 2, 0.5; relu(1 + f): 0, 2, 1
    assert loss.d_loss(REAL, FAKE).item() == pytest.approx((0 + 2 + 0.5) / 3 + (0 + 2 + 1) / 3, rel=1e-6)
    assert loss.g_loss(FAKE).item() == pytest.approx(-(-3 + 1 + 0) / 3, rel=1e-6)


def test_wasserstein_by_hand():
    loss = AdversarialLoss("wasserstein")
    assert loss.d_loss(REAL, FAKE).item() == pytest.approx((-3 + 1 + 0) / 3 - (2 - 1 + 0.5) / 3, rel=1e-6)
    assert loss.g_loss(FAKE).item() == pytest.approx(2 / 3, rel=1e-6)


def test_discriminator_accuracies_use_each_loss_s_decision_boundary():
    real, fake = torch.tensor([0.7, 0.3, -0.2]), torch.tensor([0.4, -0.1, 0.8])
    # least squares: targets 1 (real) and 0 (fake), boundary 0.5
    assert [float(a) for a in AdversarialLoss("lsgan").accuracies(real, fake)] == pytest.approx([1 / 3, 2 / 3])
    # the others: boundary 0
    assert [float(a) for a in AdversarialLoss("hinge").accuracies(real, fake)] == pytest.approx([2 / 3, 1 / 3])


def test_gan_logs_d_accuracy_on_its_loss_modes_boundary(make_cfg):
    # lsgan's targets are 0 (fake) and 1 (real): a logit of 0.3 is on the fake side, though above 0.
    model = build_model(make_cfg, "dcgan", "model.loss=lsgan")
    logged: dict = {}
    model.log_dict = lambda metrics, **kwargs: logged.update(metrics)
    model.discriminate = lambda x, labels: torch.full((len(x),), 0.3)
    model.validation_step({"image": torch.zeros(4, 1, 28, 28)}, 0)
    assert (float(logged["val/d_real_acc"]), float(logged["val/d_fake_acc"])) == (0.0, 1.0)
