"""model=sngan: the residual generator and discriminator (components/resnet_gan.py), and the
config that trains them with hinge loss and spectral norm on D."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from genstyle.cli.train import train
from genstyle.errors import GenstyleError
from genstyle.models.components.resnet_gan import (
    DiscriminatorBlock,
    GeneratorBlock,
    ResNetGANDiscriminator,
    ResNetGANGenerator,
    bottom_side,
)
from genstyle.models.components.spectral_norm import is_spectral_normalised
from tests.models.helpers import NO_EVAL, build_model


@pytest.mark.parametrize(("size", "side", "blocks"), [(28, 7, 2), (32, 4, 3), (64, 8, 3), (8, 4, 1)])
def test_first_map_and_number_of_up_blocks(size, side, blocks):
    assert bottom_side(size) == (side, blocks)


@pytest.mark.parametrize("size", [7, 27, 6])
def test_sizes_it_cannot_build_are_refused_by_name(size):
    with pytest.raises(GenstyleError, match="data.image_size"):
        ResNetGANGenerator(image_size=size)


@pytest.mark.parametrize(("channels", "size"), [(1, 28), (3, 32)])
def test_shapes_and_range(channels, size):
    torch.manual_seed(0)
    g = ResNetGANGenerator(latent_dim=16, channels=channels, image_size=size, base_channels=4)
    d = ResNetGANDiscriminator(channels=channels, image_size=size, base_channels=4)
    x = g(torch.randn(5, 16) * 10)
    assert x.shape == (5, channels, size, size)
    assert x.abs().max() <= 1.0
    assert d(x).shape == (5,)
    # widths halve per up-block, down to base_channels at full resolution
    assert g.width == 4 * 2 ** bottom_side(size)[1] and g.blocks[-1].conv2.out_channels == 4


def test_generator_block_is_residual_and_upsamples():
    torch.manual_seed(0)
    block = GeneratorBlock(3, 2)
    x = torch.randn(2, 3, 5, 5)
    with torch.no_grad():
        block.conv2.weight.zero_()
        block.conv2.bias.zero_()
    # the residual branch is zero: what is left is the 1x1 shortcut of the nearest upsampling
    expected = block.shortcut(F.interpolate(x, scale_factor=2, mode="nearest"))
    torch.testing.assert_close(block(x), expected)


def test_discriminator_blocks_shortcuts():
    torch.manual_seed(0)
    x = torch.randn(2, 4, 6, 6)
    same = DiscriminatorBlock(4, 4, downsample=False)
    assert same.shortcut is None
    with torch.no_grad():
        same.conv2.weight.zero_()
        same.conv2.bias.zero_()
    torch.testing.assert_close(same(x), x)  # identity shortcut
    down = DiscriminatorBlock(4, 6, downsample=True)
    with torch.no_grad():
        down.conv2.weight.zero_()
        down.conv2.bias.zero_()
    torch.testing.assert_close(down(x), F.avg_pool2d(down.shortcut(x), 2))
    first = DiscriminatorBlock(4, 6, downsample=True, first=True)
    with torch.no_grad():
        first.conv2.weight.zero_()
        first.conv2.bias.zero_()
    torch.testing.assert_close(first(x), first.shortcut(F.avg_pool2d(x, 2)))
    # the first block sees the image itself: no ReLU in front (negative pixels matter)
    first = DiscriminatorBlock(4, 6, downsample=True, first=True)
    expected = F.avg_pool2d(first.conv2(F.relu(first.conv1(x))), 2) + first.shortcut(F.avg_pool2d(x, 2))
    torch.testing.assert_close(first(x), expected)


def test_discriminator_sums_features_over_positions():
    torch.manual_seed(0)
    d = ResNetGANDiscriminator(image_size=28, base_channels=4)
    x = torch.randn(2, 1, 28, 28)
    expected = d.head(F.relu(d.blocks(x)).sum(dim=(2, 3))).squeeze(1)  # SNGAN's sum pooling, not a mean
    torch.testing.assert_close(d(x), expected)


def test_projection_discriminator_uses_the_label():
    torch.manual_seed(0)
    d = ResNetGANDiscriminator(image_size=28, base_channels=4, num_classes=3)
    x = torch.randn(2, 1, 28, 28)
    assert not torch.allclose(d(x, torch.tensor([0, 0])), d(x, torch.tensor([1, 1])))
    with pytest.raises(GenstyleError, match="class-conditional"):
        d(x)


def test_config_builds_sngan(make_cfg):
    model = build_model(make_cfg, "sngan")
    assert type(model).__name__ == "SNGAN" and model.family == "sngan"
    assert model.adversarial.mode == "hinge" and model.n_critic == 1 and model.latent_dim == 128
    assert isinstance(model.generator, ResNetGANGenerator) and isinstance(model.discriminator, ResNetGANDiscriminator)
    layers = [m for m in model.discriminator.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    assert layers and all(is_spectral_normalised(m) for m in layers)
    assert not any(is_spectral_normalised(m) for m in model.generator.modules())
    opt_g, opt_d = model.configure_optimizers()
    assert (opt_g.defaults["lr"], opt_d.defaults["lr"]) == (1e-4, 4e-4)
    assert tuple(opt_g.defaults["betas"]) == tuple(opt_d.defaults["betas"]) == (0.0, 0.9)


def test_recipe_options_apply(make_cfg):
    model = build_model(make_cfg, "sngan", "+recipe=plain")
    assert not any(is_spectral_normalised(m) for m in model.discriminator.modules())


def test_trains_a_few_steps(make_cfg):
    metrics = train(make_cfg("model=sngan", *NO_EVAL, "trainer.limit_train_batches=2"))
    assert all(torch.isfinite(torch.tensor(metrics[k])) for k in ("train/d_loss_epoch", "train/g_loss_epoch"))
