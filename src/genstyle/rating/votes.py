"""The votes file a rating page saves, and reading it back with checks.

    {"format": "genstyle-votes", "version": 1, "page_id": ..., "seed": ..., "task": ...,
     "rater": <random id kept by the browser>, "saved_at": <ISO time>,
     "entities": {hidden id: {"label", "source", "kind"}},     # the un-blinding key
     "pairs": [{"index", "left", "right", "item"}],
     "votes": [{"pair", "choice": "left" | "right" | "tie", "left", "right", "winner": id | null, "at"}]}
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from genstyle.errors import GenstyleError

VOTES_FORMAT = "genstyle-votes"
VOTES_VERSION = 1
CHOICES = ("left", "right", "tie")


@dataclass
class Vote:
    winner: str | None  # entity identity (its source: run folder or real data spec), None for "can't tell"
    left: str
    right: str


@dataclass
class VotesFile:
    path: Path
    page_id: str
    rater: str
    task: str
    seed: int
    entities: dict[str, dict]
    votes: list[Vote]
    pairs_total: int


def _not_votes(path: Path, why: str) -> GenstyleError:
    return GenstyleError(
        f"score={path} is not a genstyle votes file ({why}). Give the votes.json saved by the \"Save votes\" "
        "button of a page written by `python rate.py runs=[...]`."
    )


def read_votes(path: str | Path) -> VotesFile:
    path = Path(path).expanduser()
    if not path.is_file():
        raise GenstyleError(f"score={path}: no such file. Give the votes.json saved by a rating page.")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise _not_votes(path, f"not JSON: {err}") from None
    if not isinstance(data, dict) or data.get("format") != VOTES_FORMAT:
        raise _not_votes(path, f"no \"format\": \"{VOTES_FORMAT}\" entry")
    if data.get("version") != VOTES_VERSION:
        raise GenstyleError(f"score={path} is a votes file of version {data.get('version')!r}; this genstyle reads version {VOTES_VERSION}. Score it with the genstyle that wrote the page.")
    entities, votes = data.get("entities"), data.get("votes")
    if not isinstance(entities, dict) or not isinstance(votes, list) or not isinstance(data.get("pairs"), list):
        raise _not_votes(path, "its entities, pairs or votes are missing")
    parsed = []
    for vote in votes:
        ok = isinstance(vote, dict) and vote.get("choice") in CHOICES and vote.get("left") in entities and vote.get("right") in entities
        if not ok:
            raise _not_votes(path, f"a vote is malformed: {json.dumps(vote)[:120]}")
        winner = {"left": vote["left"], "right": vote["right"], "tie": None}[vote["choice"]]
        source = lambda hid: str(entities[hid].get("source", hid))  # noqa: E731
        parsed.append(Vote(None if winner is None else source(winner), source(vote["left"]), source(vote["right"])))
    return VotesFile(path, str(data.get("page_id", "")), str(data.get("rater", "")), str(data.get("task", "preference")),
                     int(data.get("seed", 0)), entities, parsed, len(data["pairs"]))
