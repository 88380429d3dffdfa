"""The Fashion-MNIST networks as torch-fidelity feature extractors: the shipped classifier as
`fmnist-classifier`, the independent network (`genstyle.classifier.independent`, which no model
trains against) as `fmnist-independent`.

    import genstyle.metrics  # registers it
    torch_fidelity.calculate_metrics(
        input1=generated, input2=reference, feature_extractor="fmnist-classifier",
        fid=True, kid=True, isc=True, prc=True, cuda=False,
    )

How torch-fidelity 0.4.0 drives an extractor (read from its source):

- It instantiates `cls(name, features_list, **kwargs)` with *every* `calculate_metrics` keyword
  except `cuda`; `feature_extractor_weights_path` and `feature_extractor_internal_dtype` are the
  ones meant for us, the rest is ignored here.
- `features_list` holds the layers resolved per metric: `feature_layer_<metric>` if given, else
  `get_default_feature_layer_for_metric(metric)`. `forward` must return a tuple in the order of
  `features_list` (not of `get_provided_features_list()`).
- ISC applies a softmax to its layer, so it needs raw logits (Inception's `logits_unbiased`);
  FID/KID/PRC take a `(N, D)` feature matrix (Inception's `2048`). Here: `logits` (10) and
  `features` (256, the classifier's penultimate ReLU layer; 128 for `fmnist-independent`).
- Batches arrive as uint8 `(B, C, H, W)`: `C = 3` from image folders (torch-fidelity opens files
  with PIL and converts to RGB, even grayscale PNGs), or whatever a user `Dataset` returns
  (`C = 1` for `ImageTensorDataset` below). RGB is turned to luma with PIL's integer formula, so
  a grayscale PNG read as RGB gives back exactly its original pixel values.
- Cached features and FID statistics are named after `get_name()`; this extractor appends the
  weights' sha256 prefix so retrained weights never reuse stale caches.
"""

from __future__ import annotations

from typing import Any

import torch
import torch_fidelity
from torch.utils.data import Dataset

from genstyle.classifier import independent
from genstyle.classifier.fashion_classifier import IMAGE_SIZE, load_classifier, weights_sha256
from genstyle.errors import GenstyleError
from genstyle.metrics.features import check_model_range
from genstyle.pixels import to_uint8

EXTRACTOR_NAME = "fmnist-classifier"
INDEPENDENT_NAME = "fmnist-independent"
FEATURES = "features"  # (N, 256) penultimate activations: FID, KID, precision/recall
LOGITS = "logits"  # (N, 10) class logits: Inception Score
_DTYPES = {None: torch.float32, "float32": torch.float32, "float64": torch.float64}


