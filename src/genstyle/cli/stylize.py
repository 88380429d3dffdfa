"""`python stylize.py ckpt_path=... content=shirt.png style=coat.png out=result.png`: apply a
trained model to images of your own.

One command for every model that can: exemplar and conditional models (`adain`, `munit`, `cvae`,
`cgan`) through `model.stylize(content, style)` (the cGAN finds the style image's latent code by
GAN inversion, `model.inversion_steps` generator passes, so it is slower), translation models
(`cyclegan`) through `model.translate(x, target)` with `direction=a2b|b2a` (its target domain) and no style image.

- `content` is an image file or a folder (searched recursively); `out` is then a `.png` file or a
  folder that mirrors the content folder's layout (`a/b.jpg` -> `out/a/b.png`).
- Inputs are decoded at the model's size and channel count (`model.image_shape`), so results are
  always the model's size. An image whose colour count differs from the model's (a colour photo
  for a grayscale model, or the reverse) is an error unless `convert_channels=true`, which converts
  colour to luminance (ITU-R 601-2) or repeats the gray channel three times.
- Conditional models (`cvae`, `cgan`) take the content image's class from `content_labels=` (a class
  name or index, applied to every content image) and the style image's from `style_labels=`;
  without them the model classifies the images itself.
- `panel=true` writes content | style | result side by side (content | result when translating).
- Nothing the user has is overwritten: an existing output file is an error unless `overwrite=true`,
  and every input is read and checked before anything is written.
"""

from __future__ import annotations

from pathlib import Path

import hydra
import torch
from omegaconf import DictConfig, ListConfig

from genstyle.checkpoints import load_model
from genstyle.cli.common import CONFIG_DIR
from genstyle.cli.inference_options import apply_inference_options
from genstyle.cli.model_list import capable_models
from genstyle.cli.options import command
from genstyle.cli.outputs import plural
from genstyle.cli.stylize_inputs import content_files, load_image, output_paths, style_file
from genstyle.data.sources import FASHION_MNIST_CLASSES
from genstyle.directions import DIRECTIONS, target_domain
from genstyle.errors import GenstyleError, require
from genstyle.images import grid_image, save_png
from genstyle.models.base import GenerativeModule
from genstyle.pixels import to_uint8

BATCH = 64


def capability(model: GenerativeModule, ckpt_path: str) -> str:
    """'stylize' or 'translate': which of the two interfaces this model offers."""
    if callable(getattr(model, "stylize", None)):
        return "stylize"
    if callable(getattr(model, "translate", None)):
        return "translate"
    raise GenstyleError(
        f"ckpt_path={ckpt_path} holds a {model.family} model ({type(model).__name__}), which cannot stylize or "
        f"translate images. Models that can: {capable_models()}. Train one, e.g. `python train.py model=adain`."
    )


def class_index(value: int | str | None, key: str, model: GenerativeModule) -> int | None:
    """A class given by index or name -> its index, for conditional models' `stylize`."""
    if value is None:
        return None
    require(
        key in model.stylize_labels,
        f"{key}={value} is for class-conditional models (cvae, cgan; stargan_v2 takes style_labels only); this "
        f"{model.family} model's stylize takes no {key}. Drop {key}=.",
    )
    names = list(model.class_names()) if callable(getattr(model, "class_names", None)) else []
    require(
        not isinstance(value, (list, tuple, ListConfig)),
        f"{key}={value}: {key} is one class (a name or index) applied to every image, not a list. For images "
        f"of different classes run stylize.py once per class (a folder each), or leave {key} unset so the "
        "classifier labels each image.",
    )
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < (model.num_classes or 0):
        return value
    if isinstance(value, str) and value in names:
        return names.index(value)
    raise GenstyleError(
        f"{key}={value!r} is not a class of this model; use an index 0..{(model.num_classes or 1) - 1}"
        + (f" or a name: {', '.join(names)}." if names else ".")
    )


def attach_classifier(model: GenerativeModule, labels: dict[str, int]) -> None:
    """A conditional model trained on Fashion-MNIST at 28x28 labels the images given without
    classes with the Fashion-MNIST classifier; other models ask for the labels themselves."""
    if len(labels) == 2 or not callable(getattr(model, "use_classifier", None)):
        return
    if model.image_shape != (1, 28, 28) or tuple(model.class_names()) != FASHION_MNIST_CLASSES:
        return
    from genstyle.classifier.fashion_classifier import load_classifier

    try:
        model.use_classifier(load_classifier())
    except GenstyleError as err:
        missing = " and ".join(k for k in ("content_labels", "style_labels") if k not in labels)
        raise GenstyleError(f"{missing} were not given, so the images must be classified, but {err} Or pass {missing}.") from None


