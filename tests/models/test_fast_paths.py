"""The GPU speed features, checked on the CPU: bf16 autocast for every family (losses that need
it kept in float32), torch.compile against eager, and a training step that never reads a tensor
back to the host."""

from __future__ import annotations

import hydra
import pytest
import pytorch_lightning as pl
import torch

from genstyle.models.components.losses import AdversarialLoss, r1_penalty
from genstyle.models.wgan_gp import gradient_penalty
from tests.models.helpers import NO_EVAL

UNPAIRED = ("data=fashion_unpaired", "data.domain_a=sneaker", "data.domain_b=ankle_boot", "data.train_subset=64")
FAMILIES = {
    "vae": (), "cvae": (), "dcgan": (), "cgan": (), "wgan_gp": (), "adain": (), "munit": (),
    "cyclegan": UNPAIRED, "stargan_v2": ("model.generator.base_width=8", "model.generator.max_width=16"),
}


def fit_steps(cfg, steps: int = 1, **trainer_args) -> tuple[pl.LightningModule, dict]:
    pl.seed_everything(0)
    datamodule = hydra.utils.instantiate(cfg.data)
    model = hydra.utils.instantiate(cfg.model)
    before = {k: v.detach().clone() for k, v in model.state_dict().items() if v.is_floating_point()}
    trainer = pl.Trainer(
        accelerator="cpu", max_steps=steps, max_epochs=1, limit_val_batches=0, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0, **trainer_args,
    )
    trainer.fit(model, datamodule=datamodule)
    return model, {"before": before, "metrics": dict(trainer.callback_metrics)}


@pytest.mark.parametrize("family", FAMILIES)
def test_one_bf16_mixed_step_of_every_family(make_cfg, one_thread, family):
    cfg = make_cfg(f"model={family}", *NO_EVAL, *FAMILIES[family], "data.batch_size=8")
    model, out = fit_steps(cfg, precision="bf16-mixed")
    losses = {k: v for k, v in out["metrics"].items() if k.startswith("train/") and "loss" in k}
    assert losses, out["metrics"].keys()
    assert all(torch.isfinite(v).all() for v in losses.values()), losses
    changed = [k for k, v in model.state_dict().items() if k in out["before"] and not torch.equal(v, out["before"][k])]
    assert changed, "no weight moved in a bf16 step"
    assert all(p.dtype == torch.float32 for p in model.parameters())  # master weights stay float32


def test_losses_that_need_it_are_float32_under_bf16_autocast():
    logits = torch.randn(8, requires_grad=True)
    images = torch.randn(8, 1, 28, 28, requires_grad=True)
    critic = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 1))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        half = logits.to(torch.bfloat16)
        for mode in ("non_saturating", "lsgan", "hinge", "wasserstein"):
            loss = AdversarialLoss(mode)
            assert loss.d_loss(half, half).dtype == torch.float32 and loss.g_loss(half).dtype == torch.float32
        scores = critic(images).squeeze(1)
        assert scores.dtype == torch.bfloat16  # autocast really is on
        assert r1_penalty(scores, images).dtype == torch.float32
        assert gradient_penalty(lambda x, _: critic(x).squeeze(1), images, images * 0.5).dtype == torch.float32


def test_vae_kl_and_likelihood_in_float32_under_bf16_autocast(make_cfg):
    cfg = make_cfg("model=vae", *NO_EVAL)
    model = hydra.utils.instantiate(cfg.model)
    x = torch.rand(4, 1, 28, 28) * 2 - 1
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model.forward_loss({"image": x})
    assert out["kl"].dtype == torch.float32 and out["recon"].dtype == torch.float32


@pytest.mark.slow  # inductor's C++ compile: minutes on a shared 2-core CPU
def test_compiled_networks_give_the_eager_loss(make_cfg, one_thread):
    """model.compile=true compiles G and D in place (same parameter names, so checkpoints are
    unchanged); the inductor-compiled step gives eager's losses to float tolerance."""
    overrides = ("model=dcgan", *NO_EVAL, "data.batch_size=8", "model.discriminator.dropout=0.0")
    eager, eager_out = fit_steps(make_cfg(*overrides), steps=2)
    compiled, compiled_out = fit_steps(make_cfg(*overrides, "model.compile=true"), steps=2)
    assert compiled.generator._compiled_call_impl is not None and compiled.discriminator._compiled_call_impl is not None
    assert eager._compiled_call_impl is None and eager.generator._compiled_call_impl is None
    assert list(compiled.state_dict()) == list(eager.state_dict())
    for key in ("train/d_loss", "train/g_loss"):
        torch.testing.assert_close(compiled_out["metrics"][key], eager_out["metrics"][key], rtol=1e-4, atol=1e-5)


def test_compile_in_place_keeps_names_and_loss(make_cfg, one_thread):
    """The fast variant: compile_networks with dynamo's graph capture (aot_eager backend, no C++
    compile) wraps each network in place; names, and the loss of a forward pass, are eager's."""
    from genstyle.models.compile import compile_networks

    model = hydra.utils.instantiate(make_cfg("model=dcgan", *NO_EVAL, "model.discriminator.dropout=0.0").model).eval()
    names = list(model.state_dict())
    z = torch.randn(4, model.latent_dim, generator=torch.Generator().manual_seed(0))
    eager_loss = model.adversarial.g_loss(model.discriminate(model.generate(z)))
    assert compile_networks(model, model.compiled_networks, backend="aot_eager") == ["generator", "discriminator"]
    assert model.generator._compiled_call_impl is not None and model.discriminator._compiled_call_impl is not None
    assert list(model.state_dict()) == names
    torch.testing.assert_close(model.adversarial.g_loss(model.discriminate(model.generate(z))), eager_loss)


def test_wgan_gp_compiles_the_generator_only(make_cfg):
    model = hydra.utils.instantiate(make_cfg("model=wgan_gp", *NO_EVAL).model)
    assert model.compiled_networks == ("generator",)  # the gradient penalty needs double backward


@pytest.mark.parametrize("compiled", [False, True])
def test_compiled_players_are_not_toggled(make_cfg, compiled):
    """Eager: the G step freezes D (the usual speed trick). Compiled: nothing is toggled, since
    dynamo can reuse a graph traced under the other requires_grad (pytorch/pytorch#139476) and the
    G loss then has no grad_fn; D's gradients from the G step are zeroed by D's own step."""
    model = hydra.utils.instantiate(make_cfg("model=dcgan", *NO_EVAL).model)
    model.use_compile = compiled  # the switch alone: the graph-reuse bug needs CUDA to show

    class OneOptimizer:
        def zero_grad(self, set_to_none=True):
            pass

        def step(self):
            pass

    seen = {}

    def g_loss():
        seen["d_trainable"] = all(p.requires_grad for p in model.discriminator.parameters())
        return model.adversarial.g_loss(model.discriminate(model.generate(torch.randn(2, model.latent_dim))))

    model.toggled_optimizer = lambda opt: _freezing(model.discriminator)
    model.manual_backward = lambda loss: loss.backward()
    model.adversarial_step("g", OneOptimizer(), g_loss, model.generator.parameters())
    assert seen["d_trainable"] is compiled


class _freezing:
    """Stands in for Lightning's toggled_optimizer: D frozen inside the block."""

    def __init__(self, network):
        self.network = network

    def __enter__(self):
        for p in self.network.parameters():
            p.requires_grad_(False)

    def __exit__(self, *exc):
        for p in self.network.parameters():
            p.requires_grad_(True)
