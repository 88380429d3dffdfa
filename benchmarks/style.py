"""The style benchmark for several checkpoints in one process, with the references, as one table.

    OMP_NUM_THREADS=1 python benchmarks/style.py --ckpts a.ckpt b.ckpt ... [--pairs 2000] [--seed 0] \
        [--optimise-weights 10 100] [--optimise-pairs 200] [--names "adain" "cvae"] [--include earlier.json ...] \
        [--alphas 0.25 0.5 0.75 1] [--refine-weights 10 30] [--refine-steps 30] [--network fmnist-independent] [--allow-own-features] [--out docs/style_benchmark.json]

Every model gets the same fixed test pairs (content and style of different classes; a cyclegan
its own class pair), is driven only through `stylize` / `translate` (genstyle.cli.style_benchmark),
and is scored by `genstyle.metrics.style_benchmark`: share of results classified as the content /
the style image's class, style-statistics distance (0 = the style image's, 1 = the content
image's), FID of the results, seconds per image, all in the features of `--network`: by default
`fmnist-independent`, which no model trains against; `--network fmnist-classifier` scores in the
shipped classifier, the loss network of adain and of the optimisation, whose rows are then refused
unless `--allow-own-features` (and flagged in the table). The trivial references (copy content, copy
style) and the optimisation reference (Gatys et al. 2016 with the project's classifier, one row
per `--optimise-weights` value; `--optimise-weights` with no value leaves it out) are in the same
table. `--include` adds the rows of earlier runs of this script made on the same pairs (their
protocol must match; a row computed now replaces an included one of the same name), so slow rows
need not be recomputed. `--alphas` sweeps the test-time strength of every checkpoint whose
`stylize` takes `alpha` (AdaIN), one row per value; the optimisation rows sweep the style weight.
`--refine-weights 3 10 30` refines such a checkpoint's strongest alpha by `--refine-steps` (30)
optimisation steps from its result, one row per style weight, on the optimisation rows' pairs.
Writes the JSON and, beside it, the markdown table (`.md`) and the trade-off plot (`.png`: content
kept against style moved, one curve per stylizer, each point labelled with its FID, the copies as
the corners; genstyle.report.style_curves); prints the table.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from genstyle.errors import report_user_errors, require  # noqa: E402

MATCHING_KEYS = ("split", "num_pairs", "seed", "network_sha256", "gram_stages", "reference", "source_dependence_grid")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ckpts", nargs="*", default=[], help="checkpoints of models that can stylize or translate")
    parser.add_argument("--names", nargs="*", default=None, help="row names for the checkpoints (default: family and run folder)")
    parser.add_argument("--pairs", type=int, default=2000, help="number of content/style test pairs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--optimise-weights", type=float, nargs="*", default=[10.0, 100.0], help="style weights of the optimisation reference rows")
    parser.add_argument("--optimise-steps", type=int, default=150)
    parser.add_argument("--optimise-pairs", type=int, default=None, help="score the optimisation rows on the first N pairs only (it is slow)")
    parser.add_argument("--alphas", type=float, nargs="*", default=None, help="AdaIN's test-time alpha values to sweep (checkpoints whose stylize takes alpha)")
    parser.add_argument("--refine-weights", type=float, nargs="*", default=[],
                        help="style weights at which adain's strongest alpha is refined by the optimisation (on --optimise-pairs)")
    parser.add_argument("--refine-steps", type=int, default=30, help="optimisation steps of each refinement")
    parser.add_argument("--no-copies", action="store_true", help="leave out the copy-content / copy-style rows")
    parser.add_argument("--network", default="fmnist-independent", choices=["fmnist-independent", "fmnist-classifier"],
                        help="the network every number is computed in: the independent one (default) or the shipped classifier")
    parser.add_argument("--allow-own-features", action="store_true",
                        help="score a stylizer in the network its losses use anyway (adain, the optimisation in fmnist-classifier), flagged")
    parser.add_argument("--include", type=Path, nargs="*", default=[], help="JSONs of earlier runs on the same pairs whose rows to add")
    parser.add_argument("--data-root", default=None, help="where the Fashion-MNIST files are (default: the usual search path)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=Path, default=Path("style_benchmark.json"))
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> dict:
    from genstyle.cli import style_benchmark as cli
    from genstyle.metrics.features import default_classifier
    from genstyle.report.style_curves import plot_tradeoff

    require(args.pairs >= 2, f"--pairs {args.pairs} must be at least 2.")
    require(args.optimise_steps >= 1, f"--optimise-steps {args.optimise_steps} must be at least 1.")
    require(args.names is None or len(args.names) == len(args.ckpts), f"--names gives {len(args.names or [])} names for {len(args.ckpts)} checkpoints; give one per checkpoint or none.")
    require(args.out.suffix == ".json", f"--out {args.out} must end in .json (the markdown table goes beside it as .md).")
    for ckpt in args.ckpts:
        require(Path(ckpt).is_file(), f"--ckpts {ckpt}: no such checkpoint file.")
    earlier = []
    for path in args.include:
        require(path.is_file(), f"--include {path}: no such file.")
        earlier.append((path, json.loads(path.read_text())))
    # Build every model first: a checkpoint that cannot stylize stops the run before any scoring.
    require(all(0 <= a <= 1 for a in args.alphas or []), f"--alphas {args.alphas}: each alpha must be in [0, 1].")
    names = args.names or [None] * len(args.ckpts)
    entries = [e for i, c in enumerate(args.ckpts) for e in cli.model_entries(c, args.device, names[i], args.alphas)]
    require(args.optimise_pairs is None or args.optimise_pairs >= 2, f"--optimise-pairs {args.optimise_pairs} must be at least 2.")
    require(args.refine_steps >= 1, f"--refine-steps {args.refine_steps} must be at least 1.")
    require(not args.refine_weights or any(e.curve for e in entries),
            "--refine-weights refines a stylizer with a test-time strength (adain, with --alphas); give such a checkpoint and --alphas.")
    entries += cli.refine_entries(entries, default_classifier(), args.refine_steps, args.refine_weights, args.optimise_pairs)
    refs = cli.reference_entries(args.optimise_weights, default_classifier(), args.optimise_steps, args.optimise_pairs)
    if args.no_copies:
        refs = refs[2:]
    payload = cli.run_entries(refs + entries, args.pairs, args.seed, args.data_root, network=args.network,
                              allow_own_features=args.allow_own_features)
    for path, old in reversed(earlier):  # the first file's rows end up first
        mismatch = [k for k in MATCHING_KEYS if old["protocol"].get(k) != payload["protocol"].get(k)]
        require(not mismatch, f"--include {path} was measured on other pairs ({', '.join(mismatch)} differ); rerun without it.")
        names = {r["name"] for r in payload["rows"]}
        payload["rows"] = [r for r in old["rows"] if r["name"] not in names] + payload["rows"]
    payload["command"] = "python benchmarks/style.py " + " ".join(sys.argv[1:])
    cli.write_outputs(payload, args.out, args.out.with_suffix(".md"))
    plot_tradeoff(payload, args.out.with_suffix(".png"))
    print(cli.table_text(payload))
    print(f"\nWrote {args.out}, {args.out.with_suffix('.md')} and {args.out.with_suffix('.png')}")
    return payload


@report_user_errors  # a user error: `error: ...` on stderr, exit 2
def main(argv: list[str] | None = None) -> int:
    run(parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
