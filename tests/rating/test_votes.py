"""A votes file is validated before it is counted: a duplicated vote, a vote for a pair the page
does not have, or a malformed vote is refused with the vote's number and the field that is wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from genstyle.errors import GenstyleError
from genstyle.rating.votes import read_votes
from tests.rating.test_score import always_a, votes_file


def edited(tmp_path: Path, change) -> Path:
    path = votes_file(tmp_path / "v.json", always_a, n=6)
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))
    return path




@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d["votes"].append(dict(d["votes"][0])), r"vote 7 of 7: pair 0 is voted on twice"),
    (lambda d: d["votes"][2].update(pair=99), r"vote 3 of 6: field \"pair\" is 99, which is not a pair of this page \(6 pairs\)"),
    (lambda d: d["votes"][1].update(choice="maybe"), r"vote 2 of 6: field \"choice\" is 'maybe', expected one of left, right, tie"),
    (lambda d: d["votes"][0].pop("left"), r"vote 1 of 6: field \"left\" is missing"),
    (lambda d: d["votes"][4].update(left="nobody"), r"vote 5 of 6: field \"left\" is 'nobody', which is not an image id"),
    (lambda d: d["votes"][3].update(left=d["votes"][3]["right"], right=d["votes"][3]["left"]), r"vote 4 of 6: pair 3 shows .* but the vote names"),
])
def test_bad_votes_are_refused_by_number_and_field(tmp_path, change, message):
    with pytest.raises(GenstyleError, match=message):
        read_votes(edited(tmp_path, change))


def test_a_valid_file_counts_every_vote_once(tmp_path):
    votes = read_votes(edited(tmp_path, lambda d: None))
    assert len(votes.votes) == 6 and votes.pairs_total == 6
