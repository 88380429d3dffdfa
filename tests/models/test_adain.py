"""model=adain (frozen classifier encoder + AdaIN + trained decoder): a real training step on
Fashion-MNIST with the plain config, the stylize contract, the frozen encoder, and data it
cannot take (RGB) refused with a message that names the alternative."""

from __future__ import annotations

import copy
import math
import time
from pathlib import Path

import hydra
import pytest
import pytorch_lightning as pl
import torch

from genstyle.checkpoints import load_model
from genstyle.cli.train import train
from genstyle.errors import GenstyleError

OFF = ["model=adain", "callbacks.evaluation=null"]


def test_training_step_with_the_plain_config(make_cfg, one_thread):
    cfg = make_cfg(*OFF)
    assert cfg.model._target_.endswith("AdaINTransfer")
    metrics = train(cfg)
    for key in ("train/loss", "train/content", "train/structure", "train/style", "train/gram", "train/pixel", "val/style_stat_dist"):
        value = metrics.get(key, metrics.get(f"{key}_epoch"))
        assert value is not None and math.isfinite(value), key
    model, _ = load_model(Path(cfg.paths.output_dir) / "checkpoints" / "last.ckpt")
    assert int(model.reference_count) > 0  # sample() has real images to pair


@pytest.fixture
def model(make_cfg):
    torch.manual_seed(0)
    return hydra.utils.instantiate(make_cfg(*OFF).model)


def test_stylize_shapes_ranges_broadcast_and_determinism(model):
    content, style = torch.rand(5, 1, 28, 28) * 2 - 1, torch.rand(5, 1, 28, 28) * 2 - 1
    out = model.stylize(content, style)
    assert out.shape == (5, 1, 28, 28) and out.min() >= -1 and out.max() <= 1
    assert torch.equal(out, model.stylize(content, style))
    one = model.stylize(content, style[:1])
    assert torch.allclose(one, model.stylize(content, style[:1].expand(5, -1, -1, -1)), atol=1e-6)
    assert not torch.allclose(one, model.stylize(content, style[1:2]))  # the style image matters
    with pytest.raises(GenstyleError, match="give 1 or 5"):
        model.stylize(content, style[:2])


def test_only_the_decoder_trains_and_the_encoder_stays_in_eval(model, one_thread):
    encoder_before = {k: v.clone() for k, v in model.encoder.state_dict().items()}
    optimiser = model.configure_optimizers()
    assert {id(p) for g in optimiser.param_groups for p in g["params"]} == {id(p) for p in model.decoder.parameters()}
    model.train()
    assert not model.encoder.training and model.decoder.training
    x = torch.rand(8, 1, 28, 28) * 2 - 1
    terms, _ = model.losses(x)
    sum(terms.values()).backward()
    optimiser.step()
    for k, v in model.encoder.state_dict().items():
        assert torch.equal(v, encoder_before[k]), k  # no gradient step, no batch-norm statistics update


def test_a_training_step_takes_under_a_second_of_cpu(model, one_thread):
    optimiser = model.configure_optimizers()
    x = torch.rand(32, 1, 28, 28) * 2 - 1  # the experiment's batch size
    times = []
    for _ in range(3):
        # CPU time of this process on one thread: on a shared machine the wall clock also counts
        # the time spent waiting for a core, which says nothing about the model.
        start = time.process_time()
        terms, _ = model.losses(x)
        optimiser.zero_grad()
        sum(terms.values()).backward()
        optimiser.step()
        times.append(time.process_time() - start)
    assert min(times) < 1.0


def test_rgb_data_is_refused_with_the_alternative(make_cfg):
    cfg = make_cfg(*OFF, "data.channels=3", "data.image_size=32")
    with pytest.raises(Exception, match="model=munit") as info:  # Hydra wraps what the model raises
        hydra.utils.instantiate(cfg.model)
    assert isinstance(info.value, GenstyleError) or isinstance(info.value.__cause__, GenstyleError)


def test_the_residual_decoder_starts_as_the_content_image(make_cfg):
    torch.manual_seed(0)
    model = hydra.utils.instantiate(make_cfg(*OFF, "model.decoder.residual=true", "model.recipe.ema.decay=null").model)
    content, style = torch.rand(4, 1, 28, 28) * 2 - 1, torch.rand(4, 1, 28, 28) * 2 - 1
    # the last layer starts at zero: the result is the content image (to the 0.999 clamp of atanh)
    assert torch.allclose(model.stylize(content, style), content.clamp(-0.999, 0.999), atol=1e-5)
    model.decoder.out[-1].weight.data.normal_(0, 0.1)  # once it has learned a change, the style image matters
    assert not torch.allclose(model.stylize(content, style), model.stylize(content, style.flip(0)))


