"""The adversarial recipe options: DiffAugment, generator EMA, lazy R1 and spectral norm."""

from __future__ import annotations

import hydra
import pytest
import pytorch_lightning as pl
import torch
from torch import nn

from genstyle.cli.inference_options import apply_inference_options
from genstyle.errors import GenstyleError
from genstyle.models.components.augment import DiffAugment, parse_policy
from genstyle.models.components.dcgan import DCGANDiscriminator
from genstyle.models.components.spectral_norm import apply_spectral_norm, is_spectral_normalised
from tests.models.helpers import NO_EVAL


def images(n: int = 16, seed: int = 0) -> torch.Tensor:
    """Images in [-1, 1] with structure (a bright blob on a dark background), made in the test."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    centre = torch.rand(n, 2, 1, generator=g) * 14 + 7  # (n, 2, 1)
    blob = ((yy - centre[:, :1]) ** 2 + (xx - centre[:, 1:]) ** 2 < 30).float()
    return (blob * 1.8 - 0.9 + 0.1 * torch.rand(n, 28, 28, generator=g)).unsqueeze(1).clamp(-1, 1)


# --- DiffAugment ---------------------------------------------------------------------------------


def test_policy_accepts_lists_and_comma_strings_and_rejects_unknown_ops() -> None:
    assert parse_policy("cutout,translation") == ("translation", "cutout")  # DiffAugment's order
    assert parse_policy(["colour", "cutout"]) == ("color", "cutout")
    assert parse_policy(None) == parse_policy("") == ()
    with pytest.raises(GenstyleError, match="'rotate' is not a DiffAugment op"):
        parse_policy("translation,rotate")


@pytest.mark.parametrize("policy", ["translation", "cutout", "color", "color,translation,cutout"])
def test_augmentation_keeps_shapes_and_ranges_changes_images_and_is_differentiable(policy: str) -> None:
    x = images().requires_grad_(True)
    out = DiffAugment(policy)(x, generator=torch.Generator().manual_seed(1))
    assert out.shape == x.shape and out.dtype == x.dtype
    assert not torch.equal(out, x)
    if "color" not in policy:  # shifts and zero masks never leave the input's range
        assert out.min() >= -1 and out.max() <= 1
    else:  # brightness +-0.5 then contrast x1.5 at most around the image mean
        assert out.abs().max() <= 1.5 + 3 * 1.5
    out.square().sum().backward()  # the generator learns through the ops
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_the_same_draws_apply_the_same_op_to_real_and_fake() -> None:
    """Translation and cutout are linear in the image for fixed draws: with the same draws,
    augment(real + fake) = augment(real) + augment(fake), i.e. one op for both."""
    real, fake = images(seed=1), images(seed=2)
    augment = DiffAugment("translation,cutout")
    draws = lambda: torch.Generator().manual_seed(7)  # noqa: E731
    torch.testing.assert_close(augment(real + fake, draws()), augment(real, draws()) + augment(fake, draws()))
    # Independent draws per image: the images of one batch are not all shifted alike.
    same = images(1).expand(16, -1, -1, -1)
    out = augment(same, draws())
    assert any(not torch.equal(out[0], out[i]) for i in range(1, 16))


def test_no_policy_is_the_identity_without_random_draws() -> None:
    x = images()
    state = torch.get_rng_state()
    assert DiffAugment(None)(x) is x
    assert torch.equal(torch.get_rng_state(), state)


# --- spectral norm -------------------------------------------------------------------------------


def test_spectral_norm_wraps_every_conv_and_linear_and_bounds_their_norm() -> None:
    torch.manual_seed(0)
    disc = DCGANDiscriminator(dropout=0.0)
    plain = {k: v.clone() for k, v in disc.state_dict().items()}
    apply_spectral_norm(disc)
    layers = [m for m in disc.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert layers and all(is_spectral_normalised(m) for m in layers)
    disc.train()
    for _ in range(20):  # power iterations converge during training forwards
        disc(images())
    disc.eval()
    head = disc.head.weight.detach()  # the normalised weight
    assert float(torch.linalg.matrix_norm(head, ord=2)) == pytest.approx(1.0, rel=1e-3)
    # D's gradients differ from the same network without spectral norm.
    raw = DCGANDiscriminator(dropout=0.0)
    raw.load_state_dict(plain)
    x = images()
    grad_sn = torch.autograd.grad(disc(x).sum(), disc.features[0].parametrizations.weight.original)[0]
    grad_raw = torch.autograd.grad(raw(x).sum(), raw.features[0].weight)[0]
    assert not torch.allclose(grad_sn, grad_raw)


# --- the options inside the families -------------------------------------------------------------


class Batches(torch.utils.data.Dataset):
    """Batches as dicts, the project's batch contract."""

    def __init__(self, n_batches: int, batch_size: int = 16, labels: bool = False) -> None:
        self.batches = []
        for i in range(n_batches):
            batch = {"image": images(batch_size, seed=100 + i)}
            if labels:
                batch["label"] = torch.arange(batch_size) % 10
            self.batches.append(batch)

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, i: int) -> dict:
        return self.batches[i]


