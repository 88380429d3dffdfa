"""Which prior should a trained VAE sample from? Every prior below is fitted to the same
checkpoint's codes and scored on the same number of samples against the test split, in each
feature network given (docs/quality.md, "A VAE that samples well by default").

    OMP_NUM_THREADS=1 python benchmarks/vae_prior.py --ckpt outputs/vae_prior/vae10_seed1/checkpoints/last.ckpt \
        --extractors fmnist-classifier fmnist-independent --out docs/vae_prior.json

Priors: `standard` (N(0, I), today's default); `gmm<K>` a K-component full-covariance mixture
fitted to the posterior means of the first --fit-images training images (`model.prior=gmm` with
`model.prior_components=K`; the shipped fit is gmm10); `gmm<K>_samples`, the same fitted to one
draw z ~ q(z given x) per image instead of the mean (the aggregate posterior itself, wider than
the means). Samples: --num-samples per prior from a fixed generator (seed 0).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from genstyle.checkpoints import load_model
from genstyle.data.sources import load_fashion_mnist
from genstyle.metrics.backends import build_backend
from genstyle.metrics.fidelity import FidelitySettings
from genstyle.metrics.reference import load_or_compute_reference
from genstyle.metrics.suite import evaluate_features
from genstyle.models.components.gmm_prior import GaussianMixturePrior
from genstyle.pixels import to_model_range

ROOT = Path(__file__).resolve().parents[1]
KEYS = ("fid", "kid_mean", "precision", "recall", "modes_covered")


@torch.no_grad()
def codes(model, images: torch.Tensor, draw: bool, batch_size: int = 1000) -> torch.Tensor:
    """Posterior means `(N, D)` of uint8 images, or one draw mu + sigma * eps each (fixed seed)."""
    generator = torch.Generator().manual_seed(0)
    out = []
    for start in range(0, len(images), batch_size):
        mu, logvar = model.encode(to_model_range(images[start : start + batch_size]))
        out.append(mu + (0.5 * logvar).exp() * torch.randn(mu.shape, generator=generator) if draw else mu)
    return torch.cat(out)


@torch.no_grad()
def samples(model, prior: GaussianMixturePrior | None, n: int, batch_size: int = 1000) -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    out = []
    for start in range(0, n, batch_size):
        m = min(batch_size, n - start)
        z = prior.sample(m, generator) if prior is not None else torch.randn(m, model.latent_dim, generator=generator)
        out.append(model.decode_latent(z).clamp(-1, 1))
    return torch.cat(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ckpt", type=Path, required=True)
    parser.add_argument("--components", nargs="+", type=int, default=[10, 50])
    parser.add_argument("--fit-images", type=int, default=10000)
    parser.add_argument("--num-samples", type=int, default=10000)
    parser.add_argument("--extractors", nargs="+", default=["fmnist-classifier"])
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    torch.manual_seed(0)
    model, _ = load_model(args.ckpt)
    train = load_fashion_mnist("train").images[: args.fit_images]
    test = load_fashion_mnist("test").images
    priors: dict[str, GaussianMixturePrior | None] = {"standard": None}
    for draw in (False, True):
        fit_codes = codes(model, train, draw)
        for k in args.components:
            prior = GaussianMixturePrior(model.latent_dim, k)
            start = time.perf_counter()
            prior.fit(fit_codes)
            print(f"fitted gmm{k}{'_samples' if draw else ''} in {time.perf_counter() - start:.1f}s", flush=True)
            priors[f"gmm{k}" + ("_samples" if draw else "")] = prior
    images = {name: samples(model, prior, args.num_samples) for name, prior in priors.items()}
    results: dict[str, dict] = {}
    for extractor in args.extractors:
        backend = build_backend(extractor)
        reference = load_or_compute_reference(
            backend, lambda: test, dataset="fashion_mnist", split="test", image_size=28, channels=1,
            cache_dir=ROOT / "data" / "feature_cache",
        )
        results[extractor] = {}
        for name, imgs in images.items():
            numbers = evaluate_features(backend(imgs), reference, FidelitySettings(), min_samples=2).metrics
            results[extractor][name] = {k: float(numbers[k]) for k in KEYS if k in numbers}
            base = results[extractor]["standard"]
            row = results[extractor][name]
            print(f"{extractor:20} {name:16} FID {row['fid']:7.2f} ({row['fid'] / base['fid']:.3f}x standard)  KID {row['kid_mean']:.4f}  "
                  f"precision {row['precision']:.3f}  recall {row['recall']:.3f} ({row['recall'] / max(base['recall'], 1e-9):.2f}x)", flush=True)
    if args.out:
        args.out.write_text(json.dumps({"ckpt": str(args.ckpt), "num_samples": args.num_samples, "fit_images": args.fit_images,
                                        "results": results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