SMALL = (*OFF, "model.decoder.width=8", "model.discriminator.base_channels=8")
ADVERSARIAL = (*SMALL, "model.adversarial_weight=0.5")


def test_the_adversarial_term_trains_a_discriminator_and_the_decoder(make_cfg, one_thread):
    cfg = make_cfg(*ADVERSARIAL, "model.recipe.ema.decay=0.9", "model.recipe.ema.start_step=0")
    metrics = train(cfg)
    for key in ("train/adversarial", "train/d_loss", "train/d_real_acc", "stability/grad_norm_d", "train/gram", "val/style_stat_dist"):
        value = metrics.get(key, metrics.get(f"{key}_epoch"))
        assert value is not None and math.isfinite(value), key
    model, _ = load_model(Path(cfg.paths.output_dir) / "checkpoints" / "last.ckpt")
    assert model.adversarial_on and model.has_ema and int(model.ema_updates) > 0
    # inference uses the decoder's average, which differs from the trained decoder after a few steps
    content, style = torch.rand(3, 1, 28, 28) * 2 - 1, torch.rand(3, 1, 28, 28) * 2 - 1
    averaged = model.stylize(content, style)
    model.use_ema = False
    assert not torch.allclose(averaged, model.stylize(content, style))


class DecoderGradients(pl.Callback):
    """Keeps, at the decoder's optimiser step, the decoder's gradients and a copy of the
    discriminator as that step saw it (after the D step), and a copy of the model before the batch."""

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.before = copy.deepcopy(pl_module)

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        if {id(p) for g in optimizer.param_groups for p in g["params"]} == {id(p) for p in pl_module.decoder.parameters()}:
            self.grads = [p.grad.clone() for p in pl_module.decoder.parameters()]
            self.discriminator = copy.deepcopy(getattr(pl_module, "discriminator", None))


def test_the_adversarial_term_changes_the_decoder_gradient(make_cfg, one_thread):
    """The model's own training step (one batch through a Trainer) at adversarial weight 0 and 0.5
    from the same weights: the decoder's gradients differ by exactly 0.5 times the gradient of the
    generator loss against the discriminator the decoder step saw."""
    x = torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(1)) * 2 - 1

    def step(weight: str) -> DecoderGradients:
        torch.manual_seed(0)
        model = hydra.utils.instantiate(make_cfg(*SMALL, f"model.adversarial_weight={weight}").model)
        capture = DecoderGradients()
        trainer = pl.Trainer(max_epochs=1, limit_train_batches=1, accelerator="cpu", logger=False, enable_checkpointing=False,
                             enable_progress_bar=False, enable_model_summary=False, callbacks=[capture])
        trainer.fit(model, train_dataloaders=torch.utils.data.DataLoader([{"image": x}], batch_size=None))
        return capture

    plain, adversarial = step("0"), step("0.5")
    assert all(torch.equal(a, b) for a, b in zip(plain.before.decoder.parameters(), adversarial.before.decoder.parameters(), strict=True))
    model = adversarial.before
    _, result = model.losses(x)
    g_loss = model.adversarial.g_loss(adversarial.discriminator(result))
    expected = torch.autograd.grad(0.5 * g_loss, list(model.decoder.parameters()))
    difference = [a - b for a, b in zip(adversarial.grads, plain.grads, strict=True)]
    assert sum(float(e.abs().sum()) for e in expected) > 1e-6  # the adversarial term has a gradient at all
    for d, e in zip(difference, expected, strict=True):
        assert torch.allclose(d, e, atol=1e-6, rtol=1e-3)


def test_the_adversarial_term_without_a_discriminator_is_refused(make_cfg):
    cfg = make_cfg(*OFF, "model.adversarial_weight=1", "model.discriminator=null")
    with pytest.raises(Exception, match="needs model.discriminator") as info:
        hydra.utils.instantiate(cfg.model)
    assert isinstance(info.value, GenstyleError) or isinstance(info.value.__cause__, GenstyleError)
