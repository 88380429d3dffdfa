"""A comparison figure for the style benchmark: one row per fixed test pair, columns content |
style | the optimisation reference | each checkpoint's result, enlarged for a web page.

    OMP_NUM_THREADS=1 python benchmarks/style_figure.py --ckpts a.ckpt b.ckpt --rows 8 \
        --out docs/images/style_benchmark_pairs.png

The pairs are the first `--rows` pairs of the benchmark (same seed, so the same images as the
table's first pairs); models are driven exactly as in the benchmark (`genstyle.cli.style_benchmark`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from genstyle.errors import report_user_errors, require  # noqa: E402


@report_user_errors  # a user error: `error: ...` on stderr, exit 2
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ckpts", nargs="*", default=[])
    parser.add_argument("--rows", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--optimise-weight", type=float, default=10.0)
    parser.add_argument("--scale", type=int, default=3, help="nearest-neighbour enlargement")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    import torch
    import torch.nn.functional as F

    from genstyle.cli import style_benchmark as cli
    from genstyle.data.sources import load_fashion_mnist_test
    from genstyle.images import grid_image, save_png
    from genstyle.metrics import style_benchmark as sb
    from genstyle.metrics.features import default_classifier
    from genstyle.stylization.optimise import optimisation_stylizer

    require(args.rows >= 1 and args.scale >= 1, "--rows and --scale must be >= 1.")
    require(args.out.suffix == ".png", f"--out {args.out} must be a .png file.")
    entries = [cli.model_entry(c) for c in args.ckpts]
    test = load_fashion_mnist_test()
    content_idx, style_idx = sb.make_pairs(test.labels, args.rows, args.seed)
    content = test.images[content_idx].float() / 127.5 - 1
    style = test.images[style_idx].float() / 127.5 - 1
    labels = test.labels[content_idx], test.labels[style_idx]
    columns = [content, style, optimisation_stylizer(default_classifier(), style_weight=args.optimise_weight)(content, style)]
    columns += [e.stylizer(content, style, *labels).clamp(-1, 1).cpu() for e in entries]
    cells = torch.stack(columns, dim=1).flatten(0, 1)  # row-major: pair by pair
    cells = F.interpolate(cells, scale_factor=args.scale, mode="nearest")
    save_png(grid_image(cells, nrow=len(columns)), args.out)
    print(f"Wrote {args.out}: columns content | style | optimisation (style weight {args.optimise_weight:g}) | "
          + " | ".join(e.name for e in entries))
    return 0


if __name__ == "__main__":
    sys.exit(main())
