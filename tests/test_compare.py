"""compare.py on run directories generated in the test: tables, mean ± std over seeds, curves,
embedded images, failed runs, and the page rendered by a real browser."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
import torch
import yaml

from genstyle.cli.compare import build_report, main
from genstyle.images import save_grid
from genstyle.report.runs import find_runs, mean_std
from tests.browser import open_page

FID = {("vae", 1): [80.0, 60.0, 50.0], ("vae", 2): [82.0, 64.0, 54.0], ("dcgan", 1): [90.0, 40.0, 30.0], ("dcgan", 2): [92.0, 42.0, 34.0]}


def make_run(root: Path, name: str, model: str, seed: int, fid: list[float] | None, error: str | None = None) -> Path:
    run = root / name
    (run / ".hydra").mkdir(parents=True)
    overrides = [f"model={model}", f"seed={seed}", "data.train_subset=100"]
    (run / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    (run / ".hydra" / "config.yaml").write_text(yaml.safe_dump({"seed": seed, "model": {"_target_": f"x.{model}"}}))
    if error:
        (run / "failed").write_text(f"{error}\n\nTraceback ...")
        return run
    rows = [{"epoch": e, "step": 10 * e, "val/fid": v, "train/loss": 1.0 / (e + 1), "stability/grad_norm_d": 2.0 + e} for e, v in enumerate(fid)]
    (run / "metrics_history.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (run / "metrics.json").write_text(json.dumps({k: v for k, v in rows[-1].items() if "/" in k}))
    (run / "done").write_text(json.dumps({"overrides": overrides}))
    gen = torch.Generator().manual_seed(seed)
    save_grid(torch.rand(4, 1, 8, 8, generator=gen) * 2 - 1, run / "samples" / f"epoch_{len(fid):03d}.png", nrow=2)
    return run


@pytest.fixture
def sweep(tmp_path: Path) -> Path:
    root = tmp_path / "sweep"
    for i, ((model, seed), fid) in enumerate(FID.items()):
        make_run(root, f"{i}_{model}", model, seed, fid)
    make_run(root, "4_dcgan", "dcgan", 3, None, error="error: model.optimizer.lr=abc must be a positive number")
    return root


def test_runs_grouped_by_configuration_without_seed(sweep: Path) -> None:
    runs = find_runs([sweep])
    assert [r.status for r in runs] == ["done"] * 4 + ["failed"]
    assert {r.configuration for r in runs} == {"model=vae", "model=dcgan"}  # shared override and seed dropped
    assert runs[-1].error == "error: model.optimizer.lr=abc must be a positive number"
    mean, std, n = mean_std([r.metrics["val/fid"] for r in runs if r.configuration == "model=vae"])
    assert (mean, n) == (52.0, 2) and std == pytest.approx(2.8284271, rel=1e-6)


def test_report_html_is_self_contained(sweep: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    report = build_report([sweep], out, "test report")
    text = report.read_text()
    assert "52 ± 2.828" in text and "32 ± 2.828" in text  # vae and dcgan final val/fid over seeds
    assert text.count("data:image/png;base64,") >= 4 + 2  # 4 sample grids + curves, all embedded
    assert not re.search(r'src="(?!data:)', text) and "http" not in text  # nothing fetched
    assert "model.optimizer.lr=abc must be a positive number" in text
    assert {"curve_val_fid.png", "curve_train_loss.png", "curve_stability_grad_norm_d.png", "final_val_fid.png"} <= {p.name for p in out.glob("*.png")}


class TableReader(HTMLParser):
    """`tables[id]` = header texts and rows of `(data-v, text)` cells, as the sorting script sees them."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, dict[str, list]] = {}
        self.current: dict[str, list] | None = None
        self.cell: list | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attrs = dict(attrs)
        if tag == "table" and "sortable" in (attrs.get("class") or ""):
            self.current = self.tables.setdefault(attrs["id"], {"headers": [], "rows": []})
        elif self.current is not None and tag == "tr" and self.cell is None:
            self.row: list = []
        elif self.current is not None and tag in ("td", "th"):
            self.cell = [attrs.get("data-v"), ""]

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell[1] += data

    def handle_endtag(self, tag: str) -> None:
        if self.current is None:
            return
        if tag in ("td", "th"):
            self.row.append(tuple(self.cell))
            self.cell = None
        elif tag == "tr":
            if self.row and self.row[0][0] is None:  # header row: no data-v
                self.current["headers"] = [text for _, text in self.row]
            else:
                self.current["rows"].append(self.row)
        elif tag == "table":
            self.current = None


