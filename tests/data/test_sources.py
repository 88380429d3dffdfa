"""Finding, verifying and decoding the real Fashion-MNIST files, and the DataModule's contract."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest
import torch

from genstyle.data import ImageDataModule, sources
from genstyle.data.sources import (
    FASHION_MNIST_FILES,
    load_fashion_mnist,
    load_fashion_mnist_test,
    load_image_folder,
)
from genstyle.errors import GenstyleError

ALL_FILES = FASHION_MNIST_FILES["train"] + FASHION_MNIST_FILES["test"]


def copy_dataset(src: Path, dst: Path) -> Path:
    dst.mkdir(parents=True, exist_ok=True)
    for spec in ALL_FILES:
        shutil.copy(src / spec.name, dst / spec.name)
    return dst


def test_official_splits_have_published_sizes(fmnist_root):
    train, test = load_fashion_mnist("train", str(fmnist_root)), load_fashion_mnist("test", str(fmnist_root))
    assert train.images.shape == (60000, 1, 28, 28) and test.images.shape == (10000, 1, 28, 28)
    assert train.images.dtype == torch.uint8
    assert torch.bincount(test.labels).tolist() == [1000] * 10  # the official test split is balanced


def test_lookup_order_prefers_data_root_over_env(fmnist_root, tmp_path, monkeypatch):
    explicit = copy_dataset(fmnist_root, tmp_path / "explicit")
    monkeypatch.setenv("GENSTYLE_DATA", str(fmnist_root))
    assert load_fashion_mnist("test", str(explicit)).origin == str(explicit)
    assert load_fashion_mnist("test", None).origin == str(fmnist_root)


def test_torchvision_layout_is_found(fmnist_root, tmp_path):
    copy_dataset(fmnist_root, tmp_path / "FashionMNIST" / "raw")
    assert load_fashion_mnist("test", str(tmp_path)).origin.endswith("FashionMNIST/raw")


def test_missing_everywhere_names_every_place_and_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("GENSTYLE_DATA", str(tmp_path / "env"))
    monkeypatch.setattr("genstyle.data.sources.DEBIAN_FASHION_MNIST", tmp_path / "debian")
    with pytest.raises(GenstyleError) as err:
        load_fashion_mnist("train", None, download_dir=str(tmp_path / "dl"), download=False)
    message = str(err.value)
    for expected in ("data.root", "GENSTYLE_DATA", "dataset-fashion-mnist", "data.download=true"):
        assert expected in message


@pytest.mark.parametrize("kind", ["missing", "empty"])
def test_explicit_root_without_the_data_is_an_error_not_a_fallback(fmnist_root, tmp_path, monkeypatch, kind):
    monkeypatch.setenv("GENSTYLE_DATA", str(fmnist_root))  # a good copy elsewhere must not be used instead
    root = tmp_path / "given"
    if kind == "empty":
        root.mkdir()
    with pytest.raises(GenstyleError) as err:
        load_fashion_mnist("test", str(root), download_dir=str(tmp_path / "dl"), download=True)
    problem = "does not exist" if kind == "missing" else "does not hold the Fashion-MNIST test files"
    assert f"data.root={root}: the folder {problem}" in str(err.value)


def test_truncated_file_is_named(fmnist_root, tmp_path):
    root = copy_dataset(fmnist_root, tmp_path / "trunc")
    target = root / FASHION_MNIST_FILES["test"][0].name
    target.write_bytes(target.read_bytes()[:100000])
    with pytest.raises(GenstyleError, match="t10k-images-idx3-ubyte.gz.*corrupt or truncated"):
        load_fashion_mnist("test", str(root))


def test_checksum_mismatch_is_named(fmnist_root, tmp_path):
    root = copy_dataset(fmnist_root, tmp_path / "tampered")
    target = root / FASHION_MNIST_FILES["test"][1].name
    with gzip.open(target) as fh:
        raw = bytearray(fh.read())
    raw[-1] = (raw[-1] + 1) % 10  # one label changed: same size, different checksum
    with gzip.open(target, "wb") as fh:
        fh.write(bytes(raw))
    with pytest.raises(GenstyleError, match="t10k-labels-idx1-ubyte.gz does not match"):
        load_fashion_mnist("test", str(root))


def test_split_is_deterministic_in_seed_and_batches_follow_contract(fmnist_root):
    def first_batch(seed: int) -> dict:
        dm = ImageDataModule(root=str(fmnist_root), batch_size=16, val_size=100, train_subset=500, seed=seed, download=False)
        dm.setup("fit")
        return next(iter(dm.train_dataloader())), dm

    (a, dm), (b, _), (c, _) = first_batch(1), first_batch(1), first_batch(2)
    assert torch.equal(a["image"], b["image"]) and not torch.equal(a["image"], c["image"])
    assert a["image"].shape == (16, 1, 28, 28) and a["image"].dtype == torch.float32
    assert a["image"].min() >= -1 and a["image"].max() <= 1 and a["image"].min() < -0.9
    assert a["label"].dtype == torch.long and a["label"].shape == (16,)
    assert len(dm.val_set) == 100 and len(dm.train_set) == 500


def test_resize_to_32_keeps_range(fmnist_root):
    dm = ImageDataModule(root=str(fmnist_root), image_size=32, batch_size=8, val_size=0, train_subset=64, download=False)
    dm.setup("fit")
    assert next(iter(dm.train_dataloader()))["image"].shape == (8, 1, 32, 32)


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [({"batch_size": 0}, "data.batch_size"), ({"batch_size": -4}, "data.batch_size"), ({"image_size": 0}, "data.image_size"),
     ({"channels": 2}, "data.channels"), ({"dataset": "imagenet"}, "data.dataset")],
)
def test_bad_settings_name_the_key(kwargs, key):
    with pytest.raises(GenstyleError, match=key.replace(".", r"\.")):
        ImageDataModule(**kwargs)


def test_image_folder_rgb_and_grayscale_with_class_folders(tmp_path):
    from PIL import Image

    for cls, colour in (("cats", (255, 0, 0)), ("dogs", (0, 0, 255))):
        (tmp_path / cls).mkdir()
        for i in range(3):
            Image.new("RGB", (40 + i, 30), colour).save(tmp_path / cls / f"{i}.png")
    rgb = load_image_folder(tmp_path, channels=3, image_size=16)
    assert rgb.images.shape == (6, 3, 16, 16) and rgb.classes == ("cats", "dogs")
    assert rgb.labels.tolist() == [0, 0, 0, 1, 1, 1]
    # 40x30 is padded with black to a centred square, not stretched: red rows in the middle only
    assert rgb.images[0, 0, 8].float().mean() > 250 and rgb.images[0, 0, 0].float().mean() < 5
    assert load_image_folder(tmp_path, channels=1, image_size=16).images.shape == (6, 1, 16, 16)


def test_image_folder_errors(tmp_path):
    with pytest.raises(GenstyleError, match="No images"):
        load_image_folder(tmp_path, channels=1, image_size=16)
    (tmp_path / "broken.png").write_text("not a png")
    with pytest.raises(GenstyleError, match="broken.png"):
        load_image_folder(tmp_path, channels=1, image_size=16)


def test_the_benchmarks_test_split_is_the_official_one_and_never_downloads(fmnist_root, tmp_path, monkeypatch):
    test = load_fashion_mnist_test(str(fmnist_root))
    official = load_fashion_mnist("test", str(fmnist_root))
    assert torch.equal(test.images, official.images) and torch.equal(test.labels, official.labels)

    import torchvision.datasets

    downloads = []
    monkeypatch.setattr(torchvision.datasets, "FashionMNIST", lambda *args, **kwargs: downloads.append(args))
    monkeypatch.setattr(sources, "fashion_mnist_search_path", lambda root: [])  # no local copy anywhere
    with pytest.raises(GenstyleError, match=r"\(test split\) was not found.*download disabled"):
        load_fashion_mnist_test(download_dir=str(tmp_path / "download"))
    assert downloads == []
