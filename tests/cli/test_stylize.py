"""stylize.py end to end on a model=adain checkpoint a test trains (single file, folder + panel,
refusal with exit 2 as subprocesses), the translation path on a minimal translator, and bad
input: clear errors, nothing written. Checks that need no subprocess call `stylize(cfg)` with the
composed conf/stylize.yaml directly (a subprocess costs seconds of imports each)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from PIL import Image

from genstyle.checkpoints import load_model
from genstyle.cli.common import CONFIG_DIR
from genstyle.cli.stylize import stylize
from genstyle.data.sources import load_fashion_mnist
from genstyle.errors import GenstyleError
from genstyle.images import save_png
from genstyle.pixels import to_model_range, to_uint8
from tests.cli.fake_stylers import (
    FakeConditionalStylizer,
    FakeSampler,
    FakeTranslator,
    write_checkpoint,
)
from tests.helpers.forked_cli import run_cli_forked as run_cli


@pytest.fixture(scope="module")
def images(tmp_path_factory, fmnist_root) -> Path:
    """Real Fashion-MNIST test images as PNG files: a.png, b.png and a nested folder."""
    root = tmp_path_factory.mktemp("images")
    data = load_fashion_mnist("test", root=str(fmnist_root), download=False)
    for i, name in enumerate(["a.png", "b.png", "folder/x.png", "folder/sub/y.png", "folder/sub/z.png"]):
        save_png(data.images[i], root / name)
    return root


def make(*overrides: str):
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose("stylize", overrides=list(overrides))


def gray(path: Path) -> torch.Tensor:
    with Image.open(path) as img:
        assert img.mode == "L"
        return torch.from_numpy(__import__("numpy").asarray(img).copy())


def test_single_file_matches_the_model(adain_ckpt, images, tmp_path):
    out = tmp_path / "result.png"
    result = run_cli("stylize.py", f"ckpt_path={adain_ckpt}", f"content={images / 'a.png'}", f"style={images / 'b.png'}", f"out={out}")
    assert result.returncode == 0, result.stderr
    assert f"Wrote 1 image (28x28) to {out}" in result.stdout  # not "1 images"
    model, _ = load_model(adain_ckpt)
    expected = model.stylize(to_model_range(gray(images / "a.png"))[None, None], to_model_range(gray(images / "b.png"))[None, None])
    assert torch.equal(gray(out), to_uint8(expected[0, 0]))  # 28x28, exactly the model's output


def test_folder_and_panel(adain_ckpt, images, tmp_path):
    out = tmp_path / "styled"
    result = run_cli(
        "stylize.py", f"ckpt_path={adain_ckpt}", f"content={images / 'folder'}", f"style={images / 'b.png'}", f"out={out}", "panel=true"
    )
    assert result.returncode == 0, result.stderr
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png"))
    assert written == ["sub/y.png", "sub/z.png", "x.png"]  # the content folder's layout, mirrored
    with Image.open(out / "sub" / "y.png") as panel:
        assert panel.size == (3 * 30 + 2, 30 + 2)  # content | style | result, 28 px + 2 px padding
        content_cell = torch.from_numpy(__import__("numpy").asarray(panel.convert("L")).copy())[2:30, 2:30]
    assert torch.equal(content_cell, gray(images / "folder" / "sub" / "y.png"))


@pytest.mark.slow  # the same errors are checked through the CLIs in tests/test_bad_inputs.py
def test_refuses_to_overwrite_and_exits_2(adain_ckpt, images, tmp_path):
    out = tmp_path / "mine.png"
    out.write_bytes(b"the user's own file")
    args = [f"ckpt_path={adain_ckpt}", f"content={images / 'a.png'}", f"style={images / 'b.png'}", f"out={out}"]
    result = run_cli("stylize.py", *args)
    assert result.returncode == 2 and "already exist" in result.stderr and "overwrite=true" in result.stderr
    assert "Traceback" not in result.stderr and out.read_bytes() == b"the user's own file"
    stylize(make(*args, "overwrite=true"))
    assert gray(out).shape == (28, 28)


@pytest.fixture
def colour_png(tmp_path) -> Path:
    image = torch.zeros(3, 40, 30, dtype=torch.uint8)
    image[0] = 200  # red: not gray, and not the model's size
    return save_png(image, tmp_path / "colour.png")


def test_colour_image_for_gray_model_is_an_error_unless_converted(adain_ckpt, images, colour_png, tmp_path):
    args = [f"ckpt_path={adain_ckpt}", f"content={colour_png}", f"style={images / 'b.png'}", f"out={tmp_path / 'r.png'}"]
    with pytest.raises(GenstyleError, match=r"content: .*colour \(RGB\) image but the model works on grayscale.*convert_channels=true"):
        stylize(make(*args))
    assert not (tmp_path / "r.png").exists()
    stylize(make(*args, "convert_channels=true"))
    assert gray(tmp_path / "r.png").shape == (28, 28)  # the model's size, not the input's 40x30


@pytest.mark.parametrize(
    ("setup", "overrides", "message"),
    [
        ("unreadable", ["content={bad}"], "content: cannot read image"),
        ("unreadable", ["style={bad}"], "style: cannot read image"),
        ("empty", ["content={empty}", "out={tmp}/o"], "is a folder with no images"),
        (None, ["content={tmp}/missing.png"], "no such file or folder"),
        (None, ["style=null"], "give style=<image file>"),
        (None, ["direction=a2b"], "direction=a2b is for translation models"),
        (None, ["out={tmp}/r.jpg"], "must be a .png file"),
        (None, ["content={images}/folder", "out={images}/a.png"], "is a file, but content="),
    ],
)
def test_bad_input_is_a_clear_error(adain_ckpt, images, tmp_path, setup, overrides, message):
    (tmp_path / "bad.png").write_text("not an image")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no images here")
    values = {"bad": tmp_path / "bad.png", "empty": tmp_path / "empty", "tmp": tmp_path, "images": images}
    base = {"ckpt_path": adain_ckpt, "content": images / "a.png", "style": images / "b.png", "out": tmp_path / "r.png"}
    for item in overrides:
        key, value = item.split("=", 1)
        base[key] = value.format(**values)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    with pytest.raises(GenstyleError, match=message):
        stylize(make(*(f"{k}={v}" for k, v in base.items())))
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing written


def test_translation_model_folder_a2b(images, tmp_path):
    ckpt = write_checkpoint(FakeTranslator, tmp_path / "translator.ckpt")
    out = tmp_path / "translated"
    stylize(make(f"ckpt_path={ckpt}", f"content={images / 'folder'}", f"out={out}", "direction=a2b"))
    assert torch.equal(gray(out / "x.png"), 255 - gray(images / "folder" / "x.png"))  # a2b inverts exactly
    assert len(list(out.rglob("*.png"))) == 3
    with pytest.raises(GenstyleError, match="style= is not used by translation models"):
        stylize(make(f"ckpt_path={ckpt}", f"content={images / 'a.png'}", f"style={images / 'b.png'}", f"out={tmp_path / 'r.png'}", "direction=a2b"))
    with pytest.raises(GenstyleError, match="must be one of a2b, b2a"):
        stylize(make(f"ckpt_path={ckpt}", f"content={images / 'a.png'}", f"out={tmp_path / 'r.png'}", "direction=sideways"))
    stylize(make(f"ckpt_path={ckpt}", f"content={images / 'a.png'}", f"out={tmp_path / 'p.png'}", "direction=b2a", "panel=true"))
    with Image.open(tmp_path / "p.png") as panel:
        assert panel.size == (2 * 30 + 2, 30 + 2)  # content | result


def test_model_that_cannot_stylize_names_those_that_can(images, tmp_path):
    ckpt = write_checkpoint(FakeSampler, tmp_path / "sampler.ckpt")
    with pytest.raises(GenstyleError, match="cannot stylize or translate") as info:
        stylize(make(f"ckpt_path={ckpt}", f"content={images / 'a.png'}", f"style={images / 'b.png'}", f"out={tmp_path / 'r.png'}"))
    assert all(name in str(info.value) for name in ("adain", "munit", "cvae", "cyclegan"))
    assert not (tmp_path / "r.png").exists()


def test_conditional_model_takes_class_names_or_indices(images, tmp_path):
    ckpt = write_checkpoint(FakeConditionalStylizer, tmp_path / "cvae.ckpt")
    args = [f"ckpt_path={ckpt}", f"content={images / 'a.png'}", f"style={images / 'b.png'}"]
    stylize(make(*args, f"out={tmp_path / 'r.png'}", "content_labels=two", "style_labels=1"))
    expected = to_uint8(torch.tensor(2 / 10 - 1 / 100))  # the fake encodes the classes it received
    assert (gray(tmp_path / "r.png") == expected).all()
    with pytest.raises(GenstyleError, match="'four' is not a class of this model.*zero, one, two"):
        stylize(make(*args, f"out={tmp_path / 'x.png'}", "content_labels=four", "style_labels=1"))


def test_class_labels_for_a_model_without_classes_are_an_error(adain_ckpt, images, tmp_path):
    with pytest.raises(GenstyleError, match="content_labels=3 is for class-conditional models"):
        stylize(make(f"ckpt_path={adain_ckpt}", f"content={images / 'a.png'}", f"style={images / 'b.png'}", f"out={tmp_path / 'r.png'}", "content_labels=3"))