def uint8_to_gray(x: torch.Tensor) -> torch.Tensor:
    """uint8 `(B, 1 or 3, H, W)` -> uint8 `(B, 1, H, W)`; RGB uses PIL's `convert("L")` rounding."""
    if x.shape[1] == 1:
        return x
    r, g, b = x.to(torch.int32).unbind(1)
    return ((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16).to(torch.uint8).unsqueeze(1)


class FashionFeatureExtractor(torch_fidelity.FeatureExtractorBase):
    """torch-fidelity adapter around `FashionClassifier`; provides `features` and `logits`."""

    def __init__(
        self,
        name: str,
        features_list: list[str],
        feature_extractor_weights_path: str | None = None,
        feature_extractor_internal_dtype: str | None = None,
        **kwargs: Any,  # the other calculate_metrics options, meant for other components
    ) -> None:
        super().__init__(name, features_list)
        if feature_extractor_internal_dtype not in _DTYPES:
            raise GenstyleError(
                f"feature_extractor_internal_dtype={feature_extractor_internal_dtype!r} is not supported by "
                f"{self.name}; use 'float32' (default) or 'float64'."
            )
        self.dtype = _DTYPES[feature_extractor_internal_dtype]
        self.weights_sha256 = self.file_sha256(feature_extractor_weights_path)
        self.model = self.load(feature_extractor_weights_path).to(self.dtype)

    @staticmethod
    def load(path: str | None) -> torch.nn.Module:
        return load_classifier(path)

    @staticmethod
    def file_sha256(path: str | None) -> str:
        return weights_sha256(path)

    def get_name(self) -> str:
        # Only used to name cache files: tie them to the exact weights.
        return f"{self.name}-{self.weights_sha256[:16]}"

    @staticmethod
    def get_provided_features_list() -> tuple[str, ...]:
        return FEATURES, LOGITS

    @staticmethod
    def get_default_feature_layer_for_metric(metric: str) -> str:
        return {"isc": LOGITS, "fid": FEATURES, "kid": FEATURES, "prc": FEATURES}[metric]

    @staticmethod
    def can_be_compiled() -> bool:
        return True

    @staticmethod
    def get_dummy_input_for_compile() -> torch.Tensor:
        return torch.zeros(1, 1, IMAGE_SIZE, IMAGE_SIZE, dtype=torch.uint8)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if not (torch.is_tensor(x) and x.dtype == torch.uint8 and x.ndim == 4 and x.shape[1] in (1, 3)):
            got = f"{x.dtype} {tuple(x.shape)}" if torch.is_tensor(x) else type(x).__name__
            raise GenstyleError(
                f"{self.name} expects uint8 image batches (B, 1 or 3, H, W), got {got}. torch-fidelity "
                "inputs must yield uint8 tensors in [0, 255]; wrap [-1, 1] samples with "
                "genstyle.metrics.ImageTensorDataset."
            )
        if tuple(x.shape[2:]) != (IMAGE_SIZE, IMAGE_SIZE):
            raise GenstyleError(
                f"{self.name} works on {IMAGE_SIZE}x{IMAGE_SIZE} images, got {x.shape[2]}x{x.shape[3]}. "
                f"Resize the samples first (for image folders: samples_resize_and_crop={IMAGE_SIZE})."
            )
        gray = uint8_to_gray(x).to(self.dtype).div(127.5).sub(1.0)  # the classifier's [-1, 1] range
        feats, logits = self.model.features_and_logits(gray)
        out = {FEATURES: feats.to(torch.float32), LOGITS: logits.to(torch.float32)}
        return tuple(out[name] for name in self.features_list)


class IndependentFeatureExtractor(FashionFeatureExtractor):
    """`fmnist-independent`: the same adapter around `IndependentClassifier` (128 features, 10
    logits); the shipped file is refused unless its sha256 is the expected one."""

    @staticmethod
    def load(path: str | None) -> torch.nn.Module:
        return independent.load_independent(path)

    @staticmethod
    def file_sha256(path: str | None) -> str:
        return independent.weights_sha256(path)


class ImageTensorDataset(Dataset):
    """Images held in memory as a torch-fidelity input: item i is a uint8 `(C, H, W)` tensor.

    Accepts uint8 `(N, C, H, W)` as is, or float samples in `[-1, 1]` (the model range), which are
    quantised the way they would be when saved as PNG.
    """

    def __init__(self, images: torch.Tensor) -> None:
        if not torch.is_tensor(images) or images.ndim != 4:
            raise GenstyleError(f"ImageTensorDataset takes a (N, C, H, W) tensor, got {getattr(images, 'shape', type(images))}.")
        if images.dtype != torch.uint8:
            check_model_range(images)
            images = to_uint8(images)
        self.images = images.cpu()

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.images[i]


def register() -> None:
    """Register `fmnist-classifier` and `fmnist-independent` with torch-fidelity (idempotent)."""
    from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY

    for name, cls in ((EXTRACTOR_NAME, FashionFeatureExtractor), (INDEPENDENT_NAME, IndependentFeatureExtractor)):
        if FEATURE_EXTRACTORS_REGISTRY.get(name) is not cls:
            FEATURE_EXTRACTORS_REGISTRY.pop(name, None)  # a stale class from a module reload
            torch_fidelity.register_feature_extractor(name, cls)


register()
