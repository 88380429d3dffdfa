"""A two-domain image folder written by the tests: trainA/ trainB/ testA/ testB/ with PNGs of
different sizes and modes, so loading has to resize and convert."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

# (width, height) per image, cycled: the two domains also differ in how many images they hold.
SIZES_A = [(20, 30), (40, 40), (33, 17)]
SIZES_B = [(64, 48), (16, 16)]


def write_two_domain_folder(root: Path, n_train: tuple[int, int] = (6, 9), n_test: tuple[int, int] = (3, 2)) -> Path:
    """Domain A: RGB images with horizontal stripes; domain B: grayscale JPEG-free PNGs with discs."""
    rng = np.random.default_rng(0)
    for split, (n_a, n_b) in (("train", n_train), ("test", n_test)):
        for side, n, sizes in (("A", n_a, SIZES_A), ("B", n_b, SIZES_B)):
            folder = root / f"{split}{side}"
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                w, h = sizes[i % len(sizes)]
                yy, xx = np.mgrid[:h, :w]
                if side == "A":
                    base = ((yy // 3) % 2 * 200)[..., None] * np.array([1.0, 0.5, 0.2])
                    img = Image.fromarray((base + rng.integers(0, 40, (h, w, 3))).clip(0, 255).astype(np.uint8), "RGB")
                else:
                    disc = ((yy - h / 2) ** 2 + (xx - w / 2) ** 2 < (min(h, w) / 3) ** 2) * 220
                    img = Image.fromarray((disc + rng.integers(0, 30, (h, w))).clip(0, 255).astype(np.uint8), "L")
                img.save(folder / f"{side.lower()}_{i:03d}.png")
    return root
