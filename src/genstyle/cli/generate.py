"""`python generate.py ckpt_path=... n=64`: a PNG grid (or individual PNGs) of samples."""

from __future__ import annotations

from pathlib import Path

import hydra
import torch
from omegaconf import DictConfig, ListConfig

from genstyle.checkpoints import load_model
from genstyle.cli.common import CONFIG_DIR
from genstyle.cli.inference_options import apply_inference_options
from genstyle.errors import GenstyleError, report_user_errors, require
from genstyle.images import grid_image, save_png
from genstyle.models.base import GenerativeModule
from genstyle.pixels import to_uint8


def parse_labels(labels, n: int, model: GenerativeModule) -> torch.Tensor | None:
    """Class indices or names -> `(n,)` labels, repeated to fill n."""
    if labels is None:
        return None
    if not model.is_conditional:
        raise GenstyleError(f"labels= was given but this {model.family} model is not class-conditional; drop labels=.")
    classes = list((model.run_config or {}).get("class_names") or [])
    items = list(labels) if isinstance(labels, (list, tuple, ListConfig)) else [labels]
    index = []
    for item in items:
        if isinstance(item, int) and 0 <= item < model.num_classes:
            index.append(item)
        elif isinstance(item, str) and item in classes:
            index.append(classes.index(item))
        else:
            raise GenstyleError(
                f"labels: {item!r} is not a class of this model; use indices 0..{model.num_classes - 1}"
                + (f" or names {', '.join(classes)}." if classes else ".")
            )
    require(len(index) > 0, "labels= is empty; give at least one class.")
    return torch.tensor(index).repeat(n // len(index) + 1)[:n]


def default_output(ckpt_path: Path, grid: bool, seed: int) -> Path:
    run_dir = ckpt_path.resolve().parent.parent
    return run_dir / "generated" / (f"samples_seed{seed}.png" if grid else f"samples_seed{seed}")


def generate(cfg: DictConfig) -> Path:
    require(isinstance(cfg.n, int) and cfg.n > 0, f"n={cfg.n} must be a positive integer (number of images).")
    model, _ = load_model(cfg.ckpt_path, cfg.device)
    apply_inference_options(model, cfg.get("use_ema"), cfg.get("prior"))
    # labels=null: conditional models draw classes from the training label distribution they store.
    labels = parse_labels(cfg.labels, cfg.n, model)
    out = Path(cfg.out) if cfg.out else default_output(Path(cfg.ckpt_path), cfg.grid, cfg.seed)
    generator = torch.Generator().manual_seed(cfg.seed)
    images = model.sample(cfg.n, labels=None if labels is None else labels.to(model.device), generator=generator)
    if cfg.grid:
        require(out.suffix.lower() == ".png", f"out={out} must end in .png for a grid (or set grid=false for a folder).")
        nrow = cfg.nrow or (model.num_classes if labels is not None else max(1, int(cfg.n**0.5)))
        save_png(grid_image(images, nrow), out)
    else:
        for i, image in enumerate(to_uint8(images.cpu())):
            save_png(image, out / f"{i:05d}.png")
    print(f"Wrote {cfg.n} samples to {out}")
    return out


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="generate")
@report_user_errors
def main(cfg: DictConfig) -> None:
    generate(cfg)


if __name__ == "__main__":
    main()
