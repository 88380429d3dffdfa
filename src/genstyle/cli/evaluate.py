"""`python evaluate.py ckpt_path=...` or `python evaluate.py generated=folder reference=fashion_mnist:test`.

The same computation as the training-time evaluation callback (`genstyle.metrics.suite`), on a
checkpoint's samples or on any folder of images; prints a table and writes `eval.json` with the
numbers and their protocol (extractor and weights hash, num_real, num_fake, reference).
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import hydra
import torch
from omegaconf import DictConfig, OmegaConf

from genstyle.callbacks.eval_report import kept_sections
from genstyle.cli.common import CONFIG_DIR
from genstyle.cli.options import command
from genstyle.data.sources import decode_image, list_images
from genstyle.errors import GenstyleError, require
from genstyle.files import write_json_atomic
from genstyle.metrics.backends import build_backend
from genstyle.metrics.cas import CasResult, classification_accuracy_score, labelled_samples
from genstyle.metrics.generation import generate
from genstyle.metrics.latent import collapse_warning, vae_latent_metrics
from genstyle.metrics.reference import ReferenceStats, load_or_compute_reference
from genstyle.metrics.settings import metric_settings
from genstyle.metrics.suite import HIGHER_IS_BETTER, LOWER_IS_BETTER, evaluate_features
from genstyle.metrics.two_sample import JUDGES, two_sample_test

DATASET_SHAPES = {"fashion_mnist": (1, 28), "mnist": (1, 28), "cifar10": (3, 32)}  # (channels, size)
SPLITS = ("train", "test")


@dataclass
class Reference:
    """Where the real images come from: a data set split, or a folder."""

    kind: str  # "dataset" | "folder"
    name: str  # data set name or folder path
    split: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.name}:{self.split}" if self.kind == "dataset" else self.name


def parse_reference(spec: str) -> Reference:
    if ":" in spec and not Path(spec).expanduser().is_dir():
        name, split = spec.split(":", 1)
        require(
            name in DATASET_SHAPES and split in SPLITS,
            f"reference={spec!r}: expected <dataset>:<split> with dataset one of {', '.join(DATASET_SHAPES)} and split "
            f"train or test (e.g. fashion_mnist:test), or a folder of images.",
        )
        return Reference("dataset", name, split)
    path = Path(spec).expanduser()
    require(path.is_dir(), f"reference={spec!r} is neither <dataset>:<split> (e.g. fashion_mnist:test) nor an existing folder.")
    return Reference("folder", str(path.resolve()))


def folder_shape(folder: Path) -> tuple[int, int]:
    """(channels, size) of a folder's first image: grayscale files give 1 channel."""
    from PIL import Image

    paths = list_images(folder)
    require(paths, f"{folder} holds no images (png/jpg/jpeg/...); nothing to evaluate.")
    with Image.open(paths[0]) as img:
        channels = 1 if img.mode in ("L", "1", "I;16", "I") else 3
        width, height = img.size
    require(width == height, f"{paths[0]} is {width}x{height}; evaluation needs square images.")
    return channels, width


