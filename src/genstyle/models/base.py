"""GenerativeModule: the interface callbacks and command-line tools rely on.

Besides the interface, the base holds what every family would otherwise write again: the
eval-mode `sample` template (`evaluating`), and `adversarial_step`, the one optimiser step of
the families trained with manual optimisation (GAN, WGAN-GP, cGAN, CycleGAN, style swap).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pytorch_lightning as pl
import torch
from torch import nn

from genstyle.errors import require
from genstyle.models.components.losses import gradient_norm
from genstyle.modes import evaluating

__all__ = ["CHECKPOINT_FORMAT_VERSION", "CHECKPOINT_KEY", "GenerativeModule", "OptimizerFactory", "evaluating"]

CHECKPOINT_KEY = "genstyle"
CHECKPOINT_FORMAT_VERSION = 1
OptimizerFactory = Callable[..., torch.optim.Optimizer]  # a `_partial_: true` optimizer config


class GenerativeModule(pl.LightningModule):
    """Base of every model family.

    Subclasses implement `draw` (what `sample` returns); translation models add
    `translate(x, direction)` and exemplar models `stylize(content, style)`. Callbacks use only
    these methods, the capability properties below and the attributes set here (`image_shape`,
    `num_classes`, `latent_dim`).
    """

    family: str = "generative"

    def __init__(
        self,
        image_shape: tuple[int, int, int],
        num_classes: int | None = None,
        monitor: str | None = None,
        monitor_mode: str = "min",
    ) -> None:
        super().__init__()
        channels, height, width = image_shape
        require(channels in (1, 3) and height > 0 and width > 0, f"image shape {image_shape} is not (C, H, W) with C in 1, 3.")
        require(monitor_mode in ("min", "max"), f"model.monitor_mode={monitor_mode!r} must be 'min' or 'max'.")
        self.image_shape = (int(channels), int(height), int(width))
        self.num_classes = num_classes
        # The metric that picks the best checkpoint (and early stopping), e.g. val/loss or val/fid.
        self.monitor, self.monitor_mode = monitor, monitor_mode
        # The resolved run config, stored in every checkpoint so it can be rebuilt anywhere.
        self.run_config: dict | None = None

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint[CHECKPOINT_KEY] = {
            "format_version": CHECKPOINT_FORMAT_VERSION,
            "family": self.family,
            "class": f"{type(self).__module__}.{type(self).__qualname__}",
            "config": self.run_config,
        }

    # --- capabilities: what callbacks and commands may ask of a model ---------------------------

    @property
    def is_conditional(self) -> bool:
        return False

    @property
    def can_translate(self) -> bool:
        return callable(getattr(self, "translate", None))

    @property
    def can_stylize(self) -> bool:
        return callable(getattr(self, "stylize", None))

    @property
    def has_encoder(self) -> bool:
        """An encoder with a posterior (`encode(x, labels) -> (mean, logvar)`) and `decode_latent`."""
        return callable(getattr(self, "encode", None)) and callable(getattr(self, "decode_latent", None))

    # --- sampling -------------------------------------------------------------------------------

    def sample(
        self, n: int, labels: torch.Tensor | None = None, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Draw `n` images `(n, C, H, W)` in `[-1, 1]`, in eval mode and without gradients.
        `generator` makes the draw repeatable without touching the global RNG (fixed-noise grids,
        evaluation)."""
        with evaluating(self):
            return self.draw(n, labels, generator)

    def draw(self, n: int, labels: torch.Tensor | None, generator: torch.Generator | None) -> torch.Tensor:
        """What `sample` returns; called in eval mode without gradients."""
        raise NotImplementedError

    def noise(self, n: int, dim: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Standard normal noise `(n, dim)` on this module's device, repeatable with `generator`."""
        z = torch.randn(n, dim, generator=generator)  # drawn on CPU so a CPU generator works everywhere
        return z.to(self.device)

    # --- manual optimisation --------------------------------------------------------------------

    def adversarial_step(
        self,
        player: str,
        optimizer: Any,
        compute_loss: Callable[[], Any],
        parameters: Iterable[nn.Parameter],
    ) -> tuple[Any, torch.Tensor]:
        """One optimiser step of one player (`"g"` or `"d"`): with only `optimizer`'s parameters
        trainable, compute the loss, zero the gradients, backpropagate, measure the gradient norm
        and step. `compute_loss` returns the loss, or a tuple whose first item is the loss (the
        rest is handed back). Returns (what `compute_loss` returned, gradient norm); then
        `after_adversarial_step(player)` runs (e.g. an EMA update after the G step). Anything
        that must happen to the inputs first (e.g. augmentation before D) belongs in
        `compute_loss` or before this call."""
        with self.toggled_optimizer(optimizer):
            out = compute_loss()
            loss = out[0] if isinstance(out, tuple) else out
            optimizer.zero_grad(set_to_none=True)
            self.manual_backward(loss)
            norm = gradient_norm(parameters)
            optimizer.step()
        self.after_adversarial_step(player)
        return out, norm

    def after_adversarial_step(self, player: str) -> None:
        """Hook after each `adversarial_step` (`player` is `"g"` or `"d"`); nothing by default."""


def check_positive(name: str, value: float) -> None:
    require(value is not None and value > 0, f"{name}={value} must be > 0.")


def check_probability(name: str, value: float) -> None:
    require(0.0 <= value < 1.0, f"{name}={value} must be in [0, 1).")
