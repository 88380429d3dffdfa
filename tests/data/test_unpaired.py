"""Unpaired two-domain data: Fashion-MNIST class pairs and trainA/trainB folders."""

from __future__ import annotations

import pytest
import torch

from genstyle.data import FASHION_MNIST_CLASSES, ImageDataModule, ImageSet
from genstyle.data.unpaired import UnpairedBatchSampler, fashion_domains
from genstyle.errors import GenstyleError
from tests.data.unpaired_folder import write_two_domain_folder


def fashion_dm(root, **kwargs) -> ImageDataModule:
    args = dict(dataset="fashion_unpaired", root=str(root), download=False, domain_a="sneaker", domain_b="ankle_boot",
                num_classes=None, batch_size=16, val_size=20, train_subset=64)  # fmt: skip
    return ImageDataModule(**{**args, **kwargs})


def test_fashion_pair_batches_carry_both_domains_of_the_right_classes(fmnist_root):
    dm = fashion_dm(fmnist_root)
    dm.setup("fit")
    assert dm.classes == ("sneaker", "ankle_boot") and dm.label_distribution() is None
    assert (len(dm.train_set.a), len(dm.train_set.b), len(dm.val_set.a), len(dm.val_set.b)) == (64, 64, 20, 20)
    batch = next(iter(dm.train_dataloader()))
    assert set(batch) == {"image", "image_b"}
    for key in ("image", "image_b"):
        assert batch[key].shape == (16, 1, 28, 28) and batch[key].dtype == torch.float32
        assert -1.0 <= batch[key].min() and batch[key].max() <= 1.0
    # Every image comes from its class: compare with the labelled source images.
    from genstyle.data.sources import load_fashion_mnist

    full = load_fashion_mnist("train", str(fmnist_root))
    flat = full.images.flatten(1)
    for images, name in ((dm.train_set.a.images, "sneaker"), (dm.train_set.b.images, "ankle_boot")):
        for img in images[:8]:
            matches = (flat == img.flatten()).all(1).nonzero().squeeze(1)
            assert len(matches) >= 1 and FASHION_MNIST_CLASSES[int(full.labels[matches[0]])] == name
    # Validation and training images are disjoint within each domain.
    train_rows = {tuple(x.flatten().tolist()) for x in dm.train_set.a.images}
    assert not any(tuple(x.flatten().tolist()) in train_rows for x in dm.val_set.a.images)


def test_domains_are_shuffled_independently():
    # Image k carries its index k in its pixels, so positions can be traced.
    n = 40
    images = torch.arange(n, dtype=torch.uint8).view(n, 1, 1, 1).expand(n, 1, 4, 4).contiguous()
    labels = torch.tensor([7, 9] * (n // 2))  # sneaker, ankle_boot alternating
    pair = fashion_domains(ImageSet(images, labels, FASHION_MNIST_CLASSES), "sneaker", "ankle_boot", seed=0)
    idx_a, idx_b = pair.a.images[:, 0, 0, 0].long(), pair.b.images[:, 0, 0, 0].long()
    assert set(idx_a.tolist()) == set(range(0, n, 2)) and set(idx_b.tolist()) == set(range(1, n, 2))
    # Not in source order, and B's order is not A's order shifted by one (no pairing by position).
    assert idx_a.tolist() != sorted(idx_a.tolist())
    assert not torch.equal(idx_b - 1, idx_a)


def test_sampler_pairs_change_every_epoch_and_cover_the_larger_domain():
    sampler = UnpairedBatchSampler(5, 12, batch_size=4, shuffle=True, drop_last=True, seed=3)
    epoch0 = list(sampler)
    assert epoch0 == list(sampler)  # a pure function of (seed, epoch)
    b0 = [b for _, bs in epoch0 for b in bs]
    assert sorted(b0) == list(range(12))  # every B image once per epoch
    a0 = [a for as_, _ in epoch0 for a in as_]
    assert len(a0) == 12 and set(a0) == set(range(5))  # the smaller domain is cycled
    sampler.set_epoch(1)
    epoch1 = list(sampler)
    pairs = lambda batches: {(a, b) for as_, bs in batches for a, b in zip(as_, bs, strict=True)}  # noqa: E731
    assert pairs(epoch0) != pairs(epoch1)


def test_unknown_class_name_lists_all_ten(fmnist_root):
    with pytest.raises(GenstyleError) as err:
        fashion_dm(fmnist_root, domain_b="boot")
    message = str(err.value)
    assert "data.domain_b='boot'" in message
    assert all(name in message for name in FASHION_MNIST_CLASSES)
    with pytest.raises(GenstyleError, match="two different classes"):
        fashion_dm(fmnist_root, domain_b="sneaker").setup("fit")


def test_folder_domains_of_different_sizes_load_and_batch(tmp_path):
    root = write_two_domain_folder(tmp_path / "pair")
    dm = ImageDataModule(dataset="unpaired_folder", root=str(root), image_size=16, channels=3,
                         num_classes=None, batch_size=2, val_size=1)  # fmt: skip
    dm.setup("fit")
    assert (len(dm.train_set.a), len(dm.train_set.b)) == (5, 8)
    loader = dm.train_dataloader()
    assert len(loader) == 4  # max(5, 8) // 2: one epoch shows every image of the larger domain
    batch = next(iter(loader))
    assert batch["image"].shape == batch["image_b"].shape == (2, 3, 16, 16)
    # Domain B was grayscale on disk: converted to RGB, the three channels are equal.
    assert torch.equal(batch["image_b"][:, 0], batch["image_b"][:, 1])
    assert not torch.equal(batch["image"][:, 0], batch["image"][:, 2])
    test_batch = next(iter(dm.test_dataloader()))
    assert test_batch["image"].shape == (2, 3, 16, 16)


def test_empty_or_missing_domain_folder_is_a_clear_error(tmp_path):
    root = write_two_domain_folder(tmp_path / "pair")
    for f in (root / "trainB").iterdir():
        f.unlink()
    dm = ImageDataModule(dataset="unpaired_folder", root=str(root), image_size=16, channels=3, num_classes=None, batch_size=2, val_size=1)
    with pytest.raises(GenstyleError, match=r"No images in .*trainB"):
        dm.setup("fit")
    (root / "trainB").rmdir()
    with pytest.raises(GenstyleError, match=r"no trainB/ folder \(found: testA, testB, trainA\)"):
        dm.setup("fit")


def test_domain_needs_more_images_than_val_size(tmp_path):
    root = write_two_domain_folder(tmp_path / "pair", n_train=(2, 9))
    dm = ImageDataModule(dataset="unpaired_folder", root=str(root), image_size=16, channels=3, num_classes=None, batch_size=2, val_size=2)
    with pytest.raises(GenstyleError, match="val_size=2 leaves no training images in domain trainA"):
        dm.setup("fit")
