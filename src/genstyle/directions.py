"""The two domains of unpaired data and the translation directions between them, named once for
data, models, metrics, callbacks and commands alike."""

from __future__ import annotations

# a2b: domain A (batch key `image`) -> domain B (batch key `image_b`); b2a the other way.
DIRECTIONS = ("a2b", "b2a")
SOURCE_AND_TARGET = {"a2b": ("a", "b"), "b2a": ("b", "a")}  # direction -> (source domain, target domain)
