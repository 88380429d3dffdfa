"""A reference-guided grid of a model with domains (stargan_v2) on Fashion-MNIST test images:
sources across the top (one per class), references down the side, each cell the source drawn with
the reference's style code in the reference's domain, enlarged for a web page.

    OMP_NUM_THREADS=1 python benchmarks/reference_grid.py outputs/runs/stargan_v2/checkpoints/last.ckpt \
        --out docs/images/stargan_v2_reference_grid_cpu.png

The sources are the first test image of t-shirt, trouser, dress, coat, sneaker, bag, ankle boot,
sandal; the references the second test image of t-shirt, pullover, coat, shirt, sneaker, ankle
boot, bag, trouser (so the references are never the sources).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from genstyle.errors import report_user_errors, require  # noqa: E402

SOURCE_CLASSES = (0, 1, 3, 4, 7, 8, 9, 5)
REFERENCE_CLASSES = (0, 2, 4, 6, 7, 9, 8, 1)


@report_user_errors  # a user error: `error: ...` on stderr, exit 2
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("ckpt", type=Path)
    parser.add_argument("--scale", type=int, default=3, help="nearest-neighbour enlargement")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    import torch
    import torch.nn.functional as F

    from genstyle.callbacks.multidomain_evaluation import has_domains
    from genstyle.checkpoints import load_model
    from genstyle.data.sources import load_fashion_mnist_test
    from genstyle.images import grid_image, save_png
    from genstyle.pixels import to_model_range

    require(args.scale >= 1, "--scale must be >= 1.")
    require(args.out.suffix == ".png", f"--out {args.out} must be a .png file.")
    model, _ = load_model(str(args.ckpt))  # a missing or foreign file is a user error there
    require(has_domains(model), f"{args.ckpt} holds a {type(model).__name__} model, which has no domains; the grid needs a model=stargan_v2 checkpoint.")
    test = load_fashion_mnist_test()

    def nth(label: int, k: int) -> int:
        return int((test.labels == label).nonzero()[k])

    sources = to_model_range(test.images[[nth(c, 0) for c in SOURCE_CLASSES]])
    rows = [torch.cat([torch.ones_like(sources[:1]), sources])]  # a white corner cell
    for index in (nth(c, 1) for c in REFERENCE_CLASSES):
        reference = to_model_range(test.images[index][None])
        rows.append(torch.cat([reference, model.stylize(sources, reference, style_labels=int(test.labels[index])).cpu()]))
    cells = F.interpolate(torch.cat(rows), scale_factor=args.scale, mode="nearest")
    save_png(grid_image(cells, nrow=len(sources) + 1), args.out)
    print(f"Wrote {args.out}: {len(rows) - 1} references x {len(sources)} sources")
    return 0


if __name__ == "__main__":
    sys.exit(main())
