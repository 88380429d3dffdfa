"""Merge the votes of several raters and turn them into win rates with their uncertainty.

For each pair of entities, a "can't tell" vote counts as a tie and is left out of the win rate
(it is reported beside it). Votes are treated as independent Bernoulli trials: the Wilson
interval bounds the win rate, and the exact two-sided binomial test asks whether it differs
from 1/2. In a real-or-generated page the run "wins" when a rater takes its image for the real
one, so its win rate is the share of raters fooled (0.5 = indistinguishable from real).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from genstyle.errors import GenstyleError
from genstyle.metrics.binomial import p_two_sided, wilson_interval
from genstyle.rating.votes import VotesFile


@dataclass
class Comparison:
    task: str
    first: str  # the entity whose win rate is reported (the run, in a real-or-generated task): its source
    second: str
    first_label: str
    second_label: str
    wins: int = 0
    losses: int = 0
    ties: int = 0
    raters: set[str] = field(default_factory=set)

    @property
    def decided(self) -> int:
        return self.wins + self.losses

    @property
    def win_rate(self) -> float:
        return self.wins / self.decided if self.decided else math.nan

    @property
    def ci95(self) -> tuple[float, float]:
        return wilson_interval(self.wins, self.decided)

    @property
    def p_value(self) -> float:
        return p_two_sided(self.wins, self.decided)

    def as_dict(self) -> dict:
        return {
            "task": self.task, "opponent": self.second_label, "opponent_source": self.second, "wins": self.wins, "losses": self.losses, "ties": self.ties,
            "votes": self.decided + self.ties, "win_rate": self.win_rate, "ci95": list(self.ci95), "p_value": self.p_value,
            "raters": len(self.raters), "test": "Wilson 95% interval; exact two-sided binomial test against 0.5; ties excluded",
        }

    def flipped(self) -> Comparison:
        return Comparison(self.task, self.second, self.first, self.second_label, self.first_label, self.losses, self.wins,
                          self.ties, set(self.raters))


def check_distinct(files: list[VotesFile]) -> None:
    """The same rater's votes on the same page given twice would count twice."""
    seen: dict[tuple[str, str], str] = {}
    for f in files:
        key = (f.page_id, f.rater)
        if key in seen:
            raise GenstyleError(
                f"{f.path} and {seen[key]} hold the votes of the same rater on the same page (page {f.page_id[:12]}, rater "
                f"{f.rater}); counting both would count those votes twice. Give each rater's file once."
            )
        seen[key] = str(f.path)


def compare(files: list[VotesFile]) -> list[Comparison]:
    """One Comparison per (task, pair of entities), in the order the entities first appear."""
    check_distinct(files)
    order: dict[str, int] = {}
    kinds: dict[str, str] = {}
    labels: dict[str, str] = {}
    for f in files:
        for entity in sorted(f.entities.values(), key=lambda e: e.get("order", 0)):  # the runs' order on the command line
            source = str(entity.get("source"))
            order.setdefault(source, len(order))
            kinds[source] = str(entity.get("kind", "run"))
            labels.setdefault(source, str(entity.get("label", source)))
    rank = lambda source: (kinds.get(source) == "real", order.get(source, 0))  # noqa: E731  runs first, real last
    table: dict[tuple[str, str, str], Comparison] = {}
    for f in files:
        for vote in f.votes:
            first, second = sorted((vote.left, vote.right), key=rank)
            entry = table.setdefault((f.task, first, second), Comparison(f.task, first, second, labels[first], labels[second]))
            entry.raters.add(f"{f.page_id}:{f.rater}")
            if vote.winner is None:
                entry.ties += 1
            elif vote.winner == first:
                entry.wins += 1
            else:
                entry.losses += 1
    return sorted(table.values(), key=lambda c: (c.task, rank(c.first), rank(c.second)))


def per_entity(comparisons: list[Comparison]) -> dict[str, list[Comparison]]:
    """Each entity's comparisons from its own side (its wins first), keyed by its source."""
    out: dict[str, list[Comparison]] = {}
    for c in comparisons:
        out.setdefault(c.first, []).append(c)
        out.setdefault(c.second, []).append(c.flipped())
    return out


def format_table(comparisons: list[Comparison]) -> str:
    w = max([len("run")] + [len(label) for c in comparisons for label in (c.first_label, c.second_label)]) + 2
    lines = [f"{'task':<11}{'run':<{w}}{'vs':<{w}}{'win rate':>9}  {'95% CI':<13}{'wins':>5}{'losses':>7}{'ties':>5}{'p':>10}  raters"]
    lines.append("-" * len(lines[0]))
    for c in comparisons:
        low, high = c.ci95
        rate = f"{c.win_rate:.3f}" if c.decided else "n/a"
        lines.append(f"{c.task:<11}{c.first_label:<{w}}{c.second_label:<{w}}{rate:>9}  {low:.3f}-{high:.3f}  {c.wins:>5}{c.losses:>7}{c.ties:>5}"
                     f"{c.p_value:>10.3g}  {len(c.raters)}")
    return "\n".join(lines)
