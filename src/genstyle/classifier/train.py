"""Train the metric classifier on the official Fashion-MNIST train split and ship its weights.

    python -m genstyle.classifier.train --seed 0 --epochs 12

Deterministic in its seed on CPU with one thread (`--threads 1`, the default): the seed fixes the
initialisation, dropout, the shuffling and the augmentation (random shifts of up to 1 pixel and
horizontal flips). Test accuracy is measured once, after training, on the official 10k test split;
nothing is tuned on it during the run. The weights file is a dict of tensors and plain values
that loads with `torch.load(..., weights_only=True)`.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import torch
import torch.nn.functional as F

from genstyle.classifier.fashion_classifier import FORMAT_VERSION, WEIGHTS_PATH, FashionClassifier
from genstyle.data.sources import load_fashion_mnist
from genstyle.errors import GenstyleError, require
from genstyle.files import save_torch_atomic
from genstyle.modes import evaluating
from genstyle.pixels import to_model_range

ClassifierNet = TypeVar("ClassifierNet", bound=torch.nn.Module)


@dataclass
class TrainConfig:
    seed: int = 0
    epochs: int = 12
    batch_size: int = 128
    lr: float = 0.1  # peak of the one-cycle schedule (SGD, Nesterov momentum 0.9)
    weight_decay: float = 5e-4
    max_shift: int = 1  # pixels, each direction
    flip: bool = True


def augment(x: torch.Tensor, max_shift: int, flip: bool, generator: torch.Generator) -> torch.Tensor:
    """Random translation (background-padded) and horizontal flip of a `(B, 1, H, W)` batch in `[-1, 1]`."""
    b, _, h, w = x.shape
    if max_shift > 0:
        padded = F.pad(x, (max_shift,) * 4, value=-1.0)  # -1 is the black background
        dy = torch.randint(0, 2 * max_shift + 1, (b,), generator=generator)
        dx = torch.randint(0, 2 * max_shift + 1, (b,), generator=generator)
        rows = (dy[:, None] + torch.arange(h))[:, :, None]  # (B, H, 1)
        cols = (dx[:, None] + torch.arange(w))[:, None, :]  # (B, 1, W)
        x = padded[torch.arange(b)[:, None, None], 0, rows, cols].unsqueeze(1)  # (B, 1, H, W)
    if flip:
        mask = torch.rand(b, generator=generator) < 0.5
        x = torch.where(mask[:, None, None, None], x.flip(-1), x)
    return x


@torch.no_grad()
def evaluate(model: FashionClassifier, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 1000) -> float:
    """Top-1 accuracy of `model` on uint8 images `(N, 1, 28, 28)`."""
    correct = 0
    with evaluating(model):
        for start in range(0, len(images), batch_size):
            x = to_model_range(images[start : start + batch_size]).contiguous(memory_format=torch.channels_last)
            correct += int((model(x).argmax(1) == labels[start : start + batch_size]).sum())
    return correct / len(images)


def train(
    images: torch.Tensor, labels: torch.Tensor, cfg: TrainConfig, log: Callable[[str], None] = print
) -> FashionClassifier:
    """Train a fresh classifier on uint8 `images` `(N, 1, 28, 28)` with int64 `labels` `(N,)`."""
    require(cfg.epochs > 0 and cfg.batch_size > 0, f"epochs={cfg.epochs} and batch_size={cfg.batch_size} must be > 0.")
    torch.manual_seed(cfg.seed)  # initialisation and dropout
    generator = torch.Generator().manual_seed(cfg.seed)  # order and augmentation
    model = FashionClassifier().to(memory_format=torch.channels_last)  # ~1.5x faster convs on CPU
    data = to_model_range(images)  # (N, 1, 28, 28) float, converted once
    steps_per_epoch = (len(data) + cfg.batch_size - 1) // cfg.batch_size
    decay = [p for n, p in model.named_parameters() if p.ndim > 1]  # no weight decay on norms and biases
    no_decay = [p for n, p in model.named_parameters() if p.ndim <= 1]
    optimizer = torch.optim.SGD(
        [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=cfg.lr, momentum=0.9, nesterov=True,
    )
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=cfg.lr, epochs=cfg.epochs, steps_per_epoch=steps_per_epoch, pct_start=0.2
    )
    return fit(
        model, data, labels, cfg.epochs, cfg.batch_size, optimizer, schedule, generator,
        transform=lambda x: augment(x, cfg.max_shift, cfg.flip, generator), log=log,
    )  # fmt: skip


def fit(
    model: ClassifierNet,
    data: torch.Tensor,
    labels: torch.Tensor,
    epochs: int,
    batch_size: int,
    optimizer: torch.optim.Optimizer,
    schedule: torch.optim.lr_scheduler.LRScheduler,
    generator: torch.Generator,
    transform: Callable[[torch.Tensor], torch.Tensor],
    label_smoothing: float = 0.0,
    log: Callable[[str], None] = print,
) -> ClassifierNet:
    """The epoch loop both evaluation networks train with: batches in an order drawn from
    `generator`, each `transform`ed (the augmentation, drawing from the same generator) and put in
    the channels-last layout, one optimiser and schedule step per batch, a log line per epoch.
    Returns the model in eval mode and the contiguous layout."""
    steps_per_epoch = (len(data) + batch_size - 1) // batch_size
    start = time.perf_counter()
    model.train()
    for epoch in range(epochs):
        order = torch.randperm(len(data), generator=generator)
        loss_sum, correct = 0.0, 0
        for step in range(steps_per_epoch):
            index = order[step * batch_size : (step + 1) * batch_size]
            x = transform(data[index]).contiguous(memory_format=torch.channels_last)
            y = labels[index]
            logits = model(x)
            loss = F.cross_entropy(logits, y, label_smoothing=label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            loss_sum += loss.item() * len(index)
            correct += int((logits.argmax(1) == y).sum())
        log(
            f"epoch {epoch + 1}/{epochs}  train loss {loss_sum / len(data):.4f}  "
            f"train acc (augmented) {correct / len(data):.4f}  {time.perf_counter() - start:.0f}s"
        )
    model.eval()
    return model.to(memory_format=torch.contiguous_format)


def command_line(cfg: TrainConfig, threads: int) -> str:
    """The command that reproduces a run, written into the weights file."""
    parts = ["python -m genstyle.classifier.train", f"--seed {cfg.seed}", f"--epochs {cfg.epochs}"]
    defaults = TrainConfig()
    if cfg.batch_size != defaults.batch_size:
        parts.append(f"--batch-size {cfg.batch_size}")
    if cfg.lr != defaults.lr:
        parts.append(f"--lr {cfg.lr}")
    if cfg.max_shift != defaults.max_shift:
        parts.append(f"--max-shift {cfg.max_shift}")
    if not cfg.flip:
        parts.append("--no-flip")
    if threads != 1:
        parts.append(f"--threads {threads}")
    return " ".join(parts)


def save_weights(model: FashionClassifier, path: Path, cfg: TrainConfig, test_accuracy: float, threads: int) -> None:
    """Write state_dict + metadata (plain values only, so `weights_only=True` loads it) atomically."""
    payload = {
        "format_version": FORMAT_VERSION,
        "state_dict": {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()},
        "widths": list(model.widths),
        "feature_dim": model.feature_dim,
        "test_accuracy": float(test_accuracy),
        "test_split": "fashion-mnist official test (10000 images)",
        "train_split": "fashion-mnist official train (60000 images)",
        "seed": cfg.seed,
        "epochs": cfg.epochs,
        "batch_size": cfg.batch_size,
        "lr": cfg.lr,
        "weight_decay": cfg.weight_decay,
        "max_shift": cfg.max_shift,
        "flip": int(cfg.flip),
        "threads": threads,
        "torch_version": str(torch.__version__),  # TorchVersion is not a plain str
        "command": command_line(cfg, threads),
    }
    save_torch_atomic(payload, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=TrainConfig.seed)
    parser.add_argument("--epochs", type=int, default=TrainConfig.epochs)
    parser.add_argument("--batch-size", type=int, default=TrainConfig.batch_size)
    parser.add_argument("--lr", type=float, default=TrainConfig.lr)
    parser.add_argument("--max-shift", type=int, default=TrainConfig.max_shift, help="augmentation shift in pixels")
    parser.add_argument("--no-flip", action="store_true", help="no horizontal-flip augmentation")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (1 keeps runs bit-reproducible)")
    parser.add_argument("--out", type=Path, default=WEIGHTS_PATH, help=f"weights file (default {WEIGHTS_PATH})")
    parser.add_argument("--data-root", default=None, help="folder with the Fashion-MNIST .gz files (optional)")
    args = parser.parse_args(argv)
    cfg = TrainConfig(
        seed=args.seed, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
        max_shift=args.max_shift, flip=not args.no_flip,
    )
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
    size_kib = args.out.stat().st_size / 1024
    print(
        f"test accuracy {accuracy:.4f} on {len(test_set)} official test images; trained {cfg.epochs} epochs "
        f"in {seconds:.0f}s ({args.threads} thread(s)); wrote {args.out} ({size_kib:.0f} KiB)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
