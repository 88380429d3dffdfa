"""ConditionalGAN.stylize: the style image's z found by GAN inversion, decoded with the content
image's class; and `stylize.py` on a real (briefly trained) cGAN checkpoint."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from PIL import Image

from genstyle.checkpoints import load_model
from genstyle.cli.common import CONFIG_DIR
from genstyle.cli.stylize import stylize as stylize_cli
from genstyle.cli.train import train
from genstyle.data.sources import load_fashion_mnist
from genstyle.errors import GenstyleError
from genstyle.images import save_png
from genstyle.pixels import to_model_range
from tests.conftest import compose_train
from tests.models.helpers import NO_EVAL, build_model

FAST = ("model.inversion_steps=15",)


@pytest.fixture(scope="module")
def test_images(fmnist_root):
    data = load_fashion_mnist("test", root=str(fmnist_root), download=False)
    return to_model_range(data.images[:8]), data.labels[:8], data


@pytest.fixture(scope="module")
def trained(tmp_path_factory, fmnist_root) -> Path:
    """A cGAN trained for a few batches on real Fashion-MNIST: its checkpoint."""
    run = tmp_path_factory.mktemp("cgan_run") / "run"
    train(compose_train([f"data.root={fmnist_root}", "model=cgan", *NO_EVAL, "model.inversion_steps=30"], run))
    GlobalHydra.instance().clear()
    return run / "checkpoints" / "last.ckpt"


def test_shapes_range_and_single_style_broadcast(make_cfg, test_images):
    model = build_model(make_cfg, "cgan", *FAST)
    images, labels, _ = test_images
    out = model.stylize(images[:4], images[4:5], content_labels=labels[:4], style_labels=labels[4:5])
    assert out.shape == (4, 1, 28, 28) and out.dtype == torch.float32
    assert out.min() >= -1 and out.max() <= 1 and torch.isfinite(out).all()
    # One style image is the same as that image repeated for every content image.
    repeated = model.stylize(images[:4], images[4:5].expand(4, -1, -1, -1), content_labels=labels[:4], style_labels=labels[4:5].expand(4))
    assert torch.equal(out, repeated)


def test_deterministic_and_leaves_global_rng_and_mode_alone(make_cfg, test_images):
    model = build_model(make_cfg, "cgan", *FAST).train()
    images, labels, _ = test_images
    torch.manual_seed(123)
    state = torch.get_rng_state()
    first = model.stylize(images[:3], images[3:6], content_labels=labels[:3], style_labels=labels[3:6])
    assert torch.equal(torch.get_rng_state(), state)
    second = model.stylize(images[:3], images[3:6], content_labels=labels[:3], style_labels=labels[3:6])
    assert torch.equal(first, second)
    assert model.training  # restored after stylize
    assert all(p.requires_grad for p in model.generator.parameters())  # unfrozen again
    assert all(p.grad is None for p in model.generator.parameters())  # inversion never touched G's grads


def test_labels_honoured(make_cfg, test_images):
    """The result is G(invert(style, style_label), content_label): the content class decides the decode,
    the style class the inversion."""
    model = build_model(make_cfg, "cgan", *FAST)
    images, _, _ = test_images
    content, style = images[:2], images[2:4]
    a = model.stylize(content, style, content_labels=torch.tensor([1, 1]), style_labels=torch.tensor([5, 5]))
    z = model.invert(style, torch.tensor([5, 5]))
    with torch.no_grad():
        assert torch.allclose(a, model.generate(z, torch.tensor([1, 1])).clamp(-1, 1))
    b = model.stylize(content, style, content_labels=torch.tensor([7, 7]), style_labels=torch.tensor([5, 5]))
    c = model.stylize(content, style, content_labels=torch.tensor([1, 1]), style_labels=torch.tensor([0, 0]))
    assert not torch.allclose(a, b) and not torch.allclose(a, c)
    # The content image's pixels do not matter, only its class.
    assert torch.equal(a, model.stylize(-content, style, content_labels=torch.tensor([1, 1]), style_labels=torch.tensor([5, 5])))


def test_bad_labels_and_images_are_clear_errors(make_cfg, test_images):
    model = build_model(make_cfg, "cgan", *FAST)
    images, labels, _ = test_images
    with pytest.raises(GenstyleError, match="content_labels contain 10; classes are 0..9"):
        model.stylize(images[:2], images[2:4], content_labels=torch.tensor([10, 0]), style_labels=labels[2:4])
    with pytest.raises(GenstyleError, match="style has 3 images for 2 content images"):
        model.stylize(images[:2], images[2:5], content_labels=labels[:2], style_labels=labels[2:5])
    with pytest.raises(GenstyleError, match=r"content must be a \(B, 1, 28, 28\) tensor"):
        model.stylize(images[:2, :, :14], images[2:4], content_labels=labels[:2], style_labels=labels[2:4])
    model.run_config = {"class_names": ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"]}
    with pytest.raises(GenstyleError, match="style_labels were not given and no classifier is attached"):
        model.stylize(images[:2], images[2:4], content_labels=labels[:2])
    with pytest.raises(Exception, match="model.inversion_steps=-1 must be an integer >= 0"):
        build_model(make_cfg, "cgan", "model.inversion_steps=-1")


def test_inversion_lowers_reconstruction_error_on_trained_model(trained, test_images):
    model, _ = load_model(trained)
    assert model.inversion_steps == 30  # the config stored in the checkpoint sets the inversion
    images, labels, _ = test_images
    start = model.initial_latent(len(images))
    with torch.no_grad():
        before = model.inversion_error(start, images, labels)
        after = model.inversion_error(model.invert(images, labels), images, labels)
    assert (after < before).all()
    assert after.mean() < 0.95 * before.mean()  # a 3-batch G can draw little; the demo checkpoint: 0.44 -> 0.15


def test_stylize_cli_routes_cgan_through_stylize(trained, test_images, tmp_path):
    _, _, data = test_images
    save_png(data.images[0], tmp_path / "content.png")
    save_png(data.images[1], tmp_path / "style.png")
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose("stylize", overrides=[
            f"ckpt_path={trained}", f"content={tmp_path / 'content.png'}", f"style={tmp_path / 'style.png'}",
            f"out={tmp_path / 'panel.png'}", "panel=true", "content_labels=sneaker", f"style_labels={int(data.labels[1])}",
        ])
    GlobalHydra.instance().clear()
    assert stylize_cli(cfg) == [tmp_path / "panel.png"]
    with Image.open(tmp_path / "panel.png") as panel:
        assert panel.size == (3 * 30 + 2, 30 + 2)  # content | style | result
