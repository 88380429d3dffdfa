"""`python generate.py ckpt_path=... n=64`: a PNG grid (or individual PNGs) of samples."""

from __future__ import annotations

from pathlib import Path

import hydra
import torch
from omegaconf import DictConfig, ListConfig

from genstyle.checkpoints import load_model
from genstyle.cli.common import CONFIG_DIR
from genstyle.cli.inference_options import apply_inference_options
from genstyle.cli.options import command
from genstyle.cli.outputs import check_output_location, plural
from genstyle.errors import GenstyleError, require
from genstyle.images import grid_image, save_png
from genstyle.models.base import GenerativeModule
from genstyle.pixels import to_uint8

MAX_GRID_IMAGES = 4096  # a 64x64 grid; beyond that one PNG is unwieldy and costs gigabytes to build


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


def output_files(out: Path, n: int, grid: bool, overwrite: bool) -> list[Path]:
    """The files this command will write, checked before any sampling: a bad location, or a file
    that exists without overwrite=true, is an error (as in stylize.py)."""
    check_output_location(out)
    if grid:
        require(out.suffix.lower() == ".png", f"out={out} must end in .png for a grid (or set grid=false for a folder).")
        require(not out.is_dir(), f"out={out} is a folder; give a .png file name for the grid, or set grid=false.")
        targets = [out]
    else:
        require(not out.is_file(), f"out={out} is a file; with grid=false out is the folder the {n} PNGs go into.")
        targets = [out / f"{i:05d}.png" for i in range(n)]
    existing = [t for t in targets if t.exists()]
    require(
        overwrite or not existing,
        f"out={out}: {plural(len(existing), 'output file')} already exist{'s' if len(existing) == 1 else ''} "
        f"(first: {existing[0] if existing else ''}). Choose another out (or seed), or pass overwrite=true to replace them.",
    )
    return targets


def check_grid_size(n: int, image_shape: tuple[int, int, int]) -> None:
    """A grid of many thousand images is one PNG no viewer opens (n=200000: 185 MB, 9.7 GB of memory)."""
    if n > MAX_GRID_IMAGES:
        side = int(n**0.5 + 0.999) * (image_shape[1] + 2)
        raise GenstyleError(
            f"n={n} with grid=true would be a single {side}x{side}-pixel PNG. Grids hold at most {MAX_GRID_IMAGES} "
            f"images; for more, pass grid=false to write {n} individual PNGs into the folder out=<folder>."
        )


def generate(cfg: DictConfig) -> Path:
    require(isinstance(cfg.n, int) and cfg.n > 0, f"n={cfg.n} must be a positive integer (number of images).")
    out = Path(cfg.out).expanduser() if cfg.out else default_output(Path(cfg.ckpt_path), cfg.grid, cfg.seed)
    targets = output_files(out, cfg.n, cfg.grid, bool(cfg.get("overwrite", False)))
    model, _ = load_model(cfg.ckpt_path, cfg.device)
    if cfg.grid:
        check_grid_size(cfg.n, model.image_shape)
    apply_inference_options(model, cfg.get("use_ema"), cfg.get("prior"))
    # labels=null: conditional models draw classes from the training label distribution they store.
    labels = parse_labels(cfg.labels, cfg.n, model)
    if not cfg.grid and cfg.n > MAX_GRID_IMAGES:
        print(f"Writing {plural(cfg.n, 'PNG')} ({model.image_shape[1]}x{model.image_shape[2]}) to {out}/ ...", flush=True)
    generator = torch.Generator().manual_seed(cfg.seed)
    images = model.sample(cfg.n, labels=None if labels is None else labels.to(model.device), generator=generator)
    if cfg.grid:
        nrow = cfg.nrow or (model.num_classes if labels is not None else max(1, int(cfg.n**0.5)))
        save_png(grid_image(images, nrow), out)
        print(f"Wrote a grid of {plural(cfg.n, 'sample')} to {out}")
    else:
        write_folder(to_uint8(images.cpu()), targets, out)
        print(f"Wrote {plural(cfg.n, 'sample')} to {out}")
    return out


def write_folder(images: torch.Tensor, targets: list[Path], out: Path) -> None:
    """Write the PNGs into a hidden folder beside `out`, then move them into place: an interrupted
    run leaves no partial set that a rerun would refuse to replace."""
    import os
    import shutil

    partial = out.parent / f".{out.name}.partial-{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)  # left by a killed run that had this pid
    partial.mkdir(parents=True)  # the user's umask, as the folder it becomes
    try:
        for image, target in zip(images, targets, strict=True):
            save_png(image, partial / target.name)
        if not out.exists():
            partial.rename(out)
            return
        for target in targets:
            (partial / target.name).replace(target)
    finally:
        shutil.rmtree(partial, ignore_errors=True)


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="generate")
@command("generate", interrupted="no output was written (images are moved into place only once all are drawn)")
def main(cfg: DictConfig) -> None:
    generate(cfg)


if __name__ == "__main__":
    main()
