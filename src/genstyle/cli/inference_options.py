"""Inference switches the commands share: which weights and which prior a loaded model samples with.

`use_ema`: null = the generator EMA when the run kept one, else the trained weights; true = the EMA
(an error if the run kept none); false = the trained weights (to compare). `prior` (VAEs): null =
the model's own (`model.prior` of its run); standard = N(0, I); gmm = the fitted mixture.
"""

from __future__ import annotations

from genstyle.errors import require

PRIORS = ("standard", "gmm")


def apply_inference_options(model, use_ema: bool | None = None, prior: str | None = None) -> dict:
    """Set the switches on `model` and return what was used (for the protocol in reports)."""
    used: dict = {}
    has_ema = bool(getattr(model, "has_ema", False))  # the recipe's generator EMA (models/recipe.py)
    require(use_ema in (None, True, False), f"use_ema={use_ema!r} must be true, false or null (the EMA weights when the run kept them).")
    if use_ema is True:
        require(has_ema, "use_ema=true but this checkpoint's run kept no generator EMA (model.recipe.ema.decay was null); drop use_ema or retrain with model.recipe.ema.decay=0.999.")
    if has_ema:
        model.use_ema = use_ema is not False
        used["use_ema"] = model.use_ema
    if prior is not None:
        require(prior in PRIORS, f"prior={prior!r} is not known; choose one of {', '.join(PRIORS)}, or null for the model's own.")
        require(getattr(model, "has_prior_choice", False), f"prior={prior} applies to VAE checkpoints; this is a {getattr(model, 'family', '?')} model, drop prior=.")
        require(prior == "standard" or getattr(model, "gmm", None) is not None,
                "prior=gmm but this VAE was trained with model.prior=standard, so it holds no fitted mixture; retrain with model.prior=gmm.")
        model.prior = prior
    if isinstance(getattr(model, "prior", None), str):  # the VAEs
        used["prior"] = model.prior
    return used