def load_folder(folder: Path, channels: int, size: int, resize: bool, what: str) -> tuple[torch.Tensor, list[str]]:
    """uint8 `(N, C, size, size)` of every image under `folder`; a size mismatch is an error
    unless `resize` (then it is reported). Colour converted to grayscale is reported too."""
    from PIL import Image

    paths = list_images(folder)
    require(paths, f"{what}={folder} holds no images (looked recursively for png/jpg/jpeg/...); nothing to evaluate.")
    sizes, modes = Counter(), Counter()
    for p in paths:
        try:
            with Image.open(p) as img:
                sizes[img.size] += 1
                modes[img.mode] += 1
        except OSError as err:
            raise GenstyleError(f"Cannot read image {p} ({err}). Remove or replace the file.") from None
    notes = []
    off = {s: n for s, n in sizes.items() if s != (size, size)}
    if off:
        listing = ", ".join(f"{n} of {w}x{h}" for (w, h), n in sorted(off.items(), key=lambda kv: -kv[1]))
        mixed = "mixed sizes: " if len(sizes) > 1 else ""
        if not resize:
            raise GenstyleError(
                f"{what}={folder}: {mixed}{listing}, but the metrics compare {size}x{size} images. Resize them yourself, "
                f"or pass resize=true to have them resized (bicubic) to {size}x{size}."
            )
        notes.append(f"{what}: resized {sum(off.values())} images ({listing}) to {size}x{size} (resize=true).")
    colour = sum(n for m, n in modes.items() if m not in ("L", "1", "I", "I;16"))
    if channels == 1 and colour:
        notes.append(f"{what}: converted {colour} colour images to grayscale (PIL luma) for a 1-channel extractor.")
    images = torch.stack([decode_image(p, channels, size) for p in paths])
    return images, notes


def dataset_images(name: str, split: str, data_root: str | None, download_dir: str, size: int, channels: int) -> torch.Tensor:
    from genstyle.data.datamodule import ImageDataModule

    dm = ImageDataModule(dataset=name, root=data_root, download_dir=download_dir, download=False, image_size=size,
                         channels=channels, num_classes=10, val_size=0)
    return dm.load_split(split).images


def check_min_samples(n: int, cfg: DictConfig, what: str) -> None:
    needed = int(cfg.metrics.min_samples)
    require(
        n >= needed,
        f"{what} has {n} images, fewer than metrics.min_samples={needed} needed for a stable FID/KID estimate. Provide "
        + (f"more images, or pass metrics.min_samples={n} to accept a noisier number (it is recorded in eval.json)."
           if n >= 2 else "more images: FID needs at least 2."),
    )


def require_samples(model, ckpt_path: str) -> None:
    """evaluate.py scores samples; a two-domain translation model (it translates but takes no style
    exemplar, like CycleGAN) has no prior to sample from."""
    if model.can_translate and not model.can_stylize:
        raise GenstyleError(
            f"ckpt_path={ckpt_path} holds a {type(model).__name__} translation model, which has no samples of its own "
            "to score: its FID/KID per direction (val/fid_a2b, val/fid_b2a) are computed during training, in the run's "
            "eval.json. To score a checkpoint's translations of your images: `python stylize.py ckpt_path=... "
            "content=<folder of domain-A images> out=<folder> direction=a2b`, then `python evaluate.py "
            "generated=<that folder> reference=<folder of real domain-B images>`."
        )


def default_reference(data_cfg: dict, ckpt_path: str) -> str:
    """The test split of the data the checkpoint was trained on, when evaluate.py knows that data set."""
    dataset = data_cfg.get("dataset", "fashion_mnist")
    require(
        dataset in DATASET_SHAPES,
        f"ckpt_path={ckpt_path} was trained on data set {dataset!r}, which has no built-in test split to compare "
        f"with; give reference=<folder of real images> or reference=<dataset>:<split> with dataset one of "
        f"{', '.join(DATASET_SHAPES)}.",
    )
    return f"{dataset}:test"


def build_reference(cfg: DictConfig, backend, ref: Reference, channels: int, size: int) -> ReferenceStats:
    m = cfg.metrics
    if ref.kind == "dataset":
        loader = lambda: dataset_images(ref.name, ref.split, cfg.data_root, cfg.paths.data_dir, size, channels)  # noqa: E731
        return load_or_compute_reference(
            backend, loader, dataset=ref.name, split=ref.split, image_size=size, channels=channels,
            num_real=m.num_real, subset_seed=int(m.subset_seed), cache_dir=m.cache_dir, prc_neighborhood=int(m.prc_neighborhood),
        )
    images, notes = load_folder(Path(ref.name), channels, size, bool(cfg.resize), "reference")
    ref.notes.extend(notes)
    check_min_samples(len(images), cfg, f"reference={ref.name}")
    # A folder can change between runs, so its features are not cached.
    return load_or_compute_reference(
        backend, lambda: images, dataset=f"folder:{ref.name}", split="all", image_size=size, channels=channels,
        num_real=m.num_real, subset_seed=int(m.subset_seed), cache_dir=None, prc_neighborhood=int(m.prc_neighborhood),
    )