def run_model(
    model: GenerativeModule, mode: str, content: torch.Tensor, style: torch.Tensor | None, direction: str | None,
    labels: dict[str, int] | None = None, options: dict | None = None,
) -> torch.Tensor:
    """`(N, C, H, W)` results in [-1, 1], in batches of BATCH. `labels` (conditional models):
    `content_labels` / `style_labels` class indices applied to every image; `options`: keyword
    options of `stylize` (`alpha` for adain)."""
    results = []
    with torch.no_grad():
        for chunk in content.split(BATCH):
            chunk = chunk.to(model.device)
            if mode == "stylize":
                extra = {k: torch.full((len(chunk),), v, dtype=torch.long, device=model.device) for k, v in (labels or {}).items()}
                out = model.stylize(chunk, style.to(model.device).expand(len(chunk), -1, -1, -1), **extra, **(options or {}))
            else:
                out = model.translate(chunk, target_domain(direction))
            require(
                tuple(out.shape) == tuple(chunk.shape),
                f"The model returned images of shape {tuple(out.shape)} for inputs {tuple(chunk.shape)}; the checkpoint is not a working image-to-image model.",
            )
            results.append(out.clamp(-1, 1).cpu())
    return torch.cat(results)


METHODS = ("model", "optimise", "refine")


def latent_options(cfg: DictConfig, model: GenerativeModule) -> tuple[int, int] | None:
    """`(target domain index, n_styles)` for latent-guided translation (`target=`), else None."""
    target, n_styles = cfg.get("target"), cfg.get("n_styles")
    if target is None:
        require(n_styles is None, f"n_styles={n_styles} is for latent-guided translation: give target=<domain name or index> too.")
        return None
    if not callable(getattr(model, "domain_names", None)):
        raise GenstyleError(
            f"target={target} asks for latent-guided translation to a domain, but this {model.family} model "
            f"({type(model).__name__}) has no domains. Models with domains: stargan_v2 (train one with "
            "`python train.py model=stargan_v2`); for this model drop target= and n_styles=."
        )
    require(cfg.style is None, f"target={target} (latent-guided) and style= (reference-guided) exclude each other; give one of them.")
    require(cfg.direction is None, f"direction= is for cyclegan; this {model.family} model takes target=<domain> instead.")
    n_styles = 1 if n_styles is None else n_styles
    require(
        isinstance(n_styles, int) and not isinstance(n_styles, bool) and n_styles >= 1,
        f"n_styles={n_styles} must be a positive integer (the number of diverse results per content image, in one row).",
    )
    index = int(model.domain_index(target, 1, "target")[0])  # unknown names and indices are errors here
    return index, n_styles


def run_latent(model: GenerativeModule, content: torch.Tensor, target: int, n_styles: int, seed: int) -> torch.Tensor:
    """`(N, n_styles, C, H, W)`: each content image translated to `target` with `n_styles` noise
    draws, the same draws for every image (repeatable with `seed`)."""
    z = torch.randn(n_styles, model.latent_dim, generator=torch.Generator().manual_seed(seed))
    rows = []
    with torch.no_grad():
        for image in content:
            batch = image[None].expand(n_styles, -1, -1, -1)
            rows.append(model.translate(batch, target, z=z).clamp(-1, 1).cpu())
    return torch.stack(rows)


