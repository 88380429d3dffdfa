"""FID/KID of translations against the target domain, one score per direction.

For a translation model on unpaired data, "how realistic" means: translate the domain-A images of
one split with `translate(x, "a2b")` and compare them with the *real domain-B images of the same
split* (and b2a against domain A). The arithmetic is the rest of the metrics package: the target
domain's statistics come from `load_or_compute_reference` (cached under a name that says which
domain of which data it is), the numbers from `evaluate_features`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import torch

from genstyle.data.sources import list_images
from genstyle.directions import SOURCE_AND_TARGET, target_domain
from genstyle.errors import GenstyleError, require
from genstyle.metrics.backends import FeatureBackend
from genstyle.metrics.distributed import gather_features, owns_chunk
from genstyle.metrics.fidelity import FidelitySettings
from genstyle.metrics.reference import ReferenceStats, load_or_compute_reference
from genstyle.metrics.suite import EvalResult, evaluate_features
from genstyle.pixels import to_model_range

# What a one-domain comparison can say; IS and the class histogram metrics describe a
# many-class sample set and are left out.
TRANSLATION_METRICS = ("fid", "kid_mean", "kid_std", "precision", "recall")


@dataclass
class TranslationTarget:
    """One direction: the source images to translate and the target domain's statistics."""

    direction: str
    split: str
    source: torch.Tensor  # (N, C, H, W) uint8, the first num_samples images of the source domain
    source_name: str
    reference: ReferenceStats


def folder_digest(folder: Path) -> str:
    """sha256 over the names and bytes of every image file in `folder`: changed files, a different
    folder with the same name, or added images all give a new reference cache entry."""
    digest = hashlib.sha256()
    for path in list_images(folder):
        digest.update(str(path.relative_to(folder)).encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def domain_name(datamodule, side: str, split: str) -> str:
    """The reference-cache name of one domain of one split: which data and which selection.

    Fashion-MNIST domains are one class each, in the order the data seed shuffles them (which
    decides a `metrics.num_real` subset and the KID subsets), so the seed is part of the name.
    A folder domain is named by its folder and a digest of its files."""
    if datamodule.dataset == "fashion_unpaired":
        cls = datamodule.domain_a if side == "a" else datamodule.domain_b
        return f"fashion_mnist-{cls}-seed{datamodule.seed}"
    if datamodule.dataset == "unpaired_folder":
        root = Path(datamodule.root).expanduser().resolve()
        folder = root / f"{split}{side.upper()}"
        return f"folder-{root.name}-{side.upper()}-{folder_digest(folder)[:12]}"
    raise GenstyleError(f"data.dataset={datamodule.dataset!r} has no translation domains; use fashion_unpaired or unpaired_folder.")


def load_targets(
    backend: FeatureBackend,
    datamodule,
    split: str,
    num_samples: int,
    min_samples: int,
    *,
    image_size: int,
    channels: int,
    num_real: int | None,
    subset_seed: int,
    prc_neighborhood: int,
    cache_dir: str | Path | None,
) -> dict[str, TranslationTarget]:
    """Both directions of `split`: source images and (cached) target-domain statistics."""
    domains = datamodule.load_split(split)  # UnpairedSet: .a and .b, uint8
    images = {"a": domains.a.images, "b": domains.b.images}
    names = {side: domain_name(datamodule, side, split) for side in ("a", "b")}
    targets = {}
    for direction, (src, dst) in SOURCE_AND_TARGET.items():
        source = images[src][:num_samples]
        require(
            len(source) >= min_samples,
            f"Translation FID/KID ({direction}) translates the {split} images of the source domain ({names[src]}), and "
            f"it has {len(source)}, fewer than metrics.min_samples={min_samples}. Lower metrics.min_samples (noisier "
            f"numbers), use callbacks.evaluation.reference_split=train, or turn evaluation off: callbacks.evaluation=null "
            "model.monitor=null.",
        )
        reference = load_or_compute_reference(
            backend, lambda dst=dst: images[dst], dataset=names[dst], split=split, image_size=image_size,
            channels=channels, num_real=num_real, subset_seed=subset_seed, cache_dir=cache_dir,
            prc_neighborhood=prc_neighborhood,
        )  # fmt: skip
        targets[direction] = TranslationTarget(direction, split, source, names[src], reference)
    return targets


@torch.no_grad()
def translate_images(model, images: torch.Tensor, direction: str, batch_size: int, rank: int = 0, world: int = 1) -> torch.Tensor:
    """`model.translate` over uint8 `images` in chunks of `batch_size`, float `[-1, 1]` on the CPU.
    Under DDP rank r translates only its chunks (`owns_chunk`), as `generate` does for samples."""
    chunks = [
        model.translate(to_model_range(chunk).to(model.device), target_domain(direction)).float().cpu()
        for index, chunk in enumerate(images.split(batch_size))
        if owns_chunk(index, rank, world)
    ]
    return torch.cat(chunks) if chunks else torch.empty(0, *images.shape[1:])


def score_direction(
    model,
    target: TranslationTarget,
    backend: FeatureBackend,
    settings: FidelitySettings,
    batch_size: int,
    mode_min_share: float = 0.01,
    min_samples: int = 2,
    rank: int = 0,
    world: int = 1,
) -> tuple[torch.Tensor, EvalResult]:
    """Translations of `target.source` (this rank's share) and their scores against the target
    domain; the protocol adds the direction, the split and the translated domain."""
    fakes = translate_images(model, target.source, target.direction, batch_size, rank, world)
    features = gather_features(backend(fakes), len(target.source), batch_size)
    result = evaluate_features(features, target.reference, settings, mode_min_share=mode_min_share, min_samples=min_samples)
    result.metrics = {k: result.metrics[k] for k in TRANSLATION_METRICS}
    result.protocol = {
        **result.protocol,
        "direction": target.direction,
        "split": target.split,
        "source": f"{target.source_name}:{target.split}",
    }
    return fakes, result


def translation_logs(results: dict[str, EvalResult]) -> dict[str, float]:
    """`val/fid_a2b`, `val/kid_a2b_mean`, ... per direction, and the means `val/fid`, `val/kid_mean`
    over the directions (what checkpoints and sweeps monitor)."""
    logged: dict[str, float] = {}
    for direction, result in results.items():
        for key, value in result.metrics.items():
            name = f"kid_{direction}_{key[4:]}" if key.startswith("kid_") else f"{key}_{direction}"
            logged[f"val/{name}"] = float(value)
    for key in ("fid", "kid_mean"):
        logged[f"val/{key}"] = sum(r.metrics[key] for r in results.values()) / len(results)
    return logged