TASKS = ("samples", "style")


def evaluate(cfg: DictConfig) -> dict:
    task = cfg.get("task", "samples")
    require(task in TASKS, f"task={task} is not a task of evaluate.py; use task=samples (FID & co. of samples) or task=style (the style benchmark).")
    if task == "style":
        from genstyle.cli.style_benchmark import evaluate_style

        return evaluate_style(cfg)
    require(
        (cfg.ckpt_path is None) != (cfg.generated is None),
        "Give exactly one of ckpt_path=<.ckpt file> or generated=<folder of images> (with reference=...).",
    )
    require(cfg.two_sample in (None, *JUDGES), f"two_sample={cfg.two_sample!r} must be one of {', '.join(JUDGES)} or null (off).")
    m = OmegaConf.to_container(cfg.metrics, resolve=True)
    start = time.perf_counter()
    latent: dict[str, float] = {}
    notes: list[str] = []
    cas: CasResult | None = None
    if cfg.ckpt_path is not None:
        from genstyle.checkpoints import load_model
        from genstyle.cli.inference_options import apply_inference_options
        from genstyle.models.base import GenerativeModule

        model, _ = load_model(cfg.ckpt_path, cfg.device)
        require(isinstance(model, GenerativeModule), f"ckpt_path={cfg.ckpt_path} does not hold a generative model.")
        require_samples(model, cfg.ckpt_path)
        inference = apply_inference_options(model, cfg.get("use_ema"), cfg.get("prior"))
        data_cfg = dict((model.run_config or {}).get("data") or {})
        channels, size, _ = model.image_shape
        ref = parse_reference(cfg.reference or default_reference(data_cfg, cfg.ckpt_path))
        check_min_samples(int(cfg.num_samples), cfg, f"num_samples={cfg.num_samples}")
        backend = build_backend(m["extractor"], channels, size, m["inception_weights"], m["classifier_weights"], cfg.device)
        progress(f"reference statistics of {ref.label} ({m['extractor']} features)")
        reference = build_reference(cfg, backend, ref, channels, size)
        label_distribution = None
        if model.is_conditional:
            data_root = cfg.data_root or data_cfg.get("root")
            label_distribution = training_label_distribution(data_cfg, data_root, cfg.paths.data_dir)
        progress(f"drawing {int(cfg.num_samples)} samples from {cfg.ckpt_path} (seed {int(cfg.seed)})")
        images = generate(model, int(cfg.num_samples), int(cfg.seed), int(cfg.batch_size), label_distribution)
        if model.has_encoder:  # the VAEs: active units and posterior statistics on the reference
            latent = vae_latent_for_reference(cfg, model, ref, channels, size)
        if model.is_conditional and cfg.cas:
            progress("CAS: training a classifier on the samples, testing it on the real split")
            cas = cas_on_reference(cfg, model, ref, channels, size)
            if cas is None:
                notes.append(f"CAS skipped: it tests on a data set's labelled split, so it needs reference=<dataset>:<split> "
                             f"(got {ref.label}); cas=false silences this.")
        out_path = Path(cfg.out) if cfg.out else Path(cfg.ckpt_path).expanduser().resolve().parent / "eval.json"
        source = {"ckpt_path": str(Path(cfg.ckpt_path).expanduser().resolve()), "seed": int(cfg.seed), "family": model.family, **inference}
    else:
        require(cfg.reference, "generated=... needs reference=<dataset>:<split> (e.g. fashion_mnist:test) or reference=<folder>.")
        ref = parse_reference(cfg.reference)
        channels, size = DATASET_SHAPES[ref.name] if ref.kind == "dataset" else folder_shape(Path(ref.name))
        backend = build_backend(m["extractor"], channels, size, m["inception_weights"], m["classifier_weights"], cfg.device)
        generated = parse_reference(str(cfg.generated))
        if generated.kind == "dataset":
            # Real images in place of samples (calibration, e.g. train vs test): a seeded subset of num_samples.
            from genstyle.metrics.reference import select_subset

            split = dataset_images(generated.name, generated.split, cfg.data_root, cfg.paths.data_dir, size, channels)
            images = select_subset(split, min(int(cfg.num_samples), len(split)), int(cfg.seed), generated.label)
            out_path = Path(cfg.out) if cfg.out else Path.cwd() / f"{generated.name}_{generated.split}_eval.json"
        else:
            folder = Path(generated.name)
            images, notes = load_folder(folder, channels, size, bool(cfg.resize), "generated")
            out_path = Path(cfg.out) if cfg.out else folder.parent / f"{folder.name}_eval.json"
        check_min_samples(len(images), cfg, f"generated={cfg.generated}")
        progress(f"reference statistics of {ref.label} ({m['extractor']} features)")
        reference = build_reference(cfg, backend, ref, channels, size)
        source = {"generated": generated.label, "seed": int(cfg.seed)}
    progress(f"FID, KID, IS, precision/recall of {len(images)} images")
    result = evaluate_features(
        backend(images), reference, metric_settings(m), mode_min_share=float(m["mode_min_share"]), min_samples=int(m["min_samples"])
    )
    metrics = dict(result.metrics)
    two_sample = None
    if cfg.two_sample:
        progress(f"two-sample test: training the {cfg.two_sample} judge")
        two_sample = two_sample_on_reference(cfg, images, ref, channels, size)
        if two_sample is None:
            notes.append(f"two-sample test skipped: it trains its judge on the train split and scores on the test split of a "
                         f"data set, so it needs reference=<dataset>:test (got {ref.label}); two_sample=null silences this.")
        else:
            metrics.update(two_sample.metrics("c2st"))
    if cas is not None:
        metrics.update(cas.metrics("cas"))
    if latent:
        metrics.update({"kl": latent["kl"], "active_units": latent["active_units"]})
        warning = collapse_warning(latent, float(m["collapse_min_active_fraction"]))
        if warning:
            notes.append(warning)
    notes = [*notes, *ref.notes, *result.notes]
    payload = {
        "metrics": metrics,
        "protocol": {**result.protocol, "reference": ref.label, **source},
        "class_counts": [int(c) for c in result.class_counts],
        "reference_class_counts": [int(c) for c in reference.class_counts],
        "notes": notes,
        "seconds": round(time.perf_counter() - start, 2),
        **({"two_sample": two_sample.as_dict()} if two_sample is not None else {}),
        **({"cas": cas.as_dict()} if cas is not None else {}),
    }
    payload.update(kept_sections(out_path))  # human ratings recorded in an existing eval.json stay
    out_path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out_path, json.loads(json.dumps(payload)))
    print_table(payload)
    print(f"\nWrote {out_path}")
    return payload


