"""What AdaIN means inside model=adain, in training and at inference: the decoder's training
targets carry the style image's channel statistics and the content image's normalised pattern
(AdaIN with the two roles swapped fails here), and `stylize` is the inference decoder (the moving
average when the run keeps one) applied to the AdaIN targets, computed here independently."""

from __future__ import annotations

import copy

import pytest
import torch

from genstyle.style_ops import adain, channel_stats
from tests.models.adain_helpers import Recorder, untrained_adain


@pytest.fixture(scope="module")
def model(tmp_path_factory, fmnist_root):
    return untrained_adain(tmp_path_factory, fmnist_root, "adain_roles")


@pytest.fixture(scope="module")
def images(fmnist_root) -> torch.Tensor:
    from genstyle.data.sources import load_fashion_mnist

    data = load_fashion_mnist("test", root=str(fmnist_root), download=False)
    return data.images[:8].float() / 127.5 - 1  # eight garments of different classes


def normalised(x: torch.Tensor) -> torch.Tensor:
    mean, std = channel_stats(x)
    return (x - mean) / std


def test_the_training_targets_have_the_styles_statistics_and_the_contents_pattern(model, images):
    """In `losses` (the training step's terms) image i takes the style of image i-1."""
    recorder = Recorder()
    with torch.no_grad():
        model.losses(images, recorder)
        content_maps, style_maps = model.features(images), model.features(torch.roll(images, 1, dims=0))
    for target, c, s in zip(recorder.targets, content_maps, style_maps, strict=True):
        (t_mean, t_std), (s_mean, s_std) = channel_stats(target), channel_stats(s)
        assert torch.allclose(t_mean, s_mean, atol=1e-4) and torch.allclose(t_std, s_std, atol=1e-3)
        live = (channel_stats(c)[1] > 1e-2).expand_as(c)  # channels the content image fires at all
        assert live.float().mean() > 0.5 and torch.allclose(normalised(target)[live], normalised(c)[live], atol=1e-2)


def test_stylize_is_the_moving_average_decoder_of_the_adain_targets(model, images):
    assert model.has_ema and model.use_ema
    trained = copy.deepcopy(model)
    with torch.no_grad():  # make the trained decoder and its average differ, as after training
        for seed, network in ((1, trained.decoder), (2, trained.ema["decoder"].network)):
            generator = torch.Generator().manual_seed(seed)
            for p in network.parameters():
                p.add_(0.05 * torch.randn(p.shape, generator=generator))
        content, style = images, images.flip(0)
        (c1, c2), (s1, s2) = trained.features(content), trained.features(style)
        averaged = trained.ema["decoder"].network(adain(c2, s2), adain(c1, s1), content)
        raw = trained.decoder(adain(c2, s2), adain(c1, s1), content)
    out = trained.stylize(content, style)
    assert torch.allclose(out, averaged, atol=1e-6) and not torch.allclose(out, raw, atol=1e-3)
    assert not torch.allclose(out, trained.stylize(style, content), atol=1e-3)  # content and style are not symmetric
    trained.use_ema = False
    assert torch.allclose(trained.stylize(content, style), raw, atol=1e-6)
