"""Minimal GenerativeModule subclasses for the stylize.py paths whose real models (cyclegan,
cvae) are trained elsewhere: a translator with an exactly known output, and a model that can
only sample. `write_checkpoint` stores them the way `train.py` does, so `load_model` rebuilds them."""

from __future__ import annotations

from pathlib import Path

import torch

from genstyle.models.base import CHECKPOINT_FORMAT_VERSION, CHECKPOINT_KEY, GenerativeModule


class FakeTranslator(GenerativeModule):
    """Into domain b (a2b) it inverts intensities, into a (b2a) it keeps them: results the tests can
    predict pixel for pixel."""

    family = "cyclegan"

    def __init__(self, image_shape: tuple[int, int, int]) -> None:
        super().__init__(tuple(image_shape))
        self.scale = torch.nn.Parameter(torch.ones(()))

    def translate(self, x: torch.Tensor, target: str) -> torch.Tensor:
        assert target in ("a", "b"), target  # translate(x, target): the domain to translate into
        return -x * self.scale if target == "b" else x * self.scale


class FakeConditionalStylizer(GenerativeModule):
    """A cvae-like stylize(content, style, *, content_labels, style_labels): the result's intensity
    is content class / 10 - style class / 100, so tests can read the classes it received."""

    family = "cvae"

    def __init__(self, image_shape: tuple[int, int, int]) -> None:
        super().__init__(tuple(image_shape), num_classes=3)
        self.scale = torch.nn.Parameter(torch.ones(()))

    @property
    def is_conditional(self) -> bool:
        return True

    def class_names(self) -> list[str]:
        return ["zero", "one", "two"]

    stylize_labels = ("content_labels", "style_labels")

    def stylize(self, content, style, *, content_labels=None, style_labels=None):
        assert content_labels is not None and style_labels is not None, "the test passes both"
        value = content_labels.float() / 10 - style_labels.float() / 100
        return value[:, None, None, None].expand_as(content) * self.scale


class FakeSampler(GenerativeModule):
    """Samples only: stylize.py must refuse it and name the models that can stylize."""

    family = "vae"

    def __init__(self, image_shape: tuple[int, int, int]) -> None:
        super().__init__(tuple(image_shape))
        self.bias = torch.nn.Parameter(torch.zeros(()))

    def sample(self, n, labels=None, generator=None):
        return torch.zeros(n, *self.image_shape) + self.bias


def write_checkpoint(model_class: type, path: Path, image_shape=(1, 28, 28)) -> Path:
    model = model_class(image_shape)
    config = {"model": {"_target_": f"{model_class.__module__}.{model_class.__qualname__}", "image_shape": list(image_shape)}}
    torch.save(
        {
            "state_dict": model.state_dict(),
            CHECKPOINT_KEY: {"format_version": CHECKPOINT_FORMAT_VERSION, "family": model.family, "class": model_class.__qualname__, "config": config},
        },
        path,
    )
    return path
