"""The training recipe options every adversarial family shares: generator EMA, DiffAugment on
the discriminator's inputs, lazy R1 on real images and spectral normalisation of the
discriminators. They are one config node, `model.recipe` (`Recipe`; presets in conf/recipe/),
handed to the family's constructor as `recipe=`. A family mixes `AdversarialRecipe` in, calls
`init_recipe` in `__init__`, and in its training step passes every image D sees through
`augment` and adds `r1_loss` to D's loss (inside the `compute_loss` it hands to
`GenerativeModule.adversarial_step`); the EMA follows each G step through the
`after_adversarial_step` hook (or an explicit `update_ema()`); inference (`sample`, `translate`,
`stylize`) uses `inference_network(name)`. With every option off (the configs' `null`/`false`/0)
a family trains exactly as without the mixin: no extra random draws, no extra state.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from genstyle.errors import require
from genstyle.models.components.augment import DiffAugment, parse_policy
from genstyle.models.components.ema import ExponentialMovingAverage
from genstyle.models.components.losses import r1_penalty
from genstyle.models.components.spectral_norm import apply_spectral_norm


def parse_ema(ema) -> tuple[float | None, int]:
    """`null` / `0` / `{decay: null}` -> off; a number or `{decay: d, start_step: s}` -> (d, s)."""
    if ema is None:
        return None, 0
    if isinstance(ema, (int, float)):
        decay, start_step = ema, 0
    else:
        require(isinstance(ema, Mapping), f"model.recipe.ema={ema!r} must be null, a decay, or {{decay: ..., start_step: ...}}.")
        unknown = set(ema) - {"decay", "start_step"}
        require(not unknown, f"model.recipe.ema has unknown key(s) {', '.join(sorted(unknown))}; it takes decay and start_step.")
        decay = ema.get("decay")
        start_step = 0 if ema.get("start_step") is None else ema.get("start_step")
    require(isinstance(start_step, int) and start_step >= 0, f"model.recipe.ema.start_step={start_step} must be an integer >= 0.")
    if not decay:
        return None, 0
    require(0.0 < decay < 1.0, f"model.recipe.ema.decay={decay} must be in (0, 1) (e.g. 0.999), or null/0 for no EMA.")
    return float(decay), start_step


def parse_r1(r1) -> tuple[float, int]:
    """`null` / `{gamma: 0}` -> off; `{gamma: g, every: k}` -> (g, k)."""
    if r1 is None:
        return 0.0, 1
    require(isinstance(r1, Mapping), f"model.recipe.r1={r1!r} must be null or {{gamma: ..., every: ...}}.")
    unknown = set(r1) - {"gamma", "every"}
    require(not unknown, f"model.recipe.r1 has unknown key(s) {', '.join(sorted(unknown))}; it takes gamma and every.")
    gamma = 0.0 if r1.get("gamma") is None else r1.get("gamma")
    every = 1 if r1.get("every") is None else r1.get("every")
    require(gamma >= 0, f"model.recipe.r1.gamma={gamma} must be >= 0 (0 = off).")
    require(isinstance(every, int) and every >= 1, f"model.recipe.r1.every={every} must be an integer >= 1 (lazy R1: every k-th D step).")
    return float(gamma), every


@dataclass(frozen=True)
class Recipe:
    """The `model.recipe` node: `ema` (null, a decay, or {decay, start_step}), `augment` (null or
    DiffAugment ops), `r1` (null or {gamma, every}), `spectral_norm` (true/false). Checked when
    built, so a wrong value fails before any network trains. Everything off by default."""

    ema: float | Mapping[str, Any] | None = None
    augment: str | Sequence[str] | None = None
    r1: Mapping[str, Any] | None = None
    spectral_norm: bool = False

    def __post_init__(self) -> None:
        parse_ema(self.ema)
        parse_policy(self.augment)
        parse_r1(self.r1)
        require(isinstance(self.spectral_norm, bool), f"model.recipe.spectral_norm={self.spectral_norm!r} must be true or false.")

    @classmethod
    def of(cls, recipe: Recipe | Mapping[str, Any] | None) -> Recipe:
        """A `Recipe` from what a constructor was given: one already built (by Hydra from the
        config's `_target_`), the node's keys as a mapping, or None (everything off)."""
        if recipe is None:
            return cls()
        if isinstance(recipe, Recipe):
            return recipe
        require(isinstance(recipe, Mapping), f"model.recipe={recipe!r} must be a node with ema, augment, r1 and spectral_norm.")
        unknown = sorted(set(recipe) - {"_target_", "ema", "augment", "r1", "spectral_norm"})
        require(not unknown, f"model.recipe has unknown key(s) {', '.join(map(str, unknown))}; it takes ema, augment, r1 and spectral_norm.")
        return cls(**{k: v for k, v in recipe.items() if k != "_target_"})

    @property
    def r1_on(self) -> bool:
        return parse_r1(self.r1)[0] > 0


class AdversarialRecipe:
    """Mixin for adversarial `GenerativeModule`s (manual optimisation)."""

    def init_recipe(
        self,
        generators: Mapping[str, nn.Module],
        discriminators: Iterable[nn.Module],
        recipe: Recipe | Mapping[str, Any] | None = None,
    ) -> None:
        """`generators`: attribute name -> network used at inference (generator, and any
        encoder/mapping network), each averaged when EMA is on. `discriminators`: the networks
        spectral norm wraps. `recipe`: the `model.recipe` node. Call after the networks are
        attributes and before optimizers exist."""
        recipe = Recipe.of(recipe)
        self.recipe = recipe
        self.spectral_norm = recipe.spectral_norm
        if recipe.spectral_norm:
            for network in discriminators:
                apply_spectral_norm(network)
        self.augment = DiffAugment(recipe.augment)
        self.r1_gamma, self.r1_every = parse_r1(recipe.r1)
        if self.r1_gamma > 0:
            # D steps taken, for the lazy schedule; a buffer, so a resumed run keeps the rhythm.
            self.register_buffer("d_steps", torch.zeros((), dtype=torch.long))
        decay, self.ema_start_step = parse_ema(recipe.ema)
        self.ema_decay = decay
        self.ema = None
        if decay is not None:
            self.ema = nn.ModuleDict({name: ExponentialMovingAverage(network, decay) for name, network in generators.items()})
            self.register_buffer("ema_updates", torch.zeros((), dtype=torch.long))
        # Inference switch (sample / translate / stylize): the CLIs set it from use_ema=.
        self.use_ema = True

    # --- EMA ---------------------------------------------------------------------------------

    @property
    def has_ema(self) -> bool:
        return self.ema is not None

    def inference_network(self, name: str) -> nn.Module:
        """The network `name` to use at inference: its EMA copy when the run kept one and
        `use_ema` is on, the trained network otherwise."""
        if self.ema is not None and self.use_ema:
            return self.ema[name].network
        return getattr(self, name)

    def after_adversarial_step(self, player: str) -> None:
        if player == "g":
            self.update_ema()

    @torch.no_grad()
    def update_ema(self) -> None:
        """After each G step. Until `start_step` updates the average restarts from the current
        weights (AveragedModel copies on its first update), so the early, fast-changing weights
        do not linger in it."""
        if self.ema is None:
            return
        warming_up = int(self.ema_updates) < self.ema_start_step
        for name, average in self.ema.items():
            if warming_up:
                average.averaged.n_averaged.zero_()
            average.update(getattr(self, name))
        self.ema_updates += 1

    # --- discriminator regularisers ----------------------------------------------------------

    def r1_due(self) -> bool:
        """Whether this D step adds the R1 penalty (every `r1.every`-th D step); counts the step."""
        if self.r1_gamma == 0:
            return False
        due = int(self.d_steps) % self.r1_every == 0
        self.d_steps += 1
        return due

    def r1_term(self, real_logits: torch.Tensor, real_images: torch.Tensor) -> torch.Tensor:
        """gamma / 2 * E||grad_x D(x)||^2, times `every` so the lazy penalty keeps its average
        weight (StyleGAN2's lazy regularisation). `real_images` had requires_grad set before
        `augment` and D, so the gradient runs through the augmentation back to the image."""
        return 0.5 * self.r1_gamma * self.r1_every * r1_penalty(real_logits, real_images)

    def r1_loss(self, real_logits: torch.Tensor, real_images: torch.Tensor, due: bool) -> torch.Tensor:
        """The R1 term on a due step, a zero otherwise. Logged on every step (as train/r1) so the
        epoch mean is the penalty's average weight in D's loss, and a resumed run logs exactly
        the same keys in the same order as an uninterrupted one."""
        return self.r1_term(real_logits, real_images) if due else real_logits.new_zeros(()).float()

    def add_r1(self, d_loss: torch.Tensor, due: bool, batch_size: int, *pairs: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        """`d_loss` plus the lazy R1 term summed over (real logits, real images) pairs (one per
        discriminator), logged as train/r1 on every step; `d_loss` itself when R1 is off."""
        if self.r1_gamma <= 0:
            return d_loss
        r1 = sum(self.r1_loss(logits, images, due) for logits, images in pairs)
        self.log("train/r1", r1.detach(), on_step=True, on_epoch=True, batch_size=batch_size)
        return d_loss + r1

    @staticmethod
    def r1_input(real: torch.Tensor, due: bool) -> torch.Tensor:
        """Real images ready for R1 when `due` (a leaf that requires grad), unchanged otherwise."""
        return real.detach().requires_grad_(True) if due else real