def progress(what: str) -> None:
    """One line per stage, so a run of minutes shows what it is doing (on stderr: stdout is the table)."""
    print(f"evaluate: {what} ...", file=sys.stderr, flush=True)


def two_sample_on_reference(cfg: DictConfig, images: torch.Tensor, ref: Reference, channels: int, size: int):
    """The classifier two-sample test (`two_sample` judge): trained on the images against the
    reference data set's train split, scored on held-out images and the test split. None when
    the reference is not a data set's test split."""
    if ref.kind != "dataset" or ref.split != "test":
        return None
    real_train = dataset_images(ref.name, "train", cfg.data_root, cfg.paths.data_dir, size, channels)
    real_test = dataset_images(ref.name, "test", cfg.data_root, cfg.paths.data_dir, size, channels)
    return two_sample_test(images, real_train, real_test, judge=cfg.two_sample, seed=int(cfg.seed),
                           network=cfg.metrics.judge_extractor)  # the linear judge's features


def cas_on_reference(cfg: DictConfig, model, ref: Reference, channels: int, size: int) -> CasResult | None:
    """CAS of a class-conditional checkpoint: a fresh classifier trained on `num_samples`
    class-balanced samples, tested on the reference data set's labelled split. None for a folder."""
    if ref.kind != "dataset":
        return None
    from genstyle.data.datamodule import ImageDataModule

    dm = ImageDataModule(dataset=ref.name, root=cfg.data_root, download_dir=cfg.paths.data_dir, download=False, image_size=size,
                         channels=channels, num_classes=int(model.num_classes), val_size=0)
    real = dm.load_split(ref.split)
    require(real.labels is not None, f"CAS needs the labels of {ref.label}, and it has none; pass cas=false.")
    images, labels = labelled_samples(model, int(cfg.num_samples), int(cfg.seed), int(cfg.batch_size))
    return classification_accuracy_score(images, labels, real.images, real.labels, int(model.num_classes), seed=int(cfg.seed))


