"""model=cgan, model=cvae, model=wgan_gp: training on real Fashion-MNIST and on a generated
labelled folder, sampling, labels, stylize, and the errors for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from genstyle.checkpoints import load_model
from genstyle.cli.generate import generate, parse_labels
from genstyle.cli.train import train
from genstyle.data.sources import FASHION_MNIST_CLASSES
from genstyle.errors import GenstyleError
from genstyle.models.components.dcgan import DCGANDiscriminator
from tests.models.helpers import NO_EVAL, build_model, folder_overrides, write_labelled_folder

MODELS = ["cgan", "cvae", "wgan_gp"]


def finite(metrics: dict) -> bool:
    """Every logged metric is finite (the progress-bar-only entries like `g` are not metrics)."""
    return all(torch.isfinite(torch.tensor(v)) for k, v in metrics.items() if "/" in k)


def steps(name: str) -> list[str]:
    """WGAN-GP steps G every 5th batch: give it 5 so both networks train."""
    return ["trainer.limit_train_batches=5"] if name == "wgan_gp" else []


# --- training -----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", MODELS)
def test_trains_on_fashion_mnist_subset(make_cfg, name):
    cfg = make_cfg(f"model={name}", *NO_EVAL, *steps(name))
    metrics = train(cfg)
    run = Path(cfg.paths.output_dir)
    assert finite(metrics)
    assert ("train/loss_epoch" if name == "cvae" else "train/g_loss_epoch") in metrics
    model, checkpoint = load_model(run / "checkpoints" / "last.ckpt")
    if name == "wgan_gp":
        assert metrics["train/d_penalty_epoch"] > 0 and "train/wasserstein_epoch" in metrics
        assert not model.is_conditional
        return
    # Conditional: class names for generate.py and the real label distribution travel with the checkpoint.
    assert model.is_conditional and model.class_names() == list(FASHION_MNIST_CLASSES)
    assert model.label_prior.sum().item() == pytest.approx(1.0)
    assert not torch.allclose(model.label_prior, torch.full((10,), 0.1))  # 256 real images are not exactly uniform
    views = json.loads((run / "views" / "views.json").read_text())
    assert views["style_content"]["columns"] == list(FASHION_MNIST_CLASSES)


@pytest.mark.parametrize("name", MODELS)
def test_trains_on_generated_labelled_folder(make_cfg, tmp_path, name):
    root = write_labelled_folder(tmp_path / "shapes")
    conditional = name != "wgan_gp"
    cfg = make_cfg(f"model={name}", *folder_overrides(root, 3 if conditional else None), *steps(name))
    metrics = train(cfg)
    assert finite(metrics)
    model, _ = load_model(Path(cfg.paths.output_dir) / "checkpoints" / "last.ckpt")
    assert model.is_conditional == conditional
    if conditional:
        assert model.class_names() == ["bars", "columns", "disc"]
        assert torch.allclose(model.label_prior, torch.full((3,), 1 / 3), atol=0.1)
        assert model.sample(6, labels=torch.tensor([0, 1, 2] * 2)).shape == (6, 1, 28, 28)


def test_conditional_model_refuses_unlabelled_data(make_cfg, tmp_path):
    root = write_labelled_folder(tmp_path / "flat", flat=True)
    with pytest.raises(GenstyleError, match="has no labels"):
        train(make_cfg("model=cgan", *folder_overrides(root, 3)))


def test_conditional_model_needs_num_classes(make_cfg, tmp_path):
    root = write_labelled_folder(tmp_path / "shapes")
    with pytest.raises(Exception) as info:
        train(make_cfg("model=cvae", *folder_overrides(root, None)))
    assert "data.num_classes" in str(info.value) or "data.num_classes" in str(info.value.__cause__)


def test_num_classes_must_match_the_data(make_cfg, tmp_path):
    root = write_labelled_folder(tmp_path / "shapes")
    with pytest.raises(GenstyleError, match="the data has 3 classes"):
        train(make_cfg("model=cgan", *folder_overrides(root, 4)))


# --- sampling and labels ------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["cgan", "cvae"])
def test_sample_shape_range_and_label_prior(make_cfg, name):
    model = build_model(make_cfg, name)
    images = model.sample(12, generator=torch.Generator().manual_seed(0))
    assert images.shape == (12, 1, 28, 28) and images.min() >= -1 and images.max() <= 1
    # labels=None draws from the stored distribution: all mass on class 3 means class 3 everywhere.
    model.label_prior.copy_(torch.nn.functional.one_hot(torch.tensor(3), 10).float())
    drawn = model.sample(5, generator=torch.Generator().manual_seed(1))
    given = model.sample(5, labels=torch.full((5,), 3), generator=torch.Generator().manual_seed(1))
    other = model.sample(5, labels=torch.full((5,), 7), generator=torch.Generator().manual_seed(1))
    assert torch.equal(drawn, given) and not torch.allclose(given, other)


def test_bad_labels_are_refused(make_cfg):
    cgan, dcgan = build_model(make_cfg, "cgan"), build_model(make_cfg, "dcgan")
    with pytest.raises(GenstyleError, match="not class-conditional"):
        dcgan.sample(2, labels=torch.tensor([0, 1]))
    with pytest.raises(GenstyleError, match="classes are 0..9"):
        cgan.sample(2, labels=torch.tensor([0, 10]))
    with pytest.raises(GenstyleError, match="2 integer class indices"):
        cgan.sample(2, labels=torch.tensor([0, 1, 2]))


def test_parse_labels_accepts_class_names(make_cfg):
    model = build_model(make_cfg, "cgan")
    assert parse_labels(["sneaker", "coat"], 5, model).tolist() == [7, 4, 7, 4, 7]
    with pytest.raises(GenstyleError, match="ankle_boot"):  # the message lists the accepted names
        parse_labels(["boot"], 2, model)


def test_generate_with_class_names_from_a_trained_checkpoint(make_cfg, tmp_path):
    cfg = make_cfg("model=cgan", *NO_EVAL)
    train(cfg)
    ckpt = Path(cfg.paths.output_dir) / "checkpoints" / "last.ckpt"
    gen_cfg = OmegaConf.create({"ckpt_path": str(ckpt), "n": 4, "seed": 0, "out": str(tmp_path / "g.png"),
                                "grid": True, "nrow": None, "labels": ["sneaker", "coat"], "device": "cpu"})
    assert generate(gen_cfg).is_file()


def test_discriminator_label_conditioning_is_selectable():
    x, y = torch.randn(4, 1, 28, 28), torch.tensor([0, 1, 2, 3])
    for mode in ("projection", "concat"):
        d = DCGANDiscriminator(num_classes=10, conditioning=mode, base_channels=8).eval()
        assert d(x, y).shape == (4,)
        assert not torch.allclose(d(x, y), d(x, (y + 1) % 10))  # the label changes the verdict
    assert DCGANDiscriminator(num_classes=10, conditioning="concat", base_channels=8).projection is None
    with pytest.raises(GenstyleError, match="projection, concat"):
        DCGANDiscriminator(num_classes=10, conditioning="film")


# --- cvae stylize -------------------------------------------------------------------------------

def test_cvae_stylize_keeps_style_code_and_takes_content_class(make_cfg):
    model = build_model(make_cfg, "cvae")
    torch.manual_seed(0)
    content, style = torch.rand(3, 1, 28, 28) * 2 - 1, torch.rand(3, 1, 28, 28) * 2 - 1
    content_labels, style_labels = torch.tensor([7, 4, 0]), torch.tensor([1, 1, 9])
    out = model.stylize(content, style, content_labels=content_labels, style_labels=style_labels)
    assert out.shape == (3, 1, 28, 28) and out.min() >= -1 and out.max() <= 1
    with torch.no_grad():
        style_code, _ = model.encode(style, style_labels)
        assert torch.allclose(out, model.decode_mean(style_code, content_labels), atol=1e-6)
        # The class comes from content_labels, not from the content pixels: other pixels, same output.
        assert torch.allclose(out, model.stylize(-content, style, content_labels=content_labels, style_labels=style_labels))
    other = model.stylize(content, style, content_labels=torch.tensor([3, 3, 3]), style_labels=style_labels)
    assert not torch.allclose(out, other)
    # One style image for a batch of content images.
    assert model.stylize(content, style[:1], content_labels=content_labels, style_labels=torch.tensor([1])).shape == (3, 1, 28, 28)


def test_cvae_stylize_bad_input(make_cfg):
    model = build_model(make_cfg, "cvae")
    gray = torch.zeros(2, 1, 28, 28)
    with pytest.raises(GenstyleError, match=r"content must be a \(B, 1, 28, 28\)"):
        model.stylize(torch.zeros(2, 3, 28, 28), gray)
    with pytest.raises(GenstyleError, match="style has 3 images for 2 content images"):
        model.stylize(gray, torch.zeros(3, 1, 28, 28))
    with pytest.raises(GenstyleError, match="classes are 0..9"):
        model.stylize(gray, gray, content_labels=torch.tensor([0, 12]), style_labels=torch.tensor([0, 0]))
    # Without labels an attached classifier labels the images; the model never loads one itself.
    model.run_config = {"class_names": ["bars", "columns", "disc"]}
    with pytest.raises(GenstyleError, match="no classifier is attached.*bars, columns, disc.*pass content_labels"):
        model.stylize(gray, gray)


def test_cvae_stylize_labels_unlabelled_images_with_the_classifier(make_cfg, classifier_weights, monkeypatch):
    import genstyle.classifier.fashion_classifier as classifier

    monkeypatch.setattr(classifier, "WEIGHTS_PATH", Path(classifier_weights))
    model = build_model(make_cfg, "cvae")
    model.use_classifier(classifier.load_classifier())  # what python stylize.py does for Fashion-MNIST models
    content, style = torch.rand(2, 1, 28, 28) * 2 - 1, torch.rand(2, 1, 28, 28) * 2 - 1
    predicted = classifier.load_classifier()(content).argmax(1)
    style_pred = classifier.load_classifier()(style).argmax(1)
    out = model.stylize(content, style)
    assert torch.allclose(out, model.stylize(content, style, content_labels=predicted, style_labels=style_pred))
    assert "_classifier" not in "".join(model.state_dict())  # the classifier is not saved with the model
