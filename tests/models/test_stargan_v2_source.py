"""stargan_v2's options that keep more of the source: the generator's skip paths
(`model.generator.skip_sizes`) and the source-structure loss (`model.lambda_struct`), both off by
default so earlier checkpoints and configs build the same networks."""

from __future__ import annotations

import hydra
import pytest
import torch

from genstyle.errors import GenstyleError, user_error_in
from genstyle.models.components.stargan_v2_nets import Generator, structure
from tests.conftest import compose_train
from tests.models.test_stargan_v2 import NO_EVAL, TINY


def test_default_generator_has_no_skip_path():
    generator = Generator(1, 28, style_dim=8, base_width=8, max_width=16, n_bottleneck=1)
    assert generator.skip_sizes == () and not any(key.startswith("skips.") for key in generator.state_dict())


def test_skip_path_adds_the_encoder_map_to_the_decoder():
    torch.manual_seed(0)
    plain = Generator(1, 28, style_dim=8, base_width=8, max_width=16, n_bottleneck=1)
    skipped = Generator(1, 28, style_dim=8, base_width=8, max_width=16, n_bottleneck=1, skip_sizes=[14])
    assert set(skipped.state_dict()) - set(plain.state_dict()) == {"skips.14.weight", "skips.14.bias"}
    skipped.load_state_dict(plain.state_dict(), strict=False)
    x, s = torch.rand(3, 1, 28, 28) * 2 - 1, torch.randn(3, 8)
    assert not torch.allclose(skipped(x, s), plain(x, s))  # the skip changes the output
    with torch.no_grad():
        skipped.skips["14"].weight.zero_()
        skipped.skips["14"].bias.zero_()
    torch.testing.assert_close(skipped(x, s), plain(x, s))  # and nothing else differs
    # What the 1x1 convolution adds is the encoder's 14x14 map, at the decoder's 14x14 map.
    with torch.no_grad():
        skipped.skips["14"].bias.fill_(1.0)
    kept = {}
    hook = skipped.decoder[-1].register_forward_pre_hook(lambda module, args: kept.update(h=args[0]))
    skipped(x, s)
    hook.remove()
    h = skipped.from_image(x)
    h = skipped.decoder[-2](skipped.decoder[-3](skipped.encoder[2](skipped.encoder[1](skipped.encoder[0](h))), s), s)
    torch.testing.assert_close(kept["h"], h + 1.0)


@pytest.mark.parametrize("sizes", [[7], [28], [13]])
def test_a_skip_size_the_encoder_does_not_have_is_an_error(sizes):
    with pytest.raises(GenstyleError, match="skip_sizes"):
        Generator(1, 28, skip_sizes=sizes)


def test_structure_sees_edges_not_shade():
    torch.manual_seed(0)
    x = torch.zeros(2, 1, 28, 28)
    x[:, :, 8:20, 10:18] = 1.0
    x = x + 0.05 * torch.rand_like(x)
    torch.testing.assert_close(structure(x), structure(-0.2 + 0.4 * x), atol=1e-4, rtol=1e-4)  # darker, less contrast
    assert structure(x).shape == (2, 1, 28, 28)
    moved = torch.roll(x, 4, dims=3)
    assert (structure(moved) - structure(x)).abs().mean() > 0.1  # the layout moved
    edge = structure(x)[0, 0]
    assert edge[14, 10] > 10 * edge[14, 14]  # high on the border, low inside


def build(tmp_path, *extra):
    return hydra.utils.instantiate(compose_train([*TINY, *NO_EVAL, *extra], tmp_path).model)


def test_structure_loss_is_its_weight_times_the_edge_distance(tmp_path):
    torch.manual_seed(0)
    off, on = build(tmp_path / "a"), build(tmp_path / "b", "model.lambda_struct=2.5")
    on.load_state_dict(off.state_dict())
    x, y = torch.rand(4, 1, 28, 28) * 2 - 1, torch.tensor([0, 3, 5, 9])
    y_trg, s1, s2 = torch.tensor([1, 1, 2, 7]), torch.randn(4, off.style_dim), torch.randn(4, off.style_dim)
    loss_off, terms_off = off.g_loss(x, y, y_trg, s1, s2)
    loss_on, terms_on = on.g_loss(x, y, y_trg, s1, s2)
    assert "struct" not in terms_off
    expected = (structure(on.generator(x, s1)) - structure(x)).abs().mean()
    torch.testing.assert_close(terms_on["struct"], expected.detach())
    torch.testing.assert_close(loss_on - loss_off, 2.5 * expected.detach())


def test_negative_structure_weight_is_an_error(tmp_path):
    with pytest.raises(Exception) as info:
        build(tmp_path, "model.lambda_struct=-1")
    error = user_error_in(info.value)
    assert isinstance(error, GenstyleError) and "model.lambda_struct=-1" in str(error)


def test_a_training_iteration_trains_the_skip_path_and_logs_the_structure_term(tmp_path, one_thread, fmnist_root):
    import pytorch_lightning as pl

    cfg = compose_train([f"data.root={fmnist_root}", *TINY, *NO_EVAL, "model.generator.skip_sizes=[14]", "model.lambda_struct=1"], tmp_path)
    model = hydra.utils.instantiate(cfg.model)
    before = model.generator.skips["14"].weight.detach().clone()
    logged = {}
    model.log_dict = lambda metrics, **kwargs: logged.update(metrics)
    trainer = pl.Trainer(max_epochs=1, limit_train_batches=1, limit_val_batches=0, accelerator="cpu", logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(model, datamodule=hydra.utils.instantiate(cfg.data))
    assert not torch.equal(model.generator.skips["14"].weight.detach(), before)
    assert {"train/g_struct_latent", "train/g_struct_ref"} <= set(logged)
    assert float(logged["train/g_struct_latent"]) > 0
