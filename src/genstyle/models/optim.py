"""Checks on optimizer factories (`_partial_: true` configs) before any work starts."""

from __future__ import annotations

from genstyle.errors import require


def check_optimizer(key: str, factory) -> None:
    """Fail with the config key when a learning rate or weight decay is out of range."""
    keywords = getattr(factory, "keywords", {}) or {}
    lr = keywords.get("lr")
    if lr is not None:
        require(isinstance(lr, (int, float)) and lr > 0, f"{key}.lr={lr} must be a positive number (e.g. 2e-4).")
    wd = keywords.get("weight_decay")
    if wd is not None:
        require(isinstance(wd, (int, float)) and wd >= 0, f"{key}.weight_decay={wd} must be >= 0.")
    betas = keywords.get("betas")
    if betas is not None:
        require(
            len(betas) == 2 and all(0.0 <= b < 1.0 for b in betas),
            f"{key}.betas={list(betas)} must be two numbers in [0, 1).",
        )
