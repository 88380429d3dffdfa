"""stylize.py alpha=: the adain checkpoint's test-time strength, exactly the model's
`stylize(..., alpha=)`; refused for a model without it and for method=optimise."""

from __future__ import annotations

import numpy as np
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
from tests.cli.fake_stylers import FakeConditionalStylizer, write_checkpoint


@pytest.fixture(scope="module")
def images(tmp_path_factory, fmnist_root):
    root = tmp_path_factory.mktemp("alpha_images")
    data = load_fashion_mnist("test", root=str(fmnist_root), download=False)
    save_png(data.images[4], root / "shirt.png")
    save_png(data.images[6], root / "coat.png")
    return root


def run(*overrides: str):
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose("stylize", overrides=list(overrides))
    return stylize(cfg)


def gray(path) -> torch.Tensor:
    with Image.open(path) as img:
        return torch.from_numpy(np.asarray(img.convert("L")).copy())


def test_alpha_is_the_models_test_time_strength(adain_ckpt, images, tmp_path):
    inputs = [f"ckpt_path={adain_ckpt}", f"content={images / 'shirt.png'}", f"style={images / 'coat.png'}"]
    run(*inputs, f"out={tmp_path / 'half.png'}", "alpha=0.5")
    run(*inputs, f"out={tmp_path / 'full.png'}")
    model, _ = load_model(adain_ckpt)
    content, style = (to_model_range(gray(images / n))[None, None] for n in ("shirt.png", "coat.png"))
    assert torch.equal(gray(tmp_path / "half.png"), to_uint8(model.stylize(content, style, alpha=0.5)[0, 0]))
    assert not torch.equal(gray(tmp_path / "half.png"), gray(tmp_path / "full.png"))
    with pytest.raises(GenstyleError, match="alpha=1.5 must be in"):
        run(*inputs, f"out={tmp_path / 'bad.png'}", "alpha=1.5")
    assert not (tmp_path / "bad.png").exists()


def test_alpha_is_refused_where_there_is_no_such_strength(images, tmp_path):
    ckpt = write_checkpoint(FakeConditionalStylizer, tmp_path / "cvae.ckpt")
    with pytest.raises(GenstyleError, match="has none. Drop alpha="):
        run(f"ckpt_path={ckpt}", f"content={images / 'shirt.png'}", f"style={images / 'coat.png'}", f"out={tmp_path / 'r.png'}", "alpha=0.5")
    with pytest.raises(GenstyleError, match="Drop alpha="):
        run("method=optimise", f"content={images / 'shirt.png'}", f"style={images / 'coat.png'}", f"out={tmp_path / 'o.png'}", "alpha=0.5")
