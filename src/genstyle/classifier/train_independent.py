"""Train the independent evaluation network on the official Fashion-MNIST train split.

    python -m genstyle.classifier.train_independent --seed 2027 --epochs 5 --threads 1

Different from the shipped classifier's training (`genstyle.classifier.train`) in its network
(`independent.py`), seed, objective (a cosine class head with label smoothing instead of plain
cross-entropy on a dense head), optimiser (AdamW with a warm-up and cosine decay instead of SGD
with a one-cycle schedule) and augmentation (shifts of up to 2 pixels, flips and an 8x8 cutout,
instead of 1-pixel shifts and flips). Deterministic in its seed on CPU with one thread (the
default; on a loaded machine one thread also wastes the least CPU).
Test accuracy is measured once, after training, on the official 10k test split; nothing is tuned
on it during the run. Prints the new file's sha256: a retrained file is refused at load until that
hash is put in `SHIPPED_SHA256` (and the documented numbers re-measured).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from genstyle.classifier.independent import (
    FORMAT_VERSION,
    WEIGHTS_PATH,
    IndependentClassifier,
    weights_sha256,
)
from genstyle.classifier.train import augment, evaluate, fit
from genstyle.data.sources import load_fashion_mnist
from genstyle.errors import GenstyleError, require
from genstyle.files import save_torch_atomic
from genstyle.pixels import to_model_range


@dataclass
class IndependentConfig:
    seed: int = 2027
    epochs: int = 5
    batch_size: int = 128
    lr: float = 3e-3  # AdamW peak, after a one-epoch linear warm-up, then cosine decay to 0
    weight_decay: float = 0.05
    label_smoothing: float = 0.1
    max_shift: int = 2  # pixels, each direction
    cutout: int = 8  # side of the square set to background, in half the images (0: none)


def cutout(x: torch.Tensor, size: int, generator: torch.Generator) -> torch.Tensor:
    """Set a random `size` x `size` square (clipped at the border) to background in half the images."""
    if size <= 0:
        return x
    b, _, h, w = x.shape
    cy = torch.randint(0, h, (b,), generator=generator)
    cx = torch.randint(0, w, (b,), generator=generator)
    apply = torch.rand(b, generator=generator) < 0.5
    rows = (torch.arange(h)[None, :] - cy[:, None]).abs() <= size // 2  # (B, H)
    cols = (torch.arange(w)[None, :] - cx[:, None]).abs() <= size // 2  # (B, W)
    mask = rows[:, :, None] & cols[:, None, :] & apply[:, None, None]  # (B, H, W)
    return x.masked_fill(mask[:, None], -1.0)


def train(
    images: torch.Tensor, labels: torch.Tensor, cfg: IndependentConfig, log: Callable[[str], None] = print
) -> IndependentClassifier:
    """Train a fresh independent network on uint8 `images` `(N, 1, 28, 28)` with int64 `labels`."""
    require(cfg.epochs > 0 and cfg.batch_size > 0, f"epochs={cfg.epochs} and batch_size={cfg.batch_size} must be > 0.")
    torch.manual_seed(cfg.seed)  # initialisation
    generator = torch.Generator().manual_seed(cfg.seed)  # order and augmentation
    model = IndependentClassifier().to(memory_format=torch.channels_last)
    data = to_model_range(images)
    steps_per_epoch = (len(data) + cfg.batch_size - 1) // cfg.batch_size
    total = cfg.epochs * steps_per_epoch
    warmup = min(steps_per_epoch, total // 2)  # one epoch (half the run when it is one epoch long)
    decay = [p for p in model.parameters() if p.ndim > 1]  # convolutions and linear layers
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=cfg.lr, betas=(0.9, 0.99),
    )  # fmt: skip
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: (s + 1) / warmup if s < warmup else 0.5 * (1 + math.cos(math.pi * min(1.0, (s - warmup) / (total - warmup))))
    )
    return fit(
        model, data, labels, cfg.epochs, cfg.batch_size, optimizer, schedule, generator,
        transform=lambda x: cutout(augment(x, cfg.max_shift, True, generator), cfg.cutout, generator),
        label_smoothing=cfg.label_smoothing, log=log,
    )  # fmt: skip


def command_line(cfg: IndependentConfig, threads: int) -> str:
    """The command that reproduces a run, written into the weights file."""
    parts = ["python -m genstyle.classifier.train_independent", f"--seed {cfg.seed}", f"--epochs {cfg.epochs}"]
    defaults = IndependentConfig()
    for flag, value, default in [
        ("--batch-size", cfg.batch_size, defaults.batch_size), ("--lr", cfg.lr, defaults.lr),
        ("--max-shift", cfg.max_shift, defaults.max_shift), ("--cutout", cfg.cutout, defaults.cutout),
    ]:  # fmt: skip
        if value != default:
            parts.append(f"{flag} {value}")
    parts.append(f"--threads {threads}")
    return " ".join(parts)


def save_weights(model: IndependentClassifier, path: Path, cfg: IndependentConfig, test_accuracy: float, threads: int) -> None:
    """Write state_dict + metadata (plain values only, so `weights_only=True` loads it) atomically."""
    payload = {
        "format_version": FORMAT_VERSION,
        "state_dict": {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()},
        "stem": model.stem_width,
        "widths": list(model.widths),
        "feature_dim": model.feature_dim,
        "scale": model.scale,
        "test_accuracy": float(test_accuracy),
        "test_split": "fashion-mnist official test (10000 images)",
        "train_split": "fashion-mnist official train (60000 images)",
        "objective": f"cosine head, cross-entropy with label smoothing {cfg.label_smoothing}",
        "seed": cfg.seed,
        "epochs": cfg.epochs,
        "batch_size": cfg.batch_size,
        "lr": cfg.lr,
        "weight_decay": cfg.weight_decay,
        "max_shift": cfg.max_shift,
        "cutout": cfg.cutout,
        "threads": threads,
        "torch_version": str(torch.__version__),
        "command": command_line(cfg, threads),
    }
    save_torch_atomic(payload, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    defaults = IndependentConfig()
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--lr", type=float, default=defaults.lr)
    parser.add_argument("--max-shift", type=int, default=defaults.max_shift, help="augmentation shift in pixels")
    parser.add_argument("--cutout", type=int, default=defaults.cutout, help="cutout square side in pixels (0: none)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (1 keeps runs bit-reproducible)")
    parser.add_argument("--out", type=Path, default=WEIGHTS_PATH, help=f"weights file (default {WEIGHTS_PATH})")
    parser.add_argument("--data-root", default=None, help="folder with the Fashion-MNIST .gz files (optional)")
    args = parser.parse_args(argv)
    cfg = IndependentConfig(
        seed=args.seed, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
        max_shift=args.max_shift, cutout=args.cutout,
    )  # fmt: skip
    torch.set_num_threads(args.threads)
    try:
        train_set = load_fashion_mnist("train", root=args.data_root, download=False)
        test_set = load_fashion_mnist("test", root=args.data_root, download=False)
        start = time.perf_counter()
        model = train(train_set.images, train_set.labels, cfg, log=lambda s: print(s, flush=True))
        seconds = time.perf_counter() - start
        accuracy = evaluate(model, test_set.images, test_set.labels)
        save_weights(model, args.out, cfg, accuracy, args.threads)
    except GenstyleError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(
        f"test accuracy {accuracy:.4f} on {len(test_set)} official test images; trained {cfg.epochs} epochs "
        f"in {seconds:.0f}s ({args.threads} thread(s)); wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KiB), "
        f"sha256 {weights_sha256(args.out)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
