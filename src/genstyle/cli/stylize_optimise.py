"""`python stylize.py method=optimise content=shirt.png style=coat.png out=result.png`: style
transfer without a trained model, by optimising each result image (Gatys et al. 2016) with the
project's Fashion-MNIST classifier as the feature network (`genstyle.stylization.optimise`).

Same inputs and outputs as the model path of `stylize.py` (single file or folder, `panel=true`,
no overwriting, every input checked before anything is written); images are decoded as 28x28
grayscale, the classifier's input. `steps=` and `style_weight=` set the optimisation.

`method=refine ckpt_path=<adain> steps=30`: the model's result first, then the optimisation from
it (the benchmark's "+ refine" rows: docs/style-transfer.md).
"""

from __future__ import annotations

from pathlib import Path

import torch
from omegaconf import DictConfig

from genstyle.cli.stylize_inputs import content_files, load_image, output_paths, style_file
from genstyle.errors import require
from genstyle.images import grid_image, save_png

IMAGE_SHAPE = (1, 28, 28)
BATCH = 256


def optimisation_settings(cfg: DictConfig) -> tuple[int, float]:
    steps, weight = int(cfg.steps), float(cfg.style_weight)
    require(steps >= 1, f"steps={steps} must be at least 1 (optimisation steps per image).")
    require(weight >= 0, f"style_weight={weight} must be >= 0 (the weight of the Gram losses).")
    return steps, weight


def check_refinable(model, mode: str, cfg: DictConfig) -> None:
    """method=refine needs a model that stylizes 1x28x28 images (the optimisation's classifier input)."""
    require(mode == "stylize", f"method=refine refines a stylizing model's result (adain, munit, cvae, cgan, stargan_v2); this {model.family} model translates. Drop method=refine.")
    require(tuple(model.image_shape) == IMAGE_SHAPE, f"method=refine optimises in the Fashion-MNIST classifier, which takes 1x28x28 images; this model makes {tuple(model.image_shape)}. Drop method=refine.")
    optimisation_settings(cfg)


def optimise_batches(images: torch.Tensor, style: torch.Tensor, cfg: DictConfig, starts: torch.Tensor | None = None) -> torch.Tensor:
    """`steps=` optimisation steps (style weight `style_weight=`) for each image, in batches of
    BATCH: from the content image (method=optimise) or from each model result in `starts`
    (method=refine)."""
    from genstyle.classifier.fashion_classifier import load_classifier
    from genstyle.stylization.optimise import optimise_style

    steps, weight = optimisation_settings(cfg)
    classifier = load_classifier().to(cfg.device)
    chunks = images.split(BATCH)
    first = starts.split(BATCH) if starts is not None else [None] * len(chunks)
    return torch.cat([
        optimise_style(content, style, classifier, steps=steps, style_weight=weight, init=start).cpu()
        for content, start in zip(chunks, first, strict=True)
    ])


def stylize_by_optimisation(cfg: DictConfig) -> list[Path]:
    from genstyle.pixels import to_uint8

    for key in ("direction", "content_labels", "style_labels", "alpha"):
        require(cfg.get(key) is None, f"{key}= is for trained models; method=optimise takes content=, style= and out= only (its strength is style_weight=). Drop {key}=.")
    require(cfg.get("ckpt_path") is None, "method=optimise uses no checkpoint; drop ckpt_path= (or drop method=optimise to apply the checkpoint's model).")
    require(cfg.style is not None, "method=optimise needs style=<image file> (the style exemplar).")
    steps, weight = optimisation_settings(cfg)
    style_path = style_file(cfg.style)
    content = Path(cfg.content).expanduser()
    out = Path(cfg.out).expanduser()
    files, is_folder = content_files(content)
    targets = output_paths(files, content, is_folder, out, cfg.overwrite)
    images = torch.stack([load_image(f, "content", IMAGE_SHAPE, cfg.convert_channels) for f in files])
    style = load_image(style_path, "style", IMAGE_SHAPE, cfg.convert_channels)[None]
    results = optimise_batches(images, style, cfg)
    for i, target in enumerate(targets):
        if cfg.panel:
            save_png(grid_image(torch.stack([images[i], style[0], results[i]]), nrow=3), target)
        else:
            save_png(to_uint8(results[i]), target)
    print(f"Wrote {len(targets)} {'content | style | result panels' if cfg.panel else 'images'} (28x28, {steps} optimisation steps, style weight {weight:g}) to {out}")
    return targets
