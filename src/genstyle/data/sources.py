"""Find, verify and decode image datasets into uint8 tensors held in memory.

Every loader returns an `ImageSet`: images `(N, C, H, W)` uint8 and, where the dataset has
classes, labels `(N,)` int64. Decoding happens once; the DataModule slices these tensors.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import struct
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from genstyle.errors import GenstyleError

log = logging.getLogger("genstyle.data")

FASHION_MNIST_CLASSES = (
    "t_shirt", "trouser", "pullover", "dress", "coat",
    "sandal", "shirt", "sneaker", "bag", "ankle_boot",
)  # fmt: skip
MNIST_CLASSES = tuple(str(d) for d in range(10))
CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)  # fmt: skip
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif", ".tif", ".tiff"}
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
DATA_ENV_VAR = "GENSTYLE_DATA"


@dataclass
class ImageSet:
    """Decoded images kept in memory: the one representation every source produces."""

    images: torch.Tensor  # (N, C, H, W) uint8
    labels: torch.Tensor | None  # (N,) int64, or None for unlabelled data
    classes: Sequence[str] = field(default_factory=tuple)
    origin: str = ""  # where the data came from, for logs and error messages

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.ndim != 4:
            raise ValueError(f"images must be (N, C, H, W) uint8, got {self.images.dtype} {tuple(self.images.shape)}")
        if self.labels is not None and len(self.labels) != len(self.images):
            raise ValueError("labels and images differ in length")

    def __len__(self) -> int:
        return len(self.images)

    def subset(self, index: torch.Tensor) -> ImageSet:
        labels = None if self.labels is None else self.labels[index]
        return ImageSet(self.images[index], labels, self.classes, self.origin)

    def nbytes(self) -> int:
        return self.images.numel() * self.images.element_size() + (0 if self.labels is None else self.labels.numel() * 8)

    def to(self, device: torch.device) -> ImageSet:
        """A copy whose tensors live on `device` (classes and origin unchanged)."""
        labels = None if self.labels is None else self.labels.to(device)
        return ImageSet(self.images.to(device), labels, self.classes, self.origin)


# --- Fashion-MNIST (and MNIST) in the original IDX gzip format -------------------------------

@dataclass(frozen=True)
class IdxFile:
    name: str
    raw_bytes: int  # size after decompression
    raw_md5: str  # md5 of the decompressed bytes: the same whichever way the file was gzipped


FASHION_MNIST_FILES = {
    "train": (
        IdxFile("train-images-idx3-ubyte.gz", 47040016, "f4a8712d7a061bf5bd6d2ca38dc4d50a"),
        IdxFile("train-labels-idx1-ubyte.gz", 60008, "9018921c3c673c538a1fc5bad174d6f9"),
    ),
    "test": (
        IdxFile("t10k-images-idx3-ubyte.gz", 7840016, "8181f5470baa50b63fa0f6fddb340f0a"),
        IdxFile("t10k-labels-idx1-ubyte.gz", 10008, "15d484375f8d13e6eb1aabb0c3f46965"),
    ),
}


def _read_verified_idx(path: Path, spec: IdxFile, verify: bool) -> bytes:
    """Decompress an IDX gzip file and check its size and checksum against the published data."""
    try:
        with gzip.open(path, "rb") as fh:
            raw = fh.read()
    except (OSError, EOFError) as err:  # truncated or not gzip at all
        raise GenstyleError(
            f"Data file {path} is corrupt or truncated ({err}). Delete it and get a fresh copy "
            "(Debian: `apt-get install --reinstall dataset-fashion-mnist`; elsewhere remove the file "
            "and let torchvision download it again)."
        ) from None
    if verify and (len(raw) != spec.raw_bytes or hashlib.md5(raw).hexdigest() != spec.raw_md5):
        raise GenstyleError(
            f"Data file {path} does not match the published Fashion-MNIST file {spec.name} "
            f"(expected {spec.raw_bytes} bytes after decompression with md5 {spec.raw_md5}, got "
            f"{len(raw)} bytes with md5 {hashlib.md5(raw).hexdigest()}). It is corrupt or a different "
            "dataset: replace it with the original file."
        )
    return raw


def _parse_idx(raw: bytes, path: Path) -> np.ndarray:
    """Parse the IDX container: magic (0, 0, dtype, ndim), big-endian dims, then the data."""
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise GenstyleError(f"{path} is not an unsigned-byte IDX file; is it the right dataset file?")
    ndim = raw[3]
    dims = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise GenstyleError(f"{path} is truncated: header promises {dims}, file holds {data.size} values.")
    return data.reshape(dims)


def _idx_candidates(directory: Path) -> list[Path]:
    # The Debian package puts the files directly in the folder; torchvision under FashionMNIST/raw.
    return [directory, directory / "FashionMNIST" / "raw", directory / "fashion-mnist"]


def _find_idx_dir(directory: Path, files: Sequence[IdxFile]) -> Path | None:
    for candidate in _idx_candidates(directory):
        if all((candidate / f.name).is_file() for f in files):
            return candidate
    return None


def fashion_mnist_search_path(root: str | None) -> list[tuple[str, Path]]:
    """The places Fashion-MNIST is looked for, in order, with a label for messages."""
    places: list[tuple[str, Path]] = []
    if root:
        places.append(("data.root", Path(root).expanduser()))
    if os.environ.get(DATA_ENV_VAR):
        places.append((f"${DATA_ENV_VAR}", Path(os.environ[DATA_ENV_VAR]).expanduser()))
    places.append(("Debian package dataset-fashion-mnist", DEBIAN_FASHION_MNIST))
    return places


def load_fashion_mnist(
    split: str,
    root: str | None = None,
    download_dir: str | None = None,
    download: bool = True,
    verify: bool = True,
) -> ImageSet:
    """Load the official `train` (60k) or `test` (10k) split of Fashion-MNIST.

    Looks in data.root, $GENSTYLE_DATA, the Debian package folder, then tries torchvision's
    download into `download_dir`. A file that is found but corrupt is an error, not a reason
    to look elsewhere: silently using another copy would hide the problem.
    """
    if split not in FASHION_MNIST_FILES:
        raise GenstyleError(f"Unknown Fashion-MNIST split {split!r}; use 'train' or 'test'.")
    files = FASHION_MNIST_FILES[split]
    if root:  # given explicitly: that folder or an error, never a silent fallback to another copy
        given = Path(root).expanduser()
        found = _find_idx_dir(given, files) if given.is_dir() else None
        if found is not None:
            return _decode_idx_pair(found, files, verify, FASHION_MNIST_CLASSES)
        problem = "does not exist" if not given.exists() else "is not a folder" if not given.is_dir() else (
            f"does not hold the Fashion-MNIST {split} files ({', '.join(f.name for f in files)})")
        raise GenstyleError(
            f"data.root={root}: the folder {problem}. Point data.root at the folder with the four "
            "Fashion-MNIST .gz files, or leave data.root unset to use $GENSTYLE_DATA, the Debian package "
            "dataset-fashion-mnist or torchvision's download, in that order."
        )
    places = fashion_mnist_search_path(root)
    if download_dir:
        places.append(("previous torchvision download (data.download_dir)", Path(download_dir)))
    for _, place in places:
        found = _find_idx_dir(place, files)
        if found is not None:
            return _decode_idx_pair(found, files, verify, FASHION_MNIST_CLASSES)

    download_error = "download disabled (data.download=false)"
    if download and download_dir:
        try:
            from torchvision.datasets import FashionMNIST

            FashionMNIST(download_dir, train=split == "train", download=True)
            found = _find_idx_dir(Path(download_dir), files)
            if found is not None:
                return _decode_idx_pair(found, files, verify, FASHION_MNIST_CLASSES)
            download_error = "torchvision reported success but the files are not where expected"
        except Exception as err:  # network errors come in many types; all mean "not available"
            download_error = f"torchvision download failed: {type(err).__name__}: {err}"
    looked = "; ".join(f"{label} = {path}" for label, path in places)
    raise GenstyleError(
        f"Fashion-MNIST ({split} split) was not found. Looked in: {looked}; and {download_error}. "
        "Fix one of: pass data.root=/folder/with/the/four/gz/files; or "
        f"export {DATA_ENV_VAR}=/folder/with/the/files; or on Debian/Ubuntu run "
        "`sudo apt-get install dataset-fashion-mnist`; or allow the download with data.download=true "
        "on a machine with internet access."
    )


def load_fashion_mnist_test(root: str | None = None, download_dir: str | None = None) -> ImageSet:
    """The official Fashion-MNIST test split (10k) that the style benchmark and its figures score
    on, from a local copy only (`root`, the usual places, or an earlier download in `download_dir`):
    a benchmark never starts a download; a missing copy is the error that says where to put it."""
    return load_fashion_mnist("test", root, download_dir, download=False)


_DECODED: dict[tuple, ImageSet] = {}


def _decode_idx_pair(
    directory: Path, files: Sequence[IdxFile], verify: bool, classes: Sequence[str]
) -> ImageSet:
    # Decoded sets are kept per process (keyed by file identity): repeated setups, tests and
    # evaluation reuse them instead of decompressing 47 MB again. Callers never modify them.
    stats = tuple((directory / f.name).stat() for f in files)
    key = (str(directory.resolve()), tuple((s.st_size, s.st_mtime_ns, s.st_ino) for s in stats), verify)
    if key not in _DECODED:
        _DECODED[key] = _decode_idx_files(directory, files, verify, classes)
    cached = _DECODED[key]
    return ImageSet(cached.images, cached.labels, cached.classes, cached.origin)


def _decode_idx_files(
    directory: Path, files: Sequence[IdxFile], verify: bool, classes: Sequence[str]
) -> ImageSet:
    image_file, label_file = files
    images = _parse_idx(_read_verified_idx(directory / image_file.name, image_file, verify), directory / image_file.name)
    labels = _parse_idx(_read_verified_idx(directory / label_file.name, label_file, verify), directory / label_file.name)
    if len(images) != len(labels):
        raise GenstyleError(f"{directory}: {len(images)} images but {len(labels)} labels; the files do not belong together.")
    return ImageSet(
        images=torch.from_numpy(images.copy()).unsqueeze(1),  # (N, 1, 28, 28)
        labels=torch.from_numpy(labels.astype(np.int64)),
        classes=classes,
        origin=str(directory),
    )


# --- MNIST and CIFAR-10 through torchvision ---------------------------------------------------

def load_torchvision(name: str, split: str, root: str, download: bool) -> ImageSet:
    """MNIST or CIFAR-10 via torchvision, which verifies its own files."""
    from torchvision import datasets

    cls, classes = {"mnist": (datasets.MNIST, MNIST_CLASSES), "cifar10": (datasets.CIFAR10, CIFAR10_CLASSES)}[name]
    try:
        ds = cls(root, train=split == "train", download=download)
    except RuntimeError as err:
        raise GenstyleError(
            f"{name} ({split}) is not available under data.root={root}: {err}. Put torchvision's copy "
            f"there, or set data.download=true on a machine with internet access."
        ) from None
    except Exception as err:
        raise GenstyleError(
            f"Could not download {name} into {root} ({type(err).__name__}: {err}). Without internet, copy "
            "torchvision's dataset folder there by hand and run with data.download=false."
        ) from None
    data = torch.as_tensor(np.asarray(ds.data))
    images = data.unsqueeze(1) if data.ndim == 3 else data.permute(0, 3, 1, 2)  # CIFAR is NHWC
    return ImageSet(images.contiguous(), torch.as_tensor(np.asarray(ds.targets), dtype=torch.int64), classes, root)


# --- Any folder of images ---------------------------------------------------------------------

def list_images(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


BACKGROUND = 0  # what transparent areas and square padding become: the black ground of Fashion-MNIST
SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N")


def _faithful_pixels(img, path: Path, notes: Counter[str]):
    """`img` as the file means it, in 8 bits: EXIF orientation applied, a 16-bit image scaled (not
    clipped to white), transparent areas composited on the background, an animated image refused."""
    from PIL import Image, ImageOps

    frames = getattr(img, "n_frames", 1)
    if frames > 1:
        raise GenstyleError(f"{path} is an animated image ({frames} frames); give a still image (e.g. its first frame saved as PNG).")
    rotated = ImageOps.exif_transpose(img)
    if rotated is not img and img.getexif().get(0x0112, 1) != 1:
        notes["turned upright as their EXIF orientation says"] += 1
    img = rotated
    if img.mode in SIXTEEN_BIT_MODES or (img.mode == "I" and img.format == "PNG"):
        array = np.asarray(img, dtype=np.float64)
        img = Image.fromarray(np.clip(np.rint(array / 257.0), 0, 255).astype(np.uint8), mode="L")  # 65535 -> 255
        notes["16-bit, scaled to 8 bits"] += 1
    has_alpha = img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (img.mode == "P" and "transparency" in img.info)
    if has_alpha:
        rgba = img.convert("RGBA")
        if rgba.getextrema()[3][0] < 255:  # some pixel is not opaque
            ground = Image.new("RGBA", rgba.size, (BACKGROUND, BACKGROUND, BACKGROUND, 255))
            img = Image.alpha_composite(ground, rgba)
            notes["transparent areas composited on black (the data's background)"] += 1
        img = img.convert("RGB")
    return img


def _pad_square(img, notes: Counter[str]):
    """A non-square image padded with the background to a square, centred, instead of squashed."""
    from PIL import Image

    width, height = img.size
    if width == height:
        return img
    side = max(width, height)
    square = Image.new(img.mode, (side, side), BACKGROUND if img.mode == "L" else (BACKGROUND,) * len(img.mode))
    square.paste(img, ((side - width) // 2, (side - height) // 2))
    notes["not square, padded with black to a centred square (not stretched)"] += 1
    return square


def decode_image(path: Path, channels: int, image_size: int, notes: Counter[str] | None = None) -> torch.Tensor:
    """Decode one file to `(C, S, S)` uint8, as its format says: EXIF orientation applied, 16 bits
    scaled, transparency composited on the background, a non-square image padded (never squashed),
    then converted to the channel count and resized. Every command that reads a user's images
    decodes them here. Each conversion is counted in `notes` (what happened -> how many images);
    without `notes` each one is logged at once."""
    from PIL import Image, UnidentifiedImageError

    seen: Counter[str] = Counter() if notes is None else notes
    try:
        with Image.open(path) as img:
            img = _faithful_pixels(img, path, seen)
            img = _pad_square(img.convert("L" if channels == 1 else "RGB"), seen)
            if img.size != (image_size, image_size):
                img = img.resize((image_size, image_size), Image.Resampling.BICUBIC)
            array = np.asarray(img, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError) as err:
        raise GenstyleError(f"Cannot read image {path} ({err}). Remove or replace the file.") from None
    if notes is None:
        for what in seen:
            log.warning("%s: %s.", path, what)
    tensor = torch.from_numpy(array.copy())
    return tensor.unsqueeze(0) if channels == 1 else tensor.permute(2, 0, 1)


def conversion_notes(notes: Counter[str], where: str) -> list[str]:
    """One line per kind of conversion `decode_image` counted, e.g. `data.root: 3 images transparent ...`."""
    return [f"{where}: {n} image{'s' if n > 1 else ''} {what}." for what, n in notes.items()]


def load_image_folder(root: str | Path, channels: int, image_size: int) -> ImageSet:
    """Every image under `root` (recursively). First-level sub-folders become classes when all
    images sit in one, as in torchvision's ImageFolder; otherwise the set is unlabelled."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise GenstyleError(f"Image folder {root} does not exist or is not a folder; set data.root to a folder of images.")
    paths = list_images(root)
    if not paths:
        raise GenstyleError(
            f"No images in {root} (looked recursively for {', '.join(sorted(IMAGE_SUFFIXES))}). "
            "Point data.root at a folder that holds image files."
        )
    notes: Counter[str] = Counter()
    images = torch.stack([decode_image(p, channels, image_size, notes) for p in paths])
    for line in conversion_notes(notes, str(root)):
        log.warning(line)
    first_parts = [p.relative_to(root).parts for p in paths]
    labels, classes = None, ()
    if all(len(parts) >= 2 for parts in first_parts):
        classes = tuple(sorted({parts[0] for parts in first_parts}))
        if len(classes) > 1:
            index = {c: i for i, c in enumerate(classes)}
            labels = torch.tensor([index[parts[0]] for parts in first_parts], dtype=torch.int64)
        else:
            classes = ()
    return ImageSet(images, labels, classes, str(root))


def resize_images(images: torch.Tensor, size: int) -> torch.Tensor:
    """Resize a uint8 batch `(N, C, H, W)` to `(N, C, size, size)` once, at load time."""
    if images.shape[-1] == size and images.shape[-2] == size:
        return images
    chunks = []
    for chunk in images.split(4096):  # bounded memory for the float copy
        out = F.interpolate(chunk.float(), size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        chunks.append(out.round_().clamp_(0, 255).to(torch.uint8))
    return torch.cat(chunks)
