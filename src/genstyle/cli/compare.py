"""`python compare.py outputs/multirun/<date>/<time> [more dirs]`: an offline comparison report.

Reads sweep or run directories (no W&B account needed) and writes `report.html` (self-contained:
tables, curves, sample grids, stability indicators, failed runs) plus the PNG plots it embeds.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from genstyle.cli.outputs import unwritable
from genstyle.errors import GenstyleError, report_user_errors
from genstyle.files import write_text_atomic
from genstyle.report.html import render
from genstyle.report.plots import curve_keys, headline_keys, plot_curves, plot_final, slug
from genstyle.report.runs import find_runs, metric_keys


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="compare.py", description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path, help="sweep directories and/or run directories")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: <first path>/report)")
    parser.add_argument("--title", default=None, help="page title (default: the first path)")
    return parser.parse_args(argv)


def build_report(paths: list[Path], out: Path, title: str) -> Path:
    runs = find_runs(paths)
    problem = unwritable(out)
    if problem is not None:
        raise GenstyleError(f"--out {out}: cannot write the report there ({problem}); give a writable folder with --out <folder>.")
    keys = metric_keys(runs)
    out.mkdir(parents=True, exist_ok=True)
    plots = [plot_curves(runs, key, out / f"curve_{slug(key)}.png") for key in curve_keys(runs)]
    plots += [plot_final(runs, key, out / f"final_{slug(key)}.png") for key in headline_keys(keys)]
    report = out / "report.html"
    return write_text_atomic(report, render(runs, keys, plots, paths, title))


@report_user_errors
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = args.out or args.paths[0] / "report"
    if out.exists() and not out.is_dir():
        raise GenstyleError(f"--out {out} exists and is not a directory; give a folder for report.html and the plots.")
    report = build_report(args.paths, out, args.title or f"genstyle comparison: {args.paths[0]}")
    print(f"Report: {report}\nPlots:  {out}/*.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