def stylize(cfg: DictConfig) -> list[Path]:
    require(cfg.content is not None and cfg.out is not None, "Give content=<image or folder> and out=<.png file or folder>.")
    method = cfg.get("method", "model")
    require(
        method in METHODS,
        f"method={method} is not a stylize method; use method=model (a trained model, ckpt_path=...), method=optimise "
        "(no checkpoint: Gatys et al.'s optimisation with the Fashion-MNIST classifier, content=... style=...) or "
        "method=refine (the model's result, then steps= of that optimisation from it).",
    )
    if method == "optimise":
        from genstyle.cli.stylize_optimise import stylize_by_optimisation

        return stylize_by_optimisation(cfg)
    require(cfg.ckpt_path is not None, "Give ckpt_path=<.ckpt file> of a model that can stylize or translate, or method=optimise to stylize without one.")
    model, _ = load_model(cfg.ckpt_path, cfg.device)
    apply_inference_options(model, cfg.get("use_ema"))
    options = {}
    if cfg.get("alpha") is not None:
        require(
            "alpha" in model.stylize_options,
            f"alpha={cfg.alpha} is the test-time style strength of models whose stylize takes it (adain); this "
            f"{model.family} model has none. Drop alpha=.",
        )
        options["alpha"] = float(cfg.alpha)
    latent = latent_options(cfg, model)
    require(method != "refine" or latent is None,
            "method=refine optimises towards a style image (style=); target= (latent-guided) has none. Drop method=refine or target=.")
    if latent is not None:
        return stylize_latent(cfg, model, *latent)
    mode = capability(model, cfg.ckpt_path)
    if method == "refine":
        from genstyle.cli.stylize_optimise import check_refinable

        check_refinable(model, mode, cfg)
    if mode == "stylize":
        require(cfg.style is not None, f"This {model.family} model stylizes: give style=<image file> (the style exemplar).")
        require(cfg.direction is None, f"direction={cfg.direction} is for translation models (cyclegan); this {model.family} model takes style= instead.")
        style_path = style_file(cfg.style)
    else:
        require(cfg.style is None, f"style= is not used by translation models ({model.family} translates between its two training domains); drop style= and give direction=a2b or b2a.")
        require(cfg.direction in DIRECTIONS, f"direction={cfg.direction} must be one of {', '.join(DIRECTIONS)} for this {model.family} model (a2b: domain A to domain B).")

    labels = {}
    for key in ("content_labels", "style_labels"):
        index = class_index(cfg.get(key), key, model)
        if index is not None:
            require(mode == "stylize", f"{key}= is for class-conditional models (cvae, cgan), not for translation models.")
            labels[key] = index

    if mode == "stylize":
        attach_classifier(model, labels)

    content = Path(cfg.content).expanduser()
    out = Path(cfg.out).expanduser()
    files, is_folder = content_files(content)
    targets = output_paths(files, content, is_folder, out, cfg.overwrite)
    # Read and check every input before writing anything, so a bad file leaves no partial output.
    images = torch.stack([load_image(f, "content", model.image_shape, cfg.convert_channels) for f in files])
    style = load_image(style_path, "style", model.image_shape, cfg.convert_channels)[None] if mode == "stylize" else None

    results = run_model(model, mode, images, style, cfg.direction, labels, options)
    if method == "refine":
        from genstyle.cli.stylize_optimise import optimise_batches

        results = optimise_batches(images, style, cfg, starts=results)
    for i, target in enumerate(targets):
        if cfg.panel:
            row = [images[i], *([style[0]] if style is not None else []), results[i]]
            save_png(grid_image(torch.stack(row), nrow=len(row)), target)
        else:
            save_png(to_uint8(results[i]), target)
    what = "content | style | result panel" if cfg.panel and style is not None else "content | result panel" if cfg.panel else "image"
    print(f"Wrote {plural(len(targets), what)} ({model.image_shape[1]}x{model.image_shape[2]}) to {out}")
    return targets


def stylize_latent(cfg: DictConfig, model: GenerativeModule, target: int, n_styles: int) -> list[Path]:
    """Latent-guided: per content image one row of `n_styles` results in domain `target`
    (content first with `panel=true`); a single result is written as a plain image."""
    require(
        cfg.get("content_labels") is None and cfg.get("style_labels") is None,
        "content_labels= and style_labels= are not used with target= (the target domain is given); drop them.",
    )
    content = Path(cfg.content).expanduser()
    out = Path(cfg.out).expanduser()
    files, is_folder = content_files(content)
    targets = output_paths(files, content, is_folder, out, cfg.overwrite)
    images = torch.stack([load_image(f, "content", model.image_shape, cfg.convert_channels) for f in files])
    results = run_latent(model, images, target, n_styles, int(cfg.seed))
    for i, path in enumerate(targets):
        row = [images[i], *results[i]] if cfg.panel else list(results[i])
        if len(row) == 1:
            save_png(to_uint8(row[0]), path)
        else:
            save_png(grid_image(torch.stack(row), nrow=len(row)), path)
    name = model.domain_names()[target]
    print(f"Wrote {len(targets)} row(s) of {n_styles} latent-guided result(s) in domain {name!r} to {out}")
    return targets


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="stylize")
@command("stylize", interrupted="the results written before it stay; rerun with overwrite=true to redo them")
def main(cfg: DictConfig) -> None:
    stylize(cfg)


if __name__ == "__main__":
    main()
