"""Which images are shown side by side: hidden ids, matchups, left/right sides, all from one seed.

An entity is one source of images (a run, or the real data set). Its identity never reaches the
page's visible content: the page shows a hidden id's images only, and the key from hidden id to
entity travels inside the page, encoded, so the saved votes can un-blind themselves.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import asdict, dataclass

from genstyle.errors import require

TASKS = {
    "preference": "Which image looks better?",
    "realness": "Which image is the real photograph of clothing (the other was generated)?",
    "style": "Which result better carries the style image onto the content image?",
}


@dataclass(frozen=True)
class Entity:
    hidden_id: str
    label: str  # what the scores call it: the run folder's name, or real:<dataset>:<split>
    source: str  # the run folder (resolved) or the real data spec
    kind: str  # "run" | "real"


@dataclass(frozen=True)
class Pair:
    index: int
    left: str  # hidden ids
    right: str
    item: int  # image index within each side's list (and the content/style pair for style tasks)

    def as_dict(self) -> dict:
        return asdict(self)


def hidden_ids(count: int, rng: random.Random) -> list[str]:
    """Distinct opaque ids like `h3f9a1c`, in an order unrelated to the entities' order."""
    ids: list[str] = []
    while len(ids) < count:
        candidate = f"h{rng.getrandbits(24):06x}"
        if candidate not in ids:
            ids.append(candidate)
    return ids


def make_entities(runs: list[tuple[str, str]], real: str | None, seed: int) -> list[Entity]:
    """`runs` as (label, source); `real` a data spec or None."""
    rng = random.Random(f"genstyle-rating-ids-{seed}")
    members = [(label, source, "run") for label, source in runs]
    if real is not None:
        members.append((f"real:{real}", real, "real"))
    ids = hidden_ids(len(members), rng)
    return [Entity(hid, label, source, kind) for hid, (label, source, kind) in zip(ids, members, strict=True)]


def matchups(entities: list[Entity]) -> list[tuple[Entity, Entity]]:
    """Every run against every other run, or, when real images are in, every run against real."""
    real = [e for e in entities if e.kind == "real"]
    runs = [e for e in entities if e.kind == "run"]
    if real:
        return [(run, real[0]) for run in runs]
    return list(itertools.combinations(runs, 2))


def plan_pairs(entities: list[Entity], n: int, seed: int) -> list[Pair]:
    """`n` pairs cycling through the matchups, shown in a shuffled order with a coin flip for
    which entity goes left. Pair k shows image k of both sides (the same content/style pair in
    style tasks)."""
    require(n > 0, f"n={n} must be a positive number of pairs.")
    games = matchups(entities)
    require(games, "Nothing to compare: give two or more runs, or one run and real=<dataset>:<split>.")
    rng = random.Random(f"genstyle-rating-pairs-{seed}")
    pairs = []
    for k in range(n):
        a, b = games[k % len(games)]
        left, right = (a, b) if rng.random() < 0.5 else (b, a)
        pairs.append((left.hidden_id, right.hidden_id, k))
    rng.shuffle(pairs)
    return [Pair(i, left, right, item) for i, (left, right, item) in enumerate(pairs)]
