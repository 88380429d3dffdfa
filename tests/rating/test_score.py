"""Scoring votes files: win rates, Wilson intervals and binomial tests from synthetic raters."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from genstyle.errors import GenstyleError
from genstyle.metrics.binomial import p_two_sided, wilson_interval
from genstyle.rating.plan import make_entities, plan_pairs
from genstyle.rating.score import compare, format_table, per_entity
from genstyle.rating.votes import VOTES_FORMAT, VOTES_VERSION, read_votes


def votes_file(path: Path, pick, runs=("runs/A", "runs/B"), real=None, n=40, seed=0, rater="r1") -> Path:
    """A votes file as a page would save it, from a rater `pick(left_label, right_label) -> choice`."""
    entities = make_entities([(r, f"/abs/{r}") for r in runs], real, seed)
    label = {e.hidden_id: e.label for e in entities}  # the rater sees labels; scoring keys on sources
    pairs = plan_pairs(entities, n, seed)
    votes = [{"pair": p.index, "item": p.item, "left": p.left, "right": p.right, "choice": pick(label[p.left], label[p.right])}
             for p in pairs]
    doc = {"format": VOTES_FORMAT, "version": VOTES_VERSION, "page_id": f"page{seed}", "seed": seed, "rater": rater,
           "task": "realness" if real else "preference", "pairs": [p.as_dict() for p in pairs], "votes": votes,
           "entities": {e.hidden_id: {"label": e.label, "source": e.source, "kind": e.kind} for e in entities}}
    path.write_text(json.dumps(doc))
    return path


def always_a(left: str, right: str) -> str:
    return "left" if left == "runs/A" else "right"


def test_the_plan_is_balanced_and_blind() -> None:
    entities = make_entities([("runs/A", "/a"), ("runs/B", "/b")], None, seed=7)
    pairs = plan_pairs(entities, 100, seed=7)
    a = next(e.hidden_id for e in entities if e.label == "runs/A")
    assert all("runs" not in e.hidden_id for e in entities)
    assert 35 <= sum(p.left == a for p in pairs) <= 65  # sides are random, not A always left
    assert sorted(p.item for p in pairs) == list(range(100))
    assert plan_pairs(entities, 100, seed=7) == pairs and plan_pairs(entities, 100, seed=8) != pairs


def test_a_rater_who_always_picks_a(tmp_path: Path) -> None:
    [c] = compare([read_votes(votes_file(tmp_path / "v.json", always_a))])
    assert (c.first_label, c.second_label, c.first, c.wins, c.losses, c.ties) == ("runs/A", "runs/B", "/abs/runs/A", 40, 0, 0)
    assert c.win_rate == 1.0 and c.ci95 == wilson_interval(40, 40) and c.ci95[0] == pytest.approx(0.9124, abs=1e-4)
    assert c.p_value == pytest.approx(2 * 0.5**40)
    mine = per_entity([c])
    assert mine["/abs/runs/B"][0].win_rate == 0.0 and mine["/abs/runs/B"][0].second_label == "runs/A"


def test_raters_merge_and_ties_are_left_out(tmp_path: Path) -> None:
    """Bob says "can't tell" on every 4th pair and picks B on the next: ties are counted, shown,
    and left out of the win rate, its interval and its p-value (as the table's `test` says)."""
    count = iter(range(1000))

    def bob(left: str, right: str) -> str:
        turn = next(count) % 4
        return "tie" if turn == 0 else ("right" if left == "runs/A" else "left") if turn == 1 else always_a(left, right)

    files = [read_votes(votes_file(tmp_path / "a.json", always_a, rater="alice")),
             read_votes(votes_file(tmp_path / "b.json", bob, rater="bob"))]
    [c] = compare(files)
    assert (c.wins, c.losses, c.ties, len(c.raters)) == (60, 10, 10, 2)
    assert c.win_rate == pytest.approx(60 / 70)  # not 60 / 80 (ties as losses), not 65 / 80 (ties as half wins)
    assert c.ci95 == pytest.approx(wilson_interval(60, 70)) and c.p_value == pytest.approx(p_two_sided(60, 70))
    record = c.as_dict()
    assert (record["votes"], record["ties"], record["win_rate"]) == (80, 10, pytest.approx(60 / 70))
    assert "ties excluded" in record["test"]
    row = format_table([c]).splitlines()[2].split()
    assert row[3:9] == ["0.857", f"{c.ci95[0]:.3f}-{c.ci95[1]:.3f}", "60", "10", "10", f"{c.p_value:.3g}"], row


def test_real_or_generated_reports_the_fooling_rate(tmp_path: Path) -> None:
    # A rater who picks the real image 3 times out of 4.
    count = iter(range(1000))
    pick = lambda left, right: ("left" if left.startswith("real:") else "right") if next(count) % 4 else ("right" if left.startswith("real:") else "left")  # noqa: E731
    [c] = compare([read_votes(votes_file(tmp_path / "r.json", pick, runs=("runs/A",), real="fashion_mnist:test"))])
    assert (c.first_label, c.second_label, c.wins, c.losses) == ("runs/A", "real:fashion_mnist:test", 10, 30)
    assert c.task == "realness" and c.win_rate == 0.25


def test_same_rater_twice_and_foreign_files_are_refused(tmp_path: Path) -> None:
    f = read_votes(votes_file(tmp_path / "v.json", always_a))
    with pytest.raises(GenstyleError, match="same rater on the same page"):
        compare([f, f])
    (tmp_path / "other.json").write_text(json.dumps({"metrics": {"val/fid": 3.0}}))
    with pytest.raises(GenstyleError, match="not a genstyle votes file"):
        read_votes(tmp_path / "other.json")
    (tmp_path / "text.json").write_text("not json")
    with pytest.raises(GenstyleError, match="not JSON"):
        read_votes(tmp_path / "text.json")
