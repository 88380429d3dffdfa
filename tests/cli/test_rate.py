"""rate.py end to end: pages from checkpoints a test trains, driven by a scripted rater in a real
headless Chromium, scored back into the runs' eval.json; and its answers to bad input."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest

from genstyle.cli.rate import make_page, rate
from genstyle.errors import GenstyleError
from tests.browser import webdriver
from tests.helpers.forked_cli import run_cli_forked as run_cli
from tests.helpers.runs import trained_run
from tests.rating.config import rate_cfg


@pytest.fixture(scope="module")
def runs(tmp_path_factory, fmnist_root) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("rated_runs")
    return {model: trained_run(base, fmnist_root, model) for model in ("vae", "dcgan")}


def page_data(page: Path) -> dict:
    match = re.search(r'<script id="rating-data" type="application/json">(.*?)</script>', page.read_text(), re.S)
    return json.loads(match.group(1))


def key_of(data: dict) -> dict[str, dict]:
    return json.loads(base64.b64decode(data["key"]))


def test_page_is_self_contained_and_blind(runs, tmp_path: Path, fmnist_root: Path) -> None:
    out = tmp_path / "rating.html"
    result = run_cli("rate.py", f"runs=[{runs['vae']},{runs['dcgan']}]", "n=10", "seed=4", f"out={out}")
    assert result.returncode == 0, result.stderr
    assert "Wrote" in result.stdout and "python rate.py score=votes.json" in result.stdout
    text = out.read_text()
    assert "http" not in text.replace("http-equiv", "") and not re.search(r'src="(?!data:)', text)
    assert str(runs["vae"]) not in text and "dcgan" not in text  # identities only inside the encoded key
    data = page_data(out)
    assert len(data["pairs"]) == 10 and data["task"] == "preference" and data["seed"] == 4
    assert {v["label"] for v in key_of(data).values()} == {"trained_vae", "trained_dcgan"}
    real = make_page(rate_cfg(tmp_path, fmnist_root, runs=[str(runs["vae"])], real="fashion_mnist:test", n=6,
                              out=str(tmp_path / "real.html")))
    real_data = page_data(real)
    assert real_data["task"] == "realness" and {v["kind"] for v in key_of(real_data).values()} == {"run", "real"}
    # the same seed gives the same page
    again = make_page(rate_cfg(tmp_path, fmnist_root, runs=[str(runs["vae"]), str(runs["dcgan"])], n=10, seed=4,
                               out=str(tmp_path / "again.html")))
    assert page_data(again) == data


def test_a_scripted_rater_in_chromium(runs, tmp_path: Path, fmnist_root: Path) -> None:
    n = 12
    out = make_page(rate_cfg(tmp_path, fmnist_root, runs=[str(runs["vae"]), str(runs["dcgan"])], n=n, out=str(tmp_path / "rating.html")))
    data = page_data(out)
    key = key_of(data)
    favourite = "trained_vae"
    driver = webdriver(tmp_path)
    try:
        driver.get(out.resolve().as_uri())
        js = "return window.genstyleRating.progress()"

        favourite_id = next(hidden for hidden, entity in key.items() if entity["label"] == favourite)

        def pick_favourite(use_keys: bool) -> None:
            # The rater picks by the image shown, as a person would; each side must show its own
            # entity's image of this pair's item (the hidden id map says which is which).
            pair = data["pairs"][driver.execute_script(js)["current"]]
            item = str(pair["item"])
            shown = {side: driver.find_element("id", side).get_attribute("src") for side in ("left", "right")}
            assert shown == {side: data["images"][pair[side]][item] for side in ("left", "right")}, pair
            side = "left" if shown["left"] == data["images"][favourite_id][item] else "right"
            assert shown[side] != shown["right" if side == "left" else "left"]
            if use_keys:
                driver.find_element("tag name", "body").send_keys("\ue012" if side == "left" else "\ue014")  # arrow keys
            else:
                driver.find_element("id", f"vote-{side}").click()

        driver.find_element("id", "vote-tie").click()  # can't tell ...
        driver.find_element("id", "back").click()  # ... then back, and revise
        assert driver.execute_script(js) == {"voted": 1, "total": n, "current": 0}
        for i in range(n // 2):
            pick_favourite(use_keys=i % 2 == 1)
        driver.refresh()  # votes survive a reload, and the page resumes at the first open pair
        assert driver.execute_script(js) == {"voted": n // 2, "total": n, "current": n // 2}
        for i in range(n - n // 2):
            pick_favourite(use_keys=i % 2 == 0)
        assert driver.find_element("id", "done").is_displayed()
        assert driver.find_element("id", "progress").text == f"{n} of {n} rated"
        votes = driver.execute_script("return window.genstyleRating.votes()")
        stored = json.loads(driver.execute_script(f"return localStorage.getItem('genstyle-votes-{data['page_id']}')"))
        driver.find_element("id", "save").click()
        errors = [entry for entry in driver.get_log("browser") if entry["level"] in ("SEVERE", "WARNING")]
    finally:
        driver.quit()
    assert errors == []
    assert len(stored) == n and votes["complete"] and votes["page_id"] == data["page_id"] and votes["seed"] == 0
    assert votes["entities"] == key  # un-blinded: each hidden id names its run
    assert all(votes["entities"][v["winner"]]["label"] == favourite for v in votes["votes"])
    assert sorted(v["pair"] for v in votes["votes"]) == list(range(n))
    saved = tmp_path / "votes.json"
    saved.write_text(json.dumps(votes))
    result = run_cli("rate.py", f"score={saved}")
    assert result.returncode == 0, result.stderr
    assert re.search(rf"{favourite}\s+trained_dcgan\s+1\.000\s+0\.7\d\d-1\.000\s+{n}\s+0\s+0", result.stdout), result.stdout
    mine = json.loads((runs["vae"] / "eval.json").read_text())["human_rating"]["comparisons"]
    theirs = json.loads((runs["dcgan"] / "eval.json").read_text())["human_rating"]["comparisons"]
    assert (mine[0]["win_rate"], mine[0]["wins"], mine[0]["opponent"]) == (1.0, n, "trained_dcgan")
    assert mine[0]["p_value"] == pytest.approx(2 * 0.5**n)
    assert (theirs[0]["win_rate"], theirs[0]["losses"]) == (0.0, n)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"runs": ["/nonexistent/run", "{vae}"]}, "neither a run folder nor a .ckpt file"),
        ({"runs": ["{empty}", "{vae}"]}, "has no checkpoints/last.ckpt"),
        ({"runs": ["{vae}", "{dcgan}"], "n": 0}, "n=0 must be a positive integer"),
        ({"runs": ["{vae}"]}, "One run alone has nothing to be compared with"),
        ({"runs": ["{vae}"], "real": "imagenet:val"}, "expected <dataset>:<split>"),
        ({"runs": ["{vae}", "{dcgan}"], "out": "page.png"}, "must end in .html"),
        ({"score": "{foreign}"}, "is not a genstyle votes file"),
        ({"score": "/nonexistent/votes.json"}, "no such votes file"),
        ({"score": "{empty}"}, "is a folder, not a votes file. Give the votes.json saved by a rating page"),
    ],
)
def test_bad_input(runs, tmp_path: Path, fmnist_root: Path, args, expected) -> None:
    (tmp_path / "empty").mkdir()
    foreign = tmp_path / "eval.json"
    foreign.write_text(json.dumps({"metrics": {"val/fid": 1.0}}))
    fill = lambda v: v.format(vae=runs["vae"], dcgan=runs["dcgan"], empty=tmp_path / "empty", foreign=foreign)  # noqa: E731
    filled = {k: [fill(x) for x in v] if isinstance(v, list) else fill(v) if isinstance(v, str) else v for k, v in args.items()}
    with pytest.raises(GenstyleError, match=re.escape(expected)):
        rate(rate_cfg(tmp_path, fmnist_root, **{"out": str(tmp_path / "page.html"), **filled}))
    assert not (tmp_path / "page.html").exists()


@pytest.mark.slow  # the messages are checked in-process above; this is the exit path of every CLI
def test_bad_input_exits_2_with_one_paragraph(tmp_path: Path) -> None:
    (tmp_path / "votes.json").write_text("[1, 2, 3]")
    result = run_cli("rate.py", f"score={tmp_path / 'votes.json'}")
    assert result.returncode == 2
    assert result.stderr.startswith("error: score=") and "not a genstyle votes file" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
