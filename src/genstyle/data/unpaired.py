"""Unpaired two-domain data for translation models (CycleGAN): domain A and domain B images with
no correspondence between them. Batches are `{"image": A, "image_b": B}` (DESIGN.md).

Two sources: a folder in the usual `trainA/ trainB/ testA/ testB/` layout, and two Fashion-MNIST
classes chosen by name. The batch sampler draws A and B indices from *independent* permutations
that change every epoch, so no A image is ever tied to a B image.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import Dataset

from genstyle.data.sources import FASHION_MNIST_CLASSES, ImageSet, load_image_folder
from genstyle.errors import GenstyleError, require
from genstyle.pixels import to_model_range

UNPAIRED_DATASETS = ("unpaired_folder", "fashion_unpaired")


@dataclass
class UnpairedSet:
    """Two domains of one split. `labels` is None: the domain is the only "class" there is."""

    a: ImageSet
    b: ImageSet
    classes: tuple[str, str] = ("A", "B")  # domain names (Fashion-MNIST class names or folder names)
    labels: None = None

    def __len__(self) -> int:
        # One epoch shows every image of the larger domain once (as in the original CycleGAN).
        return max(len(self.a), len(self.b))

    def nbytes(self) -> int:
        return self.a.nbytes() + self.b.nbytes()

    def to(self, device: torch.device) -> UnpairedSet:
        """A copy whose tensors live on `device`."""
        return UnpairedSet(self.a.to(device), self.b.to(device), self.classes)

    def split(self, val_size: int, subset: int | None, seed: int) -> tuple[UnpairedSet, UnpairedSet | None]:
        """Hold out `val_size` images *per domain* for validation (random, by seed); cap the rest
        at `subset` images per domain."""
        parts = []
        for k, data in enumerate((self.a, self.b)):
            require(
                len(data) > val_size,
                f"data.val_size={val_size} leaves no training images in domain {self.classes[k]} "
                f"({len(data)} images in total); lower it.",
            )
            order = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed * 7919 + k))
            train_index = order[val_size:]
            if subset:
                train_index = train_index[:subset]
            parts.append((data.subset(train_index), data.subset(order[:val_size]) if val_size else None))
        (train_a, val_a), (train_b, val_b) = parts
        val = UnpairedSet(val_a, val_b, self.classes) if val_size else None
        return UnpairedSet(train_a, train_b, self.classes), val


# --- sources ------------------------------------------------------------------------------------


def fashion_class_index(name: str, key: str) -> int:
    """Index of a Fashion-MNIST class given by name; an unknown name lists all ten."""
    require(
        name in FASHION_MNIST_CLASSES,
        f"{key}={name!r} is not a Fashion-MNIST class; choose one of {', '.join(FASHION_MNIST_CLASSES)}.",
    )
    return FASHION_MNIST_CLASSES.index(name)


def fashion_domains(data: ImageSet, domain_a: str, domain_b: str, seed: int) -> UnpairedSet:
    """The images of two Fashion-MNIST classes, each domain in its own random order (separate
    generators), so position i of A says nothing about position i of B."""
    index_a = fashion_class_index(domain_a, "data.domain_a")
    index_b = fashion_class_index(domain_b, "data.domain_b")
    require(
        index_a != index_b,
        f"data.domain_a and data.domain_b are both {domain_a!r}; a translation needs two different classes.",
    )
    require(data.labels is not None, f"Fashion-MNIST data from {data.origin} has no labels.")
    domains = []
    for k, index in enumerate((index_a, index_b)):
        members = torch.nonzero(data.labels == index).squeeze(1)
        order = torch.randperm(len(members), generator=torch.Generator().manual_seed(seed * 104729 + 17 * k + 1))
        domain = data.subset(members[order])
        domains.append(ImageSet(domain.images, None, (), f"{data.origin} class {FASHION_MNIST_CLASSES[index]}"))
    return UnpairedSet(domains[0], domains[1], (domain_a, domain_b))


def load_unpaired_folder(root: str | Path, split: str, channels: int, image_size: int) -> UnpairedSet:
    """`root/{split}A` and `root/{split}B`: any image files, any sizes (resized to `image_size`)."""
    root = Path(root).expanduser()
    require(root.is_dir(), f"data.root={root} does not exist or is not a folder; it must hold trainA/ and trainB/.")
    domains = []
    for side in ("A", "B"):
        folder = root / f"{split}{side}"
        if not folder.is_dir():
            present = sorted(p.name for p in root.iterdir() if p.is_dir())
            raise GenstyleError(
                f"data.root={root} has no {folder.name}/ folder (found: {', '.join(present) or 'no folders'}). "
                "Unpaired data uses the layout trainA/ trainB/ testA/ testB/, one image file per image."
                + (" Run with test=false to skip the test split." if split == "test" else "")
            )
        data = load_image_folder(folder, channels, image_size)  # raises on an empty folder
        domains.append(ImageSet(data.images, None, (), str(folder)))
    return UnpairedSet(domains[0], domains[1], (f"{split}A", f"{split}B"))


# --- batches ------------------------------------------------------------------------------------


class UnpairedBatches(Dataset):
    """Indexed by a pair of index lists `(a_indices, b_indices)`; returns the whole batch."""

    def __init__(self, data: UnpairedSet) -> None:
        self.data = data

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: tuple[list[int], list[int]]) -> dict[str, torch.Tensor]:
        idx_a, idx_b = (torch.as_tensor(i, dtype=torch.long) for i in index)
        return {
            "image": to_model_range(self.data.a.images[idx_a]),  # (B, C, H, W) domain A in [-1, 1]
            "image_b": to_model_range(self.data.b.images[idx_b]),  # (B, C, H, W) domain B in [-1, 1]
        }


def _cycled_order(n: int, length: int, generator: torch.Generator | None) -> torch.Tensor:
    """`length` indices into a domain of `n` images: whole permutations (or aranges) repeated."""
    reps = -(-length // n)
    if generator is None:
        return torch.arange(n).repeat(reps)[:length]
    return torch.cat([torch.randperm(n, generator=generator) for _ in range(reps)])[:length]


def _rank_world() -> tuple[int, int]:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


class UnpairedBatchSampler(torch.utils.data.Sampler):
    """Yields `(a_indices, b_indices)` per batch. With `shuffle`, both orders are independent
    permutations and pure functions of (seed, epoch), like `EpochBatchSampler`, so a resumed run
    sees the same batches; the smaller domain is cycled to the length of the larger one."""

    def __init__(
        self, n_a: int, n_b: int, batch_size: int, shuffle: bool, drop_last: bool, seed: int, device: torch.device | None = None
    ) -> None:
        self.n_a, self.n_b = n_a, n_b
        self.device = device  # device-resident data: yield index tensors there (same order)
        self.batch_size, self.shuffle, self.drop_last, self.seed = batch_size, shuffle, drop_last, seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _batches(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        length = max(self.n_a, self.n_b)
        gen_a = gen_b = None
        if self.shuffle:
            base = self.seed * 100003 + self.epoch
            gen_a = torch.Generator().manual_seed(2 * base)
            gen_b = torch.Generator().manual_seed(2 * base + 1)
        order_a, order_b = _cycled_order(self.n_a, length, gen_a), _cycled_order(self.n_b, length, gen_b)
        batches = list(zip(order_a.split(self.batch_size), order_b.split(self.batch_size), strict=True))
        if self.drop_last and batches and len(batches[-1][0]) < self.batch_size:
            batches.pop()
        rank, world = _rank_world()  # same rule as EpochBatchSampler: every rank, same step count
        if world > 1:
            usable = len(batches) - len(batches) % world
            batches = batches[rank:usable:world]
        return batches

    def __iter__(self) -> Iterator[tuple[list[int], list[int]] | tuple[torch.Tensor, torch.Tensor]]:
        if self.device is not None:
            from genstyle.data.device import batches_to_device

            batches = self._batches()
            a = batches_to_device([a for a, _ in batches], self.device)
            b = batches_to_device([b for _, b in batches], self.device)
            yield from zip(a, b, strict=True)
            return
        for a, b in self._batches():
            yield a.tolist(), b.tolist()

    def __len__(self) -> int:
        return len(self._batches())