def report_tables(report: Path) -> dict[str, dict[str, list]]:
    reader = TableReader()
    reader.feed(report.read_text())
    return reader.tables


def sort_by(rows: list, column: int, ascending: bool = True) -> list:
    """The inline script's order: numeric data-v values, empty ones last."""
    numbers = [r for r in rows if r[column][0] not in ("", None)]
    empty = [r for r in rows if r[column][0] in ("", None)]
    return sorted(numbers, key=lambda r: float(r[column][0]), reverse=not ascending) + empty


def test_report_tables_carry_the_sort_values_and_every_row(sweep: Path, tmp_path: Path) -> None:
    tables = report_tables(build_report([sweep], tmp_path / "report", "sort check"))
    configs, runs, stability = tables["configurations"], tables["runs"], tables["stability"]
    assert [len(configs["rows"]), len(runs["rows"]), len(stability["rows"])] == [2, 5, 5]  # 2 configurations, 4 runs + 1 failed

    fid = configs["headers"].index("val/fid")
    by_name = {row[0][1]: row for row in configs["rows"]}
    assert float(by_name["model=vae"][fid][0]) == 52.0 and float(by_name["model=dcgan"][fid][0]) == 32.0  # means, not the text
    assert [row[1][0] for row in configs["rows"]] == ["2.0", "2.0"]  # runs done (the failed dcgan run excluded)
    assert [row[0][1] for row in sort_by(configs["rows"], fid)] == ["model=dcgan", "model=vae"]

    fid = runs["headers"].index("val/fid")
    finals = {FID[(m, s)][-1] for m, s in FID}
    assert {float(row[fid][0]) for row in runs["rows"] if row[fid][0]} == finals
    ordered = sort_by(runs["rows"], fid)
    assert [float(row[fid][0]) for row in ordered[:4]] == sorted(finals)  # 30 < 34 < 50 < 54 ...
    assert ordered[-1][2][1] == "failed" and ordered[-1][fid][0] == ""  # ... and the failed run, without a value, last
    assert [float(row[fid][0]) for row in sort_by(runs["rows"], fid, ascending=False)[:4]] == sorted(finals, reverse=True)
    seed = runs["headers"].index("seed")
    assert sorted(float(row[seed][0]) for row in runs["rows"]) == [1.0, 1.0, 2.0, 2.0, 3.0]


def test_cli_rejects_a_folder_without_runs(tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([str(tmp_path)])
    assert exit_info.value.code == 2
    assert "holds no runs" in capsys.readouterr().err


def test_report_renders_in_chromium(sweep: Path, tmp_path: Path) -> None:
    report = build_report([sweep], tmp_path / "report", "browser check")
    page = open_page(report, tmp_path, screenshot=tmp_path / "shot.png")
    assert page.console == []
    assert page.dom.count("<tr") >= 1 + 2 + 1 + 5  # configuration and run tables with their rows
    assert len(re.findall(r'<img alt="samples of', page.dom)) == 4
    assert 'id="failed"' in page.dom and "lr=abc" in page.dom
    assert (tmp_path / "shot.png").stat().st_size > 10_000


def test_browser_check_sees_script_errors(tmp_path: Path) -> None:
    # The console check above is only worth something if a broken page fails it.
    broken = tmp_path / "broken.html"
    broken.write_text("<!DOCTYPE html><html><head><link rel='icon' href='data:,'></head><body><script>undefinedFunction();</script></body></html>")
    assert open_page(broken, tmp_path).console
