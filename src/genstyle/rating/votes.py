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

from genstyle.errors import GenstyleError, file_problem

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


def vote_problem(vote: object, entities: dict, pairs: dict) -> str | None:
    """What is wrong with one vote, naming the field; None when it is a vote on a pair of the page."""
    if not isinstance(vote, dict):
        return f"not an object but {type(vote).__name__}"
    for field in ("pair", "choice", "left", "right"):
        if field not in vote:
            return f"field \"{field}\" is missing"
    if vote["choice"] not in CHOICES:
        return f"field \"choice\" is {vote['choice']!r}, expected one of {', '.join(CHOICES)}"
    for side in ("left", "right"):
        if vote[side] not in entities:
            return f"field \"{side}\" is {vote[side]!r}, which is not an image id of this page"
    pair = pairs.get(vote["pair"])
    if pair is None:
        return f"field \"pair\" is {vote['pair']!r}, which is not a pair of this page ({len(pairs)} pairs)"
    if (pair.get("left"), pair.get("right")) != (vote["left"], vote["right"]):
        return f"pair {vote['pair']} shows {pair.get('left')} | {pair.get('right')}, but the vote names {vote['left']} | {vote['right']}"
    return None


def read_votes(path: str | Path) -> VotesFile:
    path = Path(path).expanduser()
    problem = file_problem(path, "votes file")
    if problem:
        raise GenstyleError(f"score={path}{problem}. Give the votes.json saved by a rating page (the file, not its folder).")
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
    pairs = {p.get("index"): p for p in data["pairs"] if isinstance(p, dict)}
    parsed, voted = [], set()
    for number, vote in enumerate(votes, 1):
        problem = vote_problem(vote, entities, pairs)
        if problem is None and vote["pair"] in voted:
            problem = f"pair {vote['pair']} is voted on twice; a page saves one vote per pair"
        if problem is not None:
            raise _not_votes(path, f"vote {number} of {len(votes)}: {problem}")
        voted.add(vote["pair"])
        winner = {"left": vote["left"], "right": vote["right"], "tie": None}[vote["choice"]]
        source = lambda hid: str(entities[hid].get("source", hid))  # noqa: E731
        parsed.append(Vote(None if winner is None else source(winner), source(vote["left"]), source(vote["right"])))
    return VotesFile(path, str(data.get("page_id", "")), str(data.get("rater", "")), str(data.get("task", "preference")),
                     int(data.get("seed", 0)), entities, parsed, len(data["pairs"]))
