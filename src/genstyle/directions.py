"""The translation directions between the two domains of unpaired data (a2b, b2a), named once for
data, models, metrics, callbacks and commands alike. (A "domain" elsewhere, in stargan_v2, is a
class of the data.)"""

from __future__ import annotations

# a2b: domain A (batch key `image`) -> domain B (batch key `image_b`); b2a the other way.
DIRECTIONS = ("a2b", "b2a")
SOURCE_AND_TARGET = {"a2b": ("a", "b"), "b2a": ("b", "a")}  # direction -> (source domain, target domain)
DOMAINS = ("a", "b")  # what a two-domain translator's `translate(x, target)` takes as `target`


def target_domain(direction: str) -> str:
    """The domain a direction translates into: `target_domain("a2b") == "b"`."""
    return SOURCE_AND_TARGET[direction][1]
