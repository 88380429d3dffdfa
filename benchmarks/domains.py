"""StarGAN v2's evaluation protocol on a checkpoint with domains (stargan_v2), on Fashion-MNIST test
images, with more images than the training-time callback uses; and the same model on CycleGAN's
two-class protocol, so the two families can be compared on one class pair.

    OMP_NUM_THREADS=2 python benchmarks/domains.py outputs/runs/stargan_v2/checkpoints/last.ckpt \
        [--per-source 100] [--diversity-inputs 10] [--pair sneaker ankle_boot] [--out domains.json]

- The protocol (`genstyle.callbacks.multidomain_evaluation.evaluate_multidomain`): for each target
  domain, the first `--per-source` test images of every other domain translated into it,
  latent-guided and reference-guided; FID against the domain's 1,000 test images in the features of
  `--network` (default fmnist-independent, which no model trains against; fmnist-classifier: the
  shipped classifier), the share classified as the target domain, and diversity (mean pairwise
  feature distance of 10 results per input, next to groups of 10 real images).
- `--pair A B`: every test image of class A translated into B (and B into A), latent-guided and
  with random test images of the target class as references; FID against the target class's test
  images and the target-class share: what the cyclegan evaluation reports as `val/fid_a2b`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from genstyle.errors import report_user_errors, require  # noqa: E402


def pair_scores(model, test, backend, pair: tuple[str, str], seed: int) -> dict[str, float]:
    import torch

    from genstyle.metrics.fidelity import fid
    from genstyle.pixels import to_model_range

    names = list(model.domain_names())
    generator = torch.Generator().manual_seed(seed)
    scores = {}
    for a, b in (pair, pair[::-1]):
        source, target = names.index(a), names.index(b)
        x = to_model_range(test.images[test.labels == source])
        real = test.images[test.labels == target]
        real_features = backend(real)["features"]
        references = to_model_range(real[torch.randint(len(real), (len(x),), generator=generator)])
        for mode in ("latent", "reference"):
            if mode == "latent":
                out = model.translate(x, target, z=torch.randn(len(x), model.latent_dim, generator=generator))
            else:
                out = model.stylize(x, references, style_labels=target)
            measured = backend(out)
            scores[f"fid_{a}2{b}_{mode}"] = fid(measured["features"], real_features)
            scores[f"target_share_{a}2{b}_{mode}"] = float((measured["logits"].argmax(1) == target).double().mean())
    return scores


@report_user_errors  # a user error: `error: ...` on stderr, exit 2
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("ckpt", type=Path)
    parser.add_argument("--per-source", type=int, default=100, help="test images of each other domain translated per target domain")
    parser.add_argument("--diversity-inputs", type=int, default=10, help="inputs per target domain whose 10 results are compared")
    parser.add_argument("--pair", nargs=2, default=["sneaker", "ankle_boot"], metavar=("A", "B"), help="the class pair of the cyclegan comparison")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--network", default="fmnist-independent", choices=["fmnist-independent", "fmnist-classifier"],
                        help="the features and class predictions: the independent network (default) or the shipped classifier")
    parser.add_argument("--out", type=Path, default=None, help="JSON of every number (default: domains.json beside the checkpoint)")
    args = parser.parse_args(argv)
    from genstyle.callbacks.multidomain_evaluation import (
        MultiDomainSettings,
        evaluate_multidomain,
        has_domains,
    )
    from genstyle.checkpoints import load_model
    from genstyle.data.sources import load_fashion_mnist_test
    from genstyle.metrics.backends import build_backend

    model, _ = load_model(str(args.ckpt))  # a missing or foreign file is a user error there
    require(has_domains(model), f"{args.ckpt} holds a {type(model).__name__} model, which has no domains; this needs a model=stargan_v2 checkpoint.")
    names = list(model.domain_names())
    unknown = [c for c in args.pair if c not in names]
    require(not unknown, f"--pair {' '.join(args.pair)}: {', '.join(unknown)} not among the model's domains ({', '.join(names)}).")
    test, backend = load_fashion_mnist_test(), build_backend(args.network)
    settings = MultiDomainSettings(per_source=args.per_source, diversity_inputs=args.diversity_inputs, seed=args.seed)
    logs, protocol = evaluate_multidomain(model, test.images, test.labels, backend, settings)
    logs |= pair_scores(model, test, backend, tuple(args.pair), args.seed)
    out = args.out or args.ckpt.with_name("domains.json")
    out.write_text(json.dumps({"checkpoint": str(args.ckpt), "metrics": logs, "protocol": protocol}, indent=2) + "\n")
    for key, value in logs.items():
        print(f"{key:40s} {value:.4f}")
    print(f"Wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
