"""A style page: both runs' results come from the same content/style pair, which the page shows."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest
import torch

from genstyle.cli.rate import make_page
from genstyle.errors import GenstyleError
from genstyle.models.base import CHECKPOINT_FORMAT_VERSION, CHECKPOINT_KEY, GenerativeModule
from tests.rating.config import rate_cfg


class KeepContent(GenerativeModule):
    """stylize returns the content image unchanged: its results are predictable pixel for pixel."""

    family = "adain"

    def __init__(self, image_shape: tuple[int, int, int]) -> None:
        super().__init__(tuple(image_shape))
        self.scale = torch.nn.Parameter(torch.ones(()))

    def stylize(self, content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        return content * self.scale


class KeepStyle(KeepContent):
    def stylize(self, content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        return style * self.scale


def fake_run(folder: Path, model_class: type) -> Path:
    model = model_class((1, 28, 28))
    config = {"model": {"_target_": f"{model_class.__module__}.{model_class.__qualname__}", "image_shape": [1, 28, 28]},
              "data": {"dataset": "fashion_mnist"}}
    (folder / "checkpoints").mkdir(parents=True)
    torch.save({"state_dict": model.state_dict(), CHECKPOINT_KEY: {"format_version": CHECKPOINT_FORMAT_VERSION, "family": model.family,
                "class": model_class.__qualname__, "config": config}}, folder / "checkpoints" / "last.ckpt")
    return folder


def test_style_pairs_share_their_content_and_style(tmp_path: Path, fmnist_root: Path) -> None:
    runs = [str(fake_run(tmp_path / "content_run", KeepContent)), str(fake_run(tmp_path / "style_run", KeepStyle))]
    out = make_page(rate_cfg(tmp_path, fmnist_root, runs=runs, n=8, out=str(tmp_path / "style.html")))
    data = json.loads(re.search(r'type="application/json">(.*?)</script>', out.read_text(), re.S).group(1))
    assert data["task"] == "style" and len(data["context"]) == 8
    key = json.loads(base64.b64decode(data["key"]))
    by_label = {v["label"]: hid for hid, v in key.items()}
    for item, (content, style) in data["context"].items():
        assert content != style
        assert data["images"][by_label["content_run"]][item] == content  # pixel-identical PNGs
        assert data["images"][by_label["style_run"]][item] == style
    with pytest.raises(GenstyleError, match="real= applies to samples only"):
        make_page(rate_cfg(tmp_path, fmnist_root, runs=runs, task="stylize", real="fashion_mnist:test", out=str(tmp_path / "x.html")))
    with pytest.raises(GenstyleError, match="exists; choose another name or pass overwrite=true"):
        make_page(rate_cfg(tmp_path, fmnist_root, runs=runs, n=8, out=str(out)))
