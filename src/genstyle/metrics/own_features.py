"""A model is never scored, unflagged, in the features it was trained or optimised against.

A metric computed in a model's own loss network grades the model on its own loss: `model=adain`
trains its decoder to match Gram matrices and statistics of the shipped classifier's feature
maps, and the optimisation stylizer minimises them outright, so the style benchmark's Gram
distance, class shares and FID in that classifier flatter them. A model declares the frozen
networks its losses compute features with (`GenerativeModule.loss_feature_networks`: the sha256
of their weights files, which the networks' loaders attach as `weights_sha256`); a command that
scores it asks `check_own_features` with the network it scores in. Refused unless the user allows
it (`metrics.allow_own_features=true`), and then every number carries the flag `own_features`.
"""

from __future__ import annotations

from collections.abc import Iterable

from genstyle.errors import require

ALLOW = "metrics.allow_own_features=true"


def is_own_network(network_sha256: str | None, declared: Iterable[str]) -> bool:
    """Whether the network with weights `network_sha256` is one of a model's `declared` loss networks."""
    return network_sha256 is not None and network_sha256 in set(declared)


def check_own_features(
    scored: str, network: str, network_sha256: str | None, declared: Iterable[str], allow: bool, allow_hint: str = ALLOW
) -> bool:
    """Raise a GenstyleError when `scored` (a row's name) would be measured in `network` (weights
    `network_sha256`), one of its `declared` loss networks, unless `allow`; return whether its
    numbers must be flagged (True: scored in its own loss features, allowed)."""
    own = is_own_network(network_sha256, declared)
    require(
        not own or allow,
        f"Scoring {scored} in the features of {network} (weights sha256 {str(network_sha256)[:12]}), the network its "
        "losses were trained or optimised against: the numbers would grade it on its own loss. Score it in "
        "fmnist-independent (the default of metrics.judge_extractor, a network no model trains against), or pass "
        f"{allow_hint} to compute it anyway, flagged as own_features in the output.",
    )
    return own
