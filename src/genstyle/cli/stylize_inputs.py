"""The inputs and outputs of `stylize.py` (both methods): reading content and style images at the
model's size with the channel check, and where each result goes without overwriting anything."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from genstyle.cli.outputs import check_output_location
from genstyle.data.sources import IMAGE_SUFFIXES, decode_image, list_images
from genstyle.errors import GenstyleError, file_problem, require
from genstyle.pixels import to_model_range

GRAY_MODES = ("1", "L", "LA", "I", "I;16", "F")


def style_file(style: str) -> Path:
    """`style=` as a path to one readable image file (a folder, device or missing file is an error
    that says which)."""
    path = Path(style).expanduser()
    problem = file_problem(path, "image file")
    require(problem is None, f"style={path}{problem} (give one style image; it is applied to every content image).")
    return path


def colour_channels(path: Path, key: str) -> int:
    """1 for a grayscale image (including RGB files whose three channels are equal), else 3."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            if img.mode in GRAY_MODES:
                return 1
            rgb = np.asarray(img.convert("RGB"))  # forces a full decode: truncated files fail here
    except (UnidentifiedImageError, OSError, ValueError) as err:
        raise GenstyleError(f"{key}: cannot read image {path} ({err}). Give a readable image file ({', '.join(sorted(IMAGE_SUFFIXES))}).") from None
    return 1 if (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all() else 3


def load_image(path: Path, key: str, image_shape: tuple[int, int, int], convert_channels: bool) -> torch.Tensor:
    """One input as `(C, S, S)` in [-1, 1] at the model's size, after the channel check."""
    channels, size, _ = image_shape
    found = colour_channels(path, key)
    if found != channels and not convert_channels:
        kinds = {1: "grayscale", 3: "colour (RGB)"}
        conversion = "to luminance (0.299 R + 0.587 G + 0.114 B)" if channels == 1 else "by repeating the gray channel three times"
        raise GenstyleError(
            f"{key}: {path} is a {kinds[found]} image but the model works on {kinds[channels]} images "
            f"({channels} channel{'s' if channels > 1 else ''}). Give a {kinds[channels]} image, or pass "
            f"convert_channels=true to convert it {conversion}."
        )
    return to_model_range(decode_image(path, channels, size))


def content_files(content: Path) -> tuple[list[Path], bool]:
    """The content images and whether `content` is a folder."""
    if content.is_dir():
        files = list_images(content)
        require(
            bool(files),
            f"content={content} is a folder with no images (looked recursively for {', '.join(sorted(IMAGE_SUFFIXES))}).",
        )
        return files, True
    problem = file_problem(content, "file or folder")
    require(problem is None, f"content={content}{problem}. Give an image file or a folder of images.")
    return [content], False


def output_paths(files: list[Path], content: Path, is_folder: bool, out: Path, overwrite: bool) -> list[Path]:
    """Where each result goes; refuses to replace anything that exists unless `overwrite`."""
    check_output_location(out)
    if is_folder:
        require(not out.is_file(), f"out={out} is a file, but content={content} is a folder: give a folder for out.")
        require(
            out.is_dir() or out.suffix.lower() not in IMAGE_SUFFIXES,
            f"out={out} names an image file, but content={content} is a folder of {len(files)} images: give a folder "
            f"for out (e.g. out={out.with_suffix('')}), where each result is written under its content file's name.",
        )
        targets = [out / f.relative_to(content).with_suffix(".png") for f in files]
        seen: dict[Path, Path] = {}
        for source, target in zip(files, targets, strict=True):
            require(
                target not in seen,
                f"content={content}: {seen.get(target)} and {source} would both be written to {target}; rename one of them.",
            )
            seen[target] = source
    else:
        require(out.suffix.lower() == ".png", f"out={out} must be a .png file when content is a single image.")
        require(not out.is_dir(), f"out={out} is a folder; give a .png file name for a single content image.")
        targets = [out]
    existing = [t for t in targets if t.exists()]
    require(
        overwrite or not existing,
        f"out={out}: {len(existing)} output file(s) already exist (first: {existing[0] if existing else ''}). "
        "Choose another out, or pass overwrite=true to replace them.",
    )
    return targets