def fit(model: pl.LightningModule, steps: int, seed: int = 0) -> pl.LightningModule:
    torch.manual_seed(seed)
    loader = torch.utils.data.DataLoader(Batches(steps), batch_size=None)
    trainer = pl.Trainer(
        max_epochs=1, accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, num_sanity_val_steps=0, limit_val_batches=0,
    )
    trainer.fit(model, train_dataloaders=loader)
    return model


def build(make_cfg, name: str = "dcgan", *overrides: str, seed: int = 0):
    cfg = make_cfg(f"model={name}", *NO_EVAL, *overrides)
    torch.manual_seed(seed)
    return hydra.utils.instantiate(cfg.model)


def test_ema_differs_from_the_trained_generator_and_is_what_sample_uses(make_cfg, one_thread) -> None:
    model = fit(build(make_cfg, "dcgan", "model.recipe.ema.decay=0.5"), steps=4)
    raw, ema = model.generator.state_dict(), model.ema["generator"].network.state_dict()
    assert any(not torch.equal(raw[k], ema[k]) for k in raw)
    assert int(model.ema["generator"].averaged.n_averaged) == 4
    # sample() (grids, evaluation, generate.py) uses the EMA; use_ema=false the trained weights.
    with_ema = model.sample(8, generator=torch.Generator().manual_seed(3))
    model.eval()
    z = model.noise(8, model.latent_dim, torch.Generator().manual_seed(3))
    torch.testing.assert_close(with_ema, model.ema["generator"].network(z))
    assert apply_inference_options(model, use_ema=False) == {"use_ema": False}
    without = model.sample(8, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(without, model.generator(z))
    assert not torch.allclose(with_ema, without)
    # A run without EMA: use_ema=true is an error, not a silent fallback.
    with pytest.raises(GenstyleError, match="kept no generator EMA"):
        apply_inference_options(build(make_cfg, "dcgan"), use_ema=True)


def test_ema_start_step_restarts_the_average_from_the_weights(make_cfg, one_thread) -> None:
    model = fit(build(make_cfg, "dcgan", "model.recipe.ema.decay=0.99", "model.recipe.ema.start_step=3"), steps=3)
    # Until start_step the average is the latest weights (batch-norm statistics included).
    raw, ema = model.generator.state_dict(), model.ema["generator"].network.state_dict()
    assert all(torch.equal(raw[k], ema[k]) for k in raw if not k.endswith("num_batches_tracked"))
    assert int(model.ema_updates) == 3


def test_ema_state_saves_and_restores_exactly(make_cfg, one_thread) -> None:
    model = fit(build(make_cfg, "dcgan", "model.recipe.ema.decay=0.9", "model.recipe.augment=[translation,cutout]"), steps=3)
    state = model.state_dict()
    assert "ema.generator.averaged.n_averaged" in state and "ema_updates" in state
    restored = build(make_cfg, "dcgan", "model.recipe.ema.decay=0.9", "model.recipe.augment=[translation,cutout]", seed=99)
    restored.load_state_dict(state)
    assert all(torch.equal(state[k], v) for k, v in restored.state_dict().items())
    g = lambda: torch.Generator().manual_seed(5)  # noqa: E731
    assert torch.equal(model.sample(6, generator=g()), restored.sample(6, generator=g()))


@pytest.mark.parametrize(
    ("name", "overrides"),
    [
        ("dcgan", []),
        ("wgan_gp", ["model.n_critic=1"]),
        ("cgan", []),
        ("munit", []),
    ],
)
def test_discriminator_sees_augmented_real_and_fake_in_every_family(make_cfg, one_thread, name, overrides) -> None:
    model = build(make_cfg, name, "model.recipe.augment=[translation,cutout]", "model.recipe.ema.decay=0.9", *overrides)
    seen: list[tuple[int, bool]] = []
    augment = model.augment

    class Spy(nn.Module):
        def __bool__(self) -> bool:
            return True

        def forward(self, x, generator=None):
            seen.append((len(x), x.requires_grad))
            return augment(x, generator)

    model.augment = Spy()
    if model.is_conditional:
        model.label_prior.fill_(0.1)
    torch.manual_seed(0)
    loader = torch.utils.data.DataLoader(Batches(1, labels=model.is_conditional), batch_size=None)
    trainer = pl.Trainer(max_steps=-1, max_epochs=1, accelerator="cpu", logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0)
    if model.is_conditional:  # the label distribution comes from a datamodule; none here
        model.on_fit_start = lambda: None
    trainer.fit(model, train_dataloaders=loader)
    # D step: real and fake; G step: fake (WGAN-GP: also the penalty's interpolates).
    assert len(seen) >= 3 and all(n == 16 for n, _ in seen)
    assert int(model.ema_updates) == 1  # the EMA followed the G step


def test_cyclegan_discriminators_see_augmented_images(make_cfg, one_thread) -> None:
    model = build(make_cfg, "cyclegan", "data=fashion_unpaired", "data.domain_a=sneaker", "data.domain_b=ankle_boot",
                  "model.recipe.augment=[cutout]", "model.recipe.ema.decay=0.9", "model.recipe.r1.gamma=1.0", "model.recipe.r1.every=1")
    calls = []
    original = model.augment.forward
    model.augment.forward = lambda x, generator=None: (calls.append(len(x)), original(x, generator))[1]
    batch = {"image": images(8, 1), "image_b": images(8, 2)}
    loader = torch.utils.data.DataLoader([batch], batch_size=None)
    trainer = pl.Trainer(max_epochs=1, accelerator="cpu", logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0)
    trainer.fit(model, train_dataloaders=loader)
    assert len(calls) == 6  # G step: two fakes; D step: two reals, two pooled fakes
    assert int(model.ema_updates) == 1 and int(model.d_steps) == 1
    translated = model.translate(images(4, 3), "b")
    torch.testing.assert_close(translated, model.ema["gen_a2b"].network.eval()(images(4, 3)))


def d_weights_after_one_step(make_cfg, *overrides: str) -> dict[str, torch.Tensor]:
    model = fit(build(make_cfg, "dcgan", "model.discriminator.dropout=0.0", *overrides), steps=1)
    return {k: v.clone() for k, v in model.discriminator.state_dict().items()}


def test_r1_changes_the_discriminator_update_and_is_lazy(make_cfg, one_thread) -> None:
    plain = d_weights_after_one_step(make_cfg)
    with_r1 = d_weights_after_one_step(make_cfg, "model.recipe.r1.gamma=10.0", "model.recipe.r1.every=1")
    assert any(not torch.equal(plain[k], with_r1[k]) for k in plain)
    # Lazy: with every=4 the penalty is added on D steps 0, 4, ... only.
    model = build(make_cfg, "dcgan", "model.recipe.r1.gamma=10.0", "model.recipe.r1.every=4")
    due = [model.r1_due() for _ in range(9)]
    assert due == [True, False, False, False, True, False, False, False, True]
    assert "d_steps" in model.state_dict()  # the schedule survives a resume


def test_spectral_norm_option_changes_the_discriminator_update(make_cfg, one_thread) -> None:
    model = build(make_cfg, "dcgan", "model.recipe.spectral_norm=true")
    assert is_spectral_normalised(model.discriminator.head)
    assert not any(is_spectral_normalised(m) for m in model.generator.modules())
    plain = fit(build(make_cfg, "dcgan", "model.discriminator.dropout=0.0"), steps=1)
    normed = fit(build(make_cfg, "dcgan", "model.discriminator.dropout=0.0", "model.recipe.spectral_norm=true"), steps=1)
    x = images()
    plain.eval(), normed.eval()
    assert not torch.allclose(plain.discriminate(x), normed.discriminate(x))


def test_bad_recipe_options_name_the_key(make_cfg) -> None:
    for override, message in [
        ("model.recipe.ema.decay=1.5", "model.recipe.ema.decay=1.5"),
        ("model.recipe.r1.every=0", "model.recipe.r1.every=0"),
        ("model.recipe.augment=[flip]", "'flip' is not a DiffAugment op"),
    ]:
        with pytest.raises(Exception) as info:
            build(make_cfg, "dcgan", override)
        assert message in str(info.value) or message in str(info.value.__cause__)
