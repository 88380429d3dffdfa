"""The one LightningDataModule every model family trains on.

Images are decoded once into a uint8 tensor in memory; a batch is one fancy-index into that
tensor plus one vectorised conversion to `[-1, 1]`, so loading never limits training.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Sampler

from genstyle.data.device import (
    batches_to_device,
    check_on_device,
    choose_data_device,
)
from genstyle.data.resumable import resumable
from genstyle.data.sources import (
    ImageSet,
    load_fashion_mnist,
    load_image_folder,
    load_torchvision,
    resize_images,
)
from genstyle.data.unpaired import (
    UNPAIRED_DATASETS,
    UnpairedBatches,
    UnpairedBatchSampler,
    UnpairedSet,
    fashion_class_index,
    fashion_domains,
    load_unpaired_folder,
)
from genstyle.errors import GenstyleError, require
from genstyle.pixels import to_model_range

DATASETS = ("fashion_mnist", "mnist", "cifar10", "image_folder", *UNPAIRED_DATASETS)


class InMemoryBatches(torch.utils.data.Dataset):
    """Indexed by a *list* of indices and returns a whole batch dict (see DESIGN.md)."""

    def __init__(self, data: ImageSet) -> None:
        self.data = data

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: list[int]) -> dict[str, torch.Tensor]:
        idx = torch.as_tensor(index, dtype=torch.long)
        batch = {"image": to_model_range(self.data.images[idx])}  # (B, C, H, W) in [-1, 1]
        if self.data.labels is not None:
            batch["label"] = self.data.labels[idx]
        return batch


class EpochBatchSampler(Sampler[list[int]]):
    """Yields lists of indices. With `shuffle`, the order is a pure function of (seed, epoch),
    so a resumed run sees exactly the batches the uninterrupted run would have seen. Under
    distributed training each rank takes every world_size-th batch of the same permutation."""

    def __init__(
        self, n: int, batch_size: int, shuffle: bool, drop_last: bool, seed: int, device: torch.device | None = None
    ) -> None:
        self.n, self.batch_size, self.shuffle, self.drop_last, self.seed = n, batch_size, shuffle, drop_last, seed
        self.device = device  # device-resident data: yield index tensors there (same order)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:  # called by Lightning at the start of every epoch
        self.epoch = epoch

    def _rank_world(self) -> tuple[int, int]:
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            return torch.distributed.get_rank(), torch.distributed.get_world_size()
        return 0, 1

    def _batches(self) -> list[torch.Tensor]:
        if self.shuffle:
            order = torch.randperm(self.n, generator=torch.Generator().manual_seed(self.seed * 100003 + self.epoch))
        else:
            order = torch.arange(self.n)
        batches = list(order.split(self.batch_size))
        if self.drop_last and batches and len(batches[-1]) < self.batch_size:
            batches.pop()
        rank, world = self._rank_world()
        if world > 1:
            usable = len(batches) - len(batches) % world  # every rank gets the same number of steps
            batches = batches[rank:usable:world]
        return batches

    def __iter__(self) -> Iterator[list[int] | torch.Tensor]:
        if self.device is not None:
            yield from batches_to_device(self._batches(), self.device)
            return
        for batch in self._batches():
            yield batch.tolist()

    def __len__(self) -> int:
        return len(self._batches())


def _tensors(data: ImageSet | UnpairedSet) -> list[torch.Tensor]:
    return [data.a.images, data.b.images] if isinstance(data, UnpairedSet) else [data.images]


class ImageDataModule(pl.LightningDataModule):
    """Fashion-MNIST, MNIST, CIFAR-10 or any image folder, with batches `{"image", "label"}`;
    or two unpaired domains (`unpaired_folder`, `fashion_unpaired` with `domain_a`/`domain_b`),
    with batches `{"image", "image_b"}` and `val_size`/`train_subset` counted per domain."""

    def __init__(
        self,
        dataset: str = "fashion_mnist",
        root: str | None = None,
        download_dir: str | None = None,
        download: bool = True,
        image_size: int = 28,
        channels: int = 1,
        num_classes: int | None = 10,
        batch_size: int = 128,
        val_size: int = 5000,
        train_subset: int | None = None,
        num_workers: int = 0,
        seed: int = 0,
        domain_a: str | None = None,
        domain_b: str | None = None,
        on_device: str | bool = "auto",
    ) -> None:
        super().__init__()
        require(dataset in DATASETS, f"data.dataset={dataset!r} is not known; choose one of {', '.join(DATASETS)}.")
        require(isinstance(batch_size, int) and batch_size > 0, f"data.batch_size={batch_size} must be a positive integer (e.g. 128).")
        require(isinstance(image_size, int) and image_size >= 8, f"data.image_size={image_size} must be an integer >= 8.")
        require(channels in (1, 3), f"data.channels={channels} must be 1 (grayscale) or 3 (RGB).")
        require(isinstance(val_size, int) and val_size >= 0, f"data.val_size={val_size} must be a non-negative integer.")
        require(num_workers >= 0, f"data.num_workers={num_workers} must be >= 0.")
        require(train_subset is None or train_subset > 0, f"data.train_subset={train_subset} must be positive or null.")
        if dataset in ("image_folder", "unpaired_folder"):
            require(root is not None, f"data={dataset} needs data.root=/path/to/images.")
        if dataset == "fashion_unpaired":
            require(domain_a is not None and domain_b is not None, "data=fashion_unpaired needs data.domain_a and data.domain_b (Fashion-MNIST class names).")
            fashion_class_index(domain_a, "data.domain_a")  # an unknown name fails now, before any loading
            fashion_class_index(domain_b, "data.domain_b")
        else:
            require(domain_a is None and domain_b is None, f"data.domain_a/data.domain_b apply to data=fashion_unpaired only, not {dataset}.")
        self.save_hyperparameters()
        self.dataset, self.root, self.download_dir, self.download = dataset, root, download_dir, download
        self.image_size, self.channels, self.num_classes = image_size, channels, num_classes
        self.batch_size, self.val_size, self.train_subset = batch_size, val_size, train_subset
        self.num_workers, self.seed = num_workers, seed
        self.domain_a, self.domain_b = domain_a, domain_b
        self.on_device = check_on_device(on_device)
        self._device_copies: dict[int, tuple[ImageSet | UnpairedSet, ImageSet | UnpairedSet]] = {}
        self.train_set: ImageSet | UnpairedSet | None = None
        self.val_set: ImageSet | UnpairedSet | None = None
        self.test_set: ImageSet | UnpairedSet | None = None

    @property
    def unpaired(self) -> bool:
        return self.dataset in UNPAIRED_DATASETS

    # --- loading -------------------------------------------------------------------------------

    def load_split(self, split: str) -> ImageSet | UnpairedSet:
        """Decode one official split (`train` or `test`) at the configured size and channels."""
        if self.dataset == "unpaired_folder":
            return load_unpaired_folder(self.root, split, self.channels, self.image_size)
        if self.dataset == "fashion_unpaired":
            require(self.channels == 1, f"data.channels={self.channels} but Fashion-MNIST has 1 channel; use data.channels=1.")
            data = load_fashion_mnist(split, self.root, self.download_dir, self.download)
            domains = fashion_domains(data, self.domain_a, self.domain_b, self.seed)
            for d in (domains.a, domains.b):
                d.images = resize_images(d.images, self.image_size)
            return domains
        if self.dataset == "fashion_mnist":
            data = load_fashion_mnist(split, self.root, self.download_dir, self.download)
        elif self.dataset in ("mnist", "cifar10"):
            data = load_torchvision(self.dataset, split, self.root or self.download_dir or "data", self.download)
        else:
            return self._load_folder_split(split)
        require(
            data.images.shape[1] == self.channels,
            f"data.channels={self.channels} but {self.dataset} has {data.images.shape[1]} channel(s); "
            f"use data.channels={data.images.shape[1]}.",
        )
        data.images = resize_images(data.images, self.image_size)
        return data

    def _load_folder_split(self, split: str) -> ImageSet:
        # A folder with train/ and test/ sub-folders has official splits; otherwise the whole
        # folder is the training set and the test split is the validation split.
        from pathlib import Path

        root = Path(self.root).expanduser()
        if (root / "train").is_dir():
            sub = root / split
            if not sub.is_dir():
                sub = root / "train"
            return load_image_folder(sub, self.channels, self.image_size)
        return load_image_folder(root, self.channels, self.image_size)

    def prepare_data(self) -> None:
        # Runs once per node before setup: finds (or downloads) and verifies both splits, so a
        # missing or corrupt file fails before anything is trained (decoded sets are cached).
        if self.dataset in ("fashion_mnist", "fashion_unpaired"):
            for split in ("train", "test"):
                load_fashion_mnist(split, self.root, self.download_dir, self.download)

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is None and self.unpaired:
            self.train_set, self.val_set = self.load_split("train").split(self.val_size, self.train_subset, self.seed)
            require(
                len(self.train_set) >= self.batch_size,
                f"data.batch_size={self.batch_size} is larger than the training set ({len(self.train_set)} images); lower it.",
            )
        if self.train_set is None:
            full = self.load_split("train")
            require(
                len(full) > self.val_size,
                f"data.val_size={self.val_size} leaves no training images ({len(full)} in total); lower it.",
            )
            order = torch.randperm(len(full), generator=torch.Generator().manual_seed(self.seed))
            self.val_set = full.subset(order[: self.val_size]) if self.val_size else None
            train_index = order[self.val_size :]
            if self.train_subset:
                train_index = train_index[: self.train_subset]
            self.train_set = full.subset(train_index)
            require(
                len(self.train_set) >= self.batch_size,
                f"data.batch_size={self.batch_size} is larger than the training set ({len(self.train_set)} images); lower it.",
            )
        if stage in ("test", None) and self.test_set is None:
            self.test_set = self.load_split("test")

    # --- loaders -------------------------------------------------------------------------------

    def data_device(self, data: ImageSet | UnpairedSet) -> torch.device | None:
        """The device `data` is served from (None: host memory), per `data.on_device`."""
        trainer = self.trainer  # set by Lightning while it runs
        device = trainer.strategy.root_device if trainer is not None else torch.device("cpu")
        return choose_data_device(self.on_device, device, data.nbytes(), self.num_workers)

    def _on_device(self, data: ImageSet | UnpairedSet, device: torch.device) -> ImageSet | UnpairedSet:
        # One copy per split and device, made on first use; the host copy stays as it is.
        source, copy = self._device_copies.get(id(data), (None, None))
        if source is not data or next(iter(_tensors(copy))).device != device:
            copy = data.to(device)
            self._device_copies[id(data)] = (data, copy)
        return copy

    def _loader(self, data: ImageSet | UnpairedSet, shuffle: bool) -> DataLoader:
        device = self.data_device(data)
        if device is not None:
            data = self._on_device(data, device)
        if isinstance(data, UnpairedSet):
            sampler = UnpairedBatchSampler(
                len(data.a), len(data.b), self.batch_size, shuffle, drop_last=shuffle, seed=self.seed, device=device
            )
            dataset = UnpairedBatches(data)
        else:
            sampler = EpochBatchSampler(len(data), self.batch_size, shuffle=shuffle, drop_last=shuffle, seed=self.seed, device=device)
            dataset = InMemoryBatches(data)
        return DataLoader(
            dataset,
            sampler=sampler,
            batch_size=None,  # the sampler yields whole batches
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        # resumable mid-epoch: checkpoints record how many batches of the epoch were trained on
        return resumable(self._loader(self.train_set, shuffle=True), self._train_batches_done)

    def _train_batches_done(self) -> int:
        trainer = self.trainer  # set by Lightning while it runs
        return trainer.fit_loop.epoch_loop.batch_progress.current.processed if trainer is not None else 0

    def val_dataloader(self) -> DataLoader | list:
        return self._loader(self.val_set, shuffle=False) if self.val_set is not None else []

    def test_dataloader(self) -> DataLoader:
        if self.test_set is None:
            self.setup("test")
        return self._loader(self.test_set, shuffle=False)

    # --- facts other pieces need ---------------------------------------------------------------

    @property
    def classes(self) -> tuple[str, ...]:
        data = self.train_set
        return tuple(data.classes) if data is not None else ()

    def label_distribution(self) -> torch.Tensor | None:
        """Class frequencies of the training split, for sampling conditional models."""
        if self.train_set is None or self.train_set.labels is None:
            return None
        counts = torch.bincount(self.train_set.labels, minlength=self.num_classes or 0).float()
        return counts / counts.sum()

    def state_dict(self) -> dict:
        return {"seed": self.seed, "dataset": self.dataset}

    def load_state_dict(self, state: dict) -> None:
        if state.get("seed") != self.seed:
            raise GenstyleError(
                f"The checkpoint was trained with data seed {state.get('seed')}, this run uses {self.seed}; "
                "resume with the same seed so the data order matches."
            )