def training_label_distribution(data_cfg: dict, data_root: str | None, download_dir: str) -> torch.Tensor:
    """Class frequencies of the training split of the checkpoint's data, for conditional sampling."""
    from genstyle.data.datamodule import ImageDataModule

    keys = ("dataset", "image_size", "channels", "num_classes", "val_size", "train_subset", "seed")
    dm = ImageDataModule(**{k: data_cfg[k] for k in keys if k in data_cfg}, root=data_root, download_dir=download_dir,
                         download=False, batch_size=1)
    dm.setup("fit")
    dist = dm.label_distribution()
    require(dist is not None, "This model is class-conditional but its training data has no labels.")
    return dist


def vae_latent_for_reference(cfg: DictConfig, model, ref: Reference, channels: int, size: int) -> dict[str, float]:
    if ref.kind == "dataset":
        images = dataset_images(ref.name, ref.split, cfg.data_root, cfg.paths.data_dir, size, channels)
    else:
        images, _ = load_folder(Path(ref.name), channels, size, bool(cfg.resize), "reference")
    images = images[: int(cfg.latent_samples)]
    labels = None
    if model.is_conditional:
        from genstyle.data.sources import load_fashion_mnist

        require(ref.name == "fashion_mnist", "Active units of a conditional VAE need labels: use reference=fashion_mnist:<split>.")
        labels = load_fashion_mnist(ref.split, cfg.data_root, cfg.paths.data_dir, False).labels[: len(images)]
    return vae_latent_metrics(model, images, labels)


def print_table(payload: dict) -> None:
    p = payload["protocol"]
    print(f"\nEvaluation: {p['num_fake']} generated vs {p['num_real']} real images ({p['reference']}), "
          f"extractor {p['extractor']} [{p['weights_sha256'][:12]}]")
    print(f"{'metric':<16}{'value':>14}  better")
    print("-" * 38)
    for key, value in payload["metrics"].items():
        # kl (the VAE's KL term) has no better direction: 0 is a collapsed posterior, not a good model
        better = "lower" if key in LOWER_IS_BETTER else "higher" if key in HIGHER_IS_BETTER else ""
        shown = f"{value:.6g}" if math.isfinite(value) else str(value)
        print(f"{key:<16}{shown:>14}  {better}")
    for note in payload["notes"]:
        print(f"note: {note}")


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="evaluate")
@command("evaluate", interrupted="no eval.json was written")
def main(cfg: DictConfig) -> None:
    evaluate(cfg)


if __name__ == "__main__":
    main()
