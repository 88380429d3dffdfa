"""Which network turns images into features: the shipped Fashion-MNIST classifier for 28x28
grayscale data, torch-fidelity's Inception-V3 for RGB or larger images (or whenever the user
gives Inception weights). Chosen and checked once, at start-up, so a missing weights file fails
before any training. `fmnist-independent` is the second 28x28 network, which no model trains or
optimises against (`genstyle.classifier.independent`): the default of the metrics that judge
style and translation (`metrics.judge_extractor`).

A backend maps images (uint8 `[0, 255]` or float `[-1, 1]`, `(N, C, H, W)`) to
`{'features': (N, D), 'logits': (N, K)}` on the CPU. Its `name` and `weights_sha256` key caches
and are written next to every number computed with it.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import torch

from genstyle.errors import GenstyleError, require
from genstyle.pixels import to_uint8

log = logging.getLogger("genstyle.metrics")

CLASSIFIER = "fmnist-classifier"
INDEPENDENT = "fmnist-independent"
INCEPTION = "inception-v3-compat"
CHOICES = ("auto", CLASSIFIER, INDEPENDENT, INCEPTION)
FASHION_NETWORKS = (CLASSIFIER, INDEPENDENT)  # the 28x28 grayscale networks the project ships
INCEPTION_FILE = "weights-inception-2015-12-05-6726825d.pth"
INCEPTION_URL = f"https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/{INCEPTION_FILE}"


class FeatureBackend(Protocol):
    name: str
    weights_sha256: str
    feature_dim: int

    def __call__(self, images: torch.Tensor) -> dict[str, torch.Tensor]: ...


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class ClassifierBackend:
    """The Fashion-MNIST classifier (`genstyle.classifier.fashion_classifier`); `weights=None` is the shipped file."""

    name = CLASSIFIER

    def __init__(
        self, weights: str | Path | None = None, batch_size: int = 500, model: torch.nn.Module | None = None, device: str = "cpu"
    ) -> None:
        # The file's sha256 for shipped/given weights; a hash of the tensors for an in-memory model.
        self.weights_sha256 = self._file_sha256(weights) if model is None else _module_sha256(model)
        model = self._load(weights) if model is None else model
        # channels_last runs this small conv net ~1.7x faster on CPU (same weights, same maths).
        self.model = model.to(memory_format=torch.channels_last)
        self.feature_dim = int(self.model.feature_dim)
        self.batch_size = batch_size
        # On a GPU the images go there and the features stay there, for KID and precision/recall.
        self.device = torch.device(device)

    def __call__(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        from genstyle.metrics.features import extract_features

        if self.device.type == "cpu":
            return extract_features(images, batch_size=self.batch_size, model=self.model)
        return extract_features(images.to(self.device), batch_size=self.batch_size, model=self.model, out_device=None)

    @staticmethod
    def _load(weights: str | Path | None) -> torch.nn.Module:
        from genstyle.classifier.fashion_classifier import load_classifier

        return load_classifier(weights)

    @staticmethod
    def _file_sha256(weights: str | Path | None) -> str:
        from genstyle.classifier.fashion_classifier import weights_sha256

        return weights_sha256(weights)


class IndependentBackend(ClassifierBackend):
    """The independent network (`genstyle.classifier.independent`, 128 features); `weights=None`
    is the shipped file, refused unless its sha256 is the one the code expects."""

    name = INDEPENDENT

    @staticmethod
    def _load(weights: str | Path | None) -> torch.nn.Module:
        from genstyle.classifier.independent import load_independent

        return load_independent(weights)

    @staticmethod
    def _file_sha256(weights: str | Path | None) -> str:
        from genstyle.classifier.independent import weights_sha256

        return weights_sha256(weights)


def _module_sha256(model: torch.nn.Module) -> str:
    """Hash of in-memory weights, for a classifier passed directly (tests, experiments)."""
    digest = hashlib.sha256()
    for key, value in model.state_dict().items():
        digest.update(key.encode())
        digest.update(value.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def default_inception_path() -> Path:
    """Where torch-fidelity itself would look for the weights (torch hub's checkpoint folder)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_FILE


class InceptionBackend:
    """torch-fidelity's TF-compatible Inception-V3: 2048 pool features and 1008 unbiased logits."""

    name = INCEPTION
    feature_dim = 2048

    def __init__(self, weights: str | Path | None, batch_size: int = 64, device: str = "cpu") -> None:
        path = inception_weights_path(weights)
        from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

        # The file already loaded with weights_only=True in the check, so torch-fidelity's own
        # (unrestricted) load of the same bytes cannot run code.
        self.model = FeatureExtractorInceptionV3(
            INCEPTION, ["2048", "logits_unbiased"], feature_extractor_weights_path=str(path), verbose=False
        ).to(device)
        self.weights_sha256 = file_sha256(path)
        self.batch_size, self.device = batch_size, device

    @torch.no_grad()
    def __call__(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        feats, logits = [], []
        for chunk in images.split(self.batch_size):
            x = chunk if chunk.dtype == torch.uint8 else to_uint8(chunk)
            if x.shape[1] == 1:
                x = x.expand(-1, 3, -1, -1)  # grayscale as RGB, as PIL's convert("RGB") does
            f, lg = self.model(x.to(self.device))
            feats.append(f.double().cpu())
            logits.append(lg.double().cpu())
        if not feats:
            return {"features": torch.empty(0, 2048, dtype=torch.float64), "logits": torch.empty(0, 1008, dtype=torch.float64)}
        return {"features": torch.cat(feats), "logits": torch.cat(logits)}


def download_inception_weights(path: Path) -> str | None:
    """Fetch torch-fidelity's weights into `path` (torch hub's checkpoint folder, where torch-fidelity
    itself downloads them, without a hash check, as torch-fidelity does); None on success, else why
    not. torch.hub writes to a temporary file first, so a failed download leaves nothing at `path`;
    what arrives is then checked like any weights file (a PyTorch state dict with Inception's layers)."""
    log.info("Downloading the Inception-V3 weights for RGB evaluation from %s to %s", INCEPTION_URL, path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.hub.download_url_to_file(INCEPTION_URL, str(path), progress=False)
    except Exception as err:  # no network, proxy, DNS, HTTP error, hash mismatch, read-only folder ...
        path.unlink(missing_ok=True)
        return f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
    return None


def inception_weights_path(weights: str | Path | None) -> Path:
    """The checked weights file: the one given, or torch hub's copy, downloaded when it is missing."""
    if weights:
        path = Path(weights).expanduser()
        check_inception_weights(path, given=True)
        return path
    path = default_inception_path()
    failure = download_inception_weights(path) if not path.is_file() else None
    check_inception_weights(path, given=False, download_failure=failure)
    return path


def check_inception_weights(path: Path, given: bool, download_failure: str | None = None) -> None:
    """Fail now, with where to put the file, unless `path` holds loadable Inception weights."""
    if not path.is_file():
        where = (f"metrics.inception_weights={path} does not exist" if given else
                 f"Inception-V3 weights are not at {path} and downloading them failed ({download_failure})")
        raise GenstyleError(
            f"{where}. RGB or larger images are evaluated with torch-fidelity's Inception-V3. Download "
            f"{INCEPTION_URL} on a machine with internet access and either put it at "
            f"{default_inception_path()} or pass metrics.inception_weights=/path/to/{INCEPTION_FILE}. "
            "(Or turn evaluation off: callbacks.evaluation=null.)"
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # unpickling refused, truncated zip, not a torch file at all ...
        raise GenstyleError(
            f"metrics.inception_weights={path} is not a plain PyTorch state dict ({type(err).__name__}: "
            f"{str(err).splitlines()[0] if str(err) else ''}). Use {INCEPTION_FILE} from {INCEPTION_URL}."
        ) from None
    require(
        isinstance(state, dict) and "Mixed_7c.branch_pool.conv.weight" in state,
        f"metrics.inception_weights={path} is a PyTorch file but not torch-fidelity's Inception-V3 weights; "
        f"use {INCEPTION_FILE} from {INCEPTION_URL}.",
    )


@dataclass(frozen=True)
class BackendChoice:
    name: str
    reason: str


def choose_backend(extractor: str, channels: int, image_size: int, inception_weights: str | None) -> BackendChoice:
    """Resolve `metrics.extractor` for data of `channels` x `image_size`; raise when impossible."""
    require(extractor in CHOICES, f"metrics.extractor={extractor!r} is not known; choose one of {', '.join(CHOICES)}.")
    fits_classifier = channels == 1 and image_size == 28
    if extractor in FASHION_NETWORKS:
        require(
            fits_classifier,
            f"metrics.extractor={extractor} works on 28x28 grayscale images; these are {channels}x{image_size}x{image_size}. "
            f"Use metrics.extractor={INCEPTION} (with metrics.inception_weights=...) or auto.",
        )
        return BackendChoice(extractor, "requested")
    if extractor == INCEPTION:
        return BackendChoice(INCEPTION, "requested")
    if inception_weights:
        return BackendChoice(INCEPTION, "metrics.inception_weights is set")
    if fits_classifier:
        return BackendChoice(CLASSIFIER, "28x28 grayscale data")
    return BackendChoice(INCEPTION, f"{channels}-channel {image_size}x{image_size} data does not fit the Fashion-MNIST classifier")


def build_backend(
    extractor: str = "auto",
    channels: int = 1,
    image_size: int = 28,
    inception_weights: str | None = None,
    classifier_weights: str | None = None,
    device: str = "cpu",
) -> FeatureBackend:
    choice = choose_backend(extractor, channels, image_size, inception_weights)
    if choice.name == CLASSIFIER:
        return ClassifierBackend(classifier_weights, device=device)
    if choice.name == INDEPENDENT:
        return IndependentBackend(None, device=device)  # the shipped file only: its hash is checked
    return InceptionBackend(inception_weights, device=device)
