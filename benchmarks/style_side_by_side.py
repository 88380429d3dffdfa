"""One table from two runs of `benchmarks/style.py` on the same pairs, one scored in each
evaluation network: every row's numbers in the independent network beside the shipped
classifier's, so the gap between "scored in its own loss features" and "scored independently"
shows row by row.

    python benchmarks/style_side_by_side.py docs/benchmarks/style_benchmark.json \
        docs/benchmarks/style_benchmark_classifier.json --out docs/benchmarks/style_side_by_side.md

Rows are matched by name (the "[scored in its own loss network]" flag of the second run is
ignored for the match and shown as a mark); a row only one run has is left out and named on
stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from genstyle.errors import report_user_errors, require  # noqa: E402

OWN_FLAG = " [scored in its own loss network]"
PROTOCOL_KEYS = ("split", "num_pairs", "seed", "num_reference", "reference", "source_dependence_grid")


def load(path: Path) -> dict:
    require(path.is_file(), f"{path}: no such file; give the JSON that benchmarks/style.py wrote.")
    payload = json.loads(path.read_text())
    require("rows" in payload and "protocol" in payload, f"{path} is not a benchmarks/style.py JSON (no rows or protocol).")
    return payload


def pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def three(x: float) -> str:
    return f"{x:.3f}"


def two(x: float) -> str:
    return f"{x:.2f}"


# the columns that differ by network, each with its format
COLUMNS = (("content_class", pct), ("style_class", pct), ("gram_dist", three), ("source_dependence", three), ("fid", two))


def pair(a: str, b: str, own: bool) -> str:
    return f"{a} / {b}{' *' if own else ''}"


def side_by_side(first: dict, second: dict) -> tuple[list[str], list[str]]:
    """Markdown lines of the joined table, and the names of rows only one run has."""
    others = {r["name"].replace(OWN_FLAG, ""): r for r in second["rows"]}
    n1, n2 = first["protocol"]["network"], second["protocol"]["network"]
    lines = [
        f"| stylizer | pairs | keeps content class ({n1} / {n2}) | style class | Gram dist | source dependence, features "
        f"(pixels) | background change | FID | FID floors, copy content / copy style |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    unmatched = [name for name in others if name not in {r["name"] for r in first["rows"]}]
    for a in first["rows"]:
        b = others.get(a["name"])
        if b is None:
            unmatched.append(a["name"])
            continue
        own = b["name"].endswith(OWN_FLAG)
        both = {key: pair(fmt(a[key]), fmt(b[key]), own) for key, fmt in COLUMNS}
        lines.append(
            f"| {a['name']} | {a['num_pairs']} | {both['content_class']} | {both['style_class']} "
            f"| {both['gram_dist']} | {both['source_dependence']} ({a['source_dependence_pixel']:.3f}) "
            f"| {a['background_change']:.3f} | {both['fid']} "
            f"| {a['content_fid']:.2f} / {a['style_fid']:.2f} ; {b['content_fid']:.2f} / {b['style_fid']:.2f} |"
        )
    return lines, unmatched


@report_user_errors  # a user error: `error: ...` on stderr, exit 2
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("first", type=Path, help="the run scored in the independent network")
    parser.add_argument("second", type=Path, help="the same rows scored in the other network")
    parser.add_argument("--out", type=Path, required=True, help="the markdown file to write")
    args = parser.parse_args(argv)
    first, second = load(args.first), load(args.second)
    differ = [k for k in PROTOCOL_KEYS if first["protocol"].get(k) != second["protocol"].get(k)]
    require(not differ, f"{args.first} and {args.second} were measured on other pairs ({', '.join(differ)} differ).")
    require(first["protocol"]["network"] != second["protocol"]["network"],
            f"both runs were scored in {first['protocol']['network']}; give one run per network.")
    lines, unmatched = side_by_side(first, second)
    for name in unmatched:
        print(f"note: {name!r} is in one run only; left out.", file=sys.stderr)
    note = ("Each cell: the first network's number / the second's; `*` marks a row scored in the second network "
            "although its losses use that network (refused unless asked, flagged). Pixel source dependence and "
            "background change do not depend on the network (one number). Floors: the first network's ; the second's.")
    args.out.write_text("\n".join(lines) + "\n\n" + note + "\n")
    print(f"Wrote {args.out} ({len(lines) - 2} rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
