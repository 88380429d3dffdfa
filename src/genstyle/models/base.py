"""GenerativeModule: the interface callbacks and command-line tools rely on.

Besides the interface, the base holds what every family would otherwise write again: the
eval-mode `sample` template (`evaluating`), and `adversarial_step`, the one optimiser step of
the families trained with manual optimisation (GAN, WGAN-GP, cGAN, CycleGAN, style swap).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterable
from typing import Any

import pytorch_lightning as pl
import torch
from torch import nn

from genstyle import host_sync
from genstyle.errors import require
from genstyle.models.components.losses import gradient_norm
from genstyle.modes import evaluating
from genstyle.style_ops import check_style_count

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
    # The networks `model.compile=true` compiles, each separately (as the training step calls them).
    compiled_networks: tuple[str, ...] = ()

    def __init__(
        self,
        image_shape: tuple[int, int, int],
        num_classes: int | None = None,
        monitor: str | None = None,
        monitor_mode: str = "min",
        compile: bool = False,
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
        require(isinstance(compile, bool), f"model.compile={compile!r} must be true or false.")
        self.use_compile = compile  # `compile` itself is nn.Module's method

    def configure_model(self) -> None:
        # Lightning calls this once the device is known and before the optimizers are built.
        if self.use_compile:
            from genstyle.models.compile import compile_networks

            device = self.trainer.strategy.root_device if self._trainer is not None else self.device
            compile_networks(self, self.compiled_networks, channels_last=device.type == "cuda")

    def log_progress(self, values: dict[str, torch.Tensor]) -> None:
        """Live values for the progress bar, on the CPU only: showing a device tensor there means
        reading it back, which makes the host wait for the device at every step."""
        if host_sync.host_reads_are_free(self.device):
            self.log_dict(values, prog_bar=True, logger=False)

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
    def has_prior_choice(self) -> bool:
        """`sample` can draw its latent codes from more than one prior (the VAEs: `prior` is
        "standard" or "gmm", the mixture fitted to the training codes)."""
        return False

    @property
    def has_encoder(self) -> bool:
        """An encoder with a posterior (`encode(x, labels) -> (mean, logvar)`) and `decode_latent`."""
        return callable(getattr(self, "encode", None)) and callable(getattr(self, "decode_latent", None))

    @property
    def stylize_labels(self) -> tuple[str, ...]:
        """Which class labels `stylize` uses, of "content_labels" and "style_labels" (the families
        that stylize by class); the others take none and refuse them (`check_stylize_inputs`)."""
        return ()

    @property
    def stylize_options(self) -> tuple[str, ...]:
        """Keyword options `stylize` takes besides the labels (none by default)."""
        return ()

    # --- the input checks of stylize and translate ----------------------------------------------
    # stylize(content, style, *, content_labels=None, style_labels=None) -> (B, C, H, W) in [-1, 1]:
    #     the structure of `content` (B images) in the style of `style` (B images, or 1 for all).
    # translate(x, target, **options) -> x's shape in [-1, 1]: `x` translated into the domain
    #     `target` (cyclegan: "a" or "b"; stargan_v2: a class, by index or name).

    def check_images(self, images: torch.Tensor, who: str) -> torch.Tensor:
        """`images` checked to be `(B, C, H, W)` at this model's image shape, finite and in [-1, 1];
        returned as float on this model's device."""
        shape = ", ".join(map(str, self.image_shape))
        require(
            isinstance(images, torch.Tensor) and images.ndim == 4 and tuple(images.shape[1:]) == self.image_shape and len(images) > 0,
            f"{who} must be a (B, {shape}) tensor in [-1, 1] (the image shape this model was trained on), got "
            f"{tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__}; resize and convert the images first.",
        )
        images = images.float()
        # One read-back for both checks: min and max carry any NaN or infinity in the batch.
        low, high = torch.stack(torch.aminmax(images)).tolist()
        require(math.isfinite(low) and math.isfinite(high), f"{who} contains NaN or infinite values.")
        require(low >= -1 - 1e-3 and high <= 1 + 1e-3, f"{who} has values in [{low:.3g}, {high:.3g}]; images go in [-1, 1] (genstyle.pixels.to_model_range).")
        return images.to(self.device)

    def check_stylize_inputs(
        self, content: torch.Tensor, style: torch.Tensor, content_labels: Any = None, style_labels: Any = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The one input check of every `stylize`: both image batches (`check_images`), a style batch
        of 1 or B images (returned expanded to B), and no labels this model does not use."""
        content, style = self.check_images(content, "content"), self.check_images(style, "style")
        check_style_count(len(content), len(style))
        for key, value in (("content_labels", content_labels), ("style_labels", style_labels)):
            require(
                value is None or key in self.stylize_labels,
                f"{key} were given, but this {self.family} model stylizes without {'class labels' if not self.stylize_labels else key}; "
                f"drop {key}" + (f" (it uses {' and '.join(self.stylize_labels)})." if self.stylize_labels else "."),
            )
        return content, style.expand(len(content), -1, -1, -1)

    @property
    def loss_feature_networks(self) -> tuple[str, ...]:
        """The weights sha256 of the frozen networks this model's losses compute features with
        (e.g. the classifier that is adain's encoder); metrics refuse to score the model in those
        features unless asked (genstyle.metrics.own_features). None by default."""
        return ()

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
        """Standard normal noise `(n, dim)` on this module's device, repeatable with `generator`
        (drawn on the generator's device, usually the CPU, then moved). Without a generator it is
        drawn on this module's device from its global RNG: no host-to-device copy in a training step,
        and on a CPU the same numbers as drawing on the CPU."""
        if generator is None:
            return torch.randn(n, dim, device=self.device)
        return torch.randn(n, dim, generator=generator, device=generator.device).to(self.device)

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
        # Compiled networks are not toggled: dynamo can reuse a graph traced while the other
        # player's parameters had another requires_grad (pytorch/pytorch#139476), and the G loss of
        # a compiled DCGAN then had no grad_fn on an H200 (torch 2.11, bf16). Untoggled, the step
        # only computes gradients for the other player's weights too, which its own step zeroes
        # before its backward pass.
        toggle = contextlib.nullcontext() if self.use_compile else self.toggled_optimizer(optimizer)
        with toggle:
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
