"""AdaIN's test-time strength: `stylize(..., alpha=)` interpolates the decoder's targets between
the content's own features (0) and the AdaIN targets (1), as in Huang & Belongie; alpha 1 is the
default and the trained path."""

from __future__ import annotations

import pytest
import torch

from genstyle.errors import GenstyleError
from tests.models.adain_helpers import Recorder, untrained_adain


@pytest.fixture(scope="module")
def model(tmp_path_factory, fmnist_root):
    return untrained_adain(tmp_path_factory, fmnist_root, "adain_alpha").eval()


@pytest.fixture(scope="module")
def images(fmnist_root):
    from genstyle.data.sources import load_fashion_mnist

    data = load_fashion_mnist("test", root=str(fmnist_root), download=False)
    return data.images[:6].float() / 127.5 - 1, data.images[6:12].float() / 127.5 - 1


def test_alpha_interpolates_between_the_contents_features_and_the_adain_targets(model, images):
    content, style = images
    recorder = Recorder()
    with torch.no_grad():
        c1, c2 = model.features(content)
        model.transfer(content, style, recorder, alpha=0.0)
        assert torch.equal(recorder.targets[0], c1) and torch.equal(recorder.targets[1], c2)
        model.transfer(content, style, recorder, alpha=1.0)
        full = recorder.targets
        model.transfer(content, style, recorder, alpha=0.25)
    for half, own, target in zip(recorder.targets, (c1, c2), full, strict=True):
        assert torch.allclose(half, 0.25 * target + 0.75 * own, atol=1e-5)


def test_stylize_takes_alpha_as_a_keyword_and_one_is_the_default(model, images):
    content, style = images
    assert "alpha" in model.stylize_options
    assert torch.equal(model.stylize(content, style), model.stylize(content, style, alpha=1.0))
    weak, strong = model.stylize(content, style, alpha=0.0), model.stylize(content, style)
    assert not torch.allclose(weak, strong)
    # alpha=0 draws the content from its own features: the style image no longer matters.
    assert torch.allclose(weak, model.stylize(content, style.flip(0), alpha=0.0), atol=1e-6)
    for bad in (-0.1, 1.5):
        with pytest.raises(GenstyleError, match="alpha"):
            model.stylize(content, style, alpha=bad)
    with pytest.raises(TypeError):
        model.stylize(content, style, None, None, 0.5)  # keyword-only
