"""The shipped metric classifier, its torch-fidelity registration and the in-memory feature path."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch_fidelity
from PIL import Image

import genstyle.metrics  # noqa: F401  (registers the extractor)
from genstyle.classifier.fashion_classifier import WEIGHTS_PATH, load_classifier, weights_sha256
from genstyle.classifier.train import TrainConfig, train
from genstyle.data.sources import load_fashion_mnist
from genstyle.errors import GenstyleError
from genstyle.metrics.extractor import EXTRACTOR_NAME, FashionFeatureExtractor, ImageTensorDataset
from genstyle.metrics.features import extract_features
from genstyle.pixels import to_model_range

# Small sets keep torch-fidelity's KID/ISC valid and the file fast.
FIDELITY_KWARGS = dict(
    feature_extractor=EXTRACTOR_NAME, cuda=False, verbose=False, cache=False, save_cpu_ram=True,
    batch_size=200, kid_subsets=10, kid_subset_size=100, isc_splits=2,
)  # fmt: skip


@pytest.fixture(scope="module")
def test_split():
    return load_fashion_mnist("test")


def fidelity(a: torch.Tensor | str, b: torch.Tensor | str, **metrics: bool) -> dict[str, float]:
    wrap = lambda x: x if isinstance(x, str) else ImageTensorDataset(x)  # noqa: E731
    return torch_fidelity.calculate_metrics(input1=wrap(a), input2=wrap(b), **FIDELITY_KWARGS, **metrics)


def test_shipped_weights_are_plain_data_and_reach_target_accuracy(test_split):
    payload = torch.load(WEIGHTS_PATH, map_location="cpu", weights_only=True)
    assert payload["test_accuracy"] >= 0.93 and isinstance(payload["seed"], int) and payload["epochs"] > 0
    assert WEIGHTS_PATH.stat().st_size < 5 * 2**20

    model = load_classifier()
    assert not model.training and not any(p.requires_grad for p in model.parameters())
    images, labels = test_split.images[:2000], test_split.labels[:2000]
    with torch.no_grad():
        predicted = model(to_model_range(images)).argmax(1)
    assert (predicted == labels).float().mean().item() >= 0.93


def test_weights_hash_is_the_file_sha256():
    assert weights_sha256() == hashlib.sha256(WEIGHTS_PATH.read_bytes()).hexdigest()


def test_extract_features_shapes_and_agreement_with_the_model(test_split):
    images = test_split.images[:300]
    out = extract_features(images, batch_size=128)  # uneven last batch on purpose
    assert out["features"].shape == (300, load_classifier().feature_dim)
    assert out["logits"].shape == (300, 10)
    assert out["features"].dtype == out["logits"].dtype == torch.float64
    assert bool((out["features"] >= 0).all())  # post-ReLU layer

    # The same numbers from [-1, 1] floats, and from the model called directly.
    from_float = extract_features(to_model_range(images), batch_size=300)
    torch.testing.assert_close(from_float["features"], out["features"])
    with torch.no_grad():
        direct = load_classifier()(to_model_range(images)).double()
    torch.testing.assert_close(out["logits"], direct, rtol=1e-5, atol=1e-5)


def test_extract_features_rejects_the_wrong_range(test_split):
    images01 = test_split.images[:8].float() / 255 * 3  # [0, 3]: not the model range
    with pytest.raises(GenstyleError, match=r"\[-1, 1\]"):
        extract_features(images01)
    with pytest.raises(GenstyleError, match="28"):
        extract_features(torch.zeros(2, 1, 32, 32, dtype=torch.uint8))


def test_torch_fidelity_extractor_matches_extract_features(test_split):
    images = test_split.images[:64]
    extractor = FashionFeatureExtractor(EXTRACTOR_NAME, ["logits", "features"])  # order as requested
    logits, feats = extractor(images)
    ours = extract_features(images)
    torch.testing.assert_close(feats.double(), ours["features"], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(logits.double(), ours["logits"], rtol=1e-5, atol=1e-5)
    assert weights_sha256()[:16] in extractor.get_name()  # cache files are tied to the weights

    # RGB batches (image folders arrive as RGB) are converted exactly like PIL's convert("L").
    rgb = images.expand(-1, 3, -1, -1)
    torch.testing.assert_close(extractor(rgb)[1], feats)


def test_calculate_metrics_with_the_registered_extractor(test_split):
    real_a, real_b = test_split.images[:500], test_split.images[500:1000]
    metrics = fidelity(real_a, real_b, fid=True, kid=True, isc=True, prc=True)
    for key in ("frechet_inception_distance", "kernel_inception_distance_mean", "inception_score_mean",
                "precision", "recall"):  # fmt: skip
        assert math.isfinite(metrics[key]), key
    # Ten balanced classes, an accurate classifier: IS is near its maximum of 10.
    assert 6.0 < metrics["inception_score_mean"] <= 10.0
    assert metrics["precision"] > 0.5 and metrics["recall"] > 0.5

    same = fidelity(real_a, real_a, fid=True)["frechet_inception_distance"]
    assert abs(same) < 1e-3 * max(metrics["frechet_inception_distance"], 1.0)

    # A set of only one class is far from the real distribution: the features must notice.
    one_class = test_split.images[test_split.labels == 7][:500]
    skewed = fidelity(one_class, real_b, fid=True, kid=True)
    assert skewed["frechet_inception_distance"] > 10 * metrics["frechet_inception_distance"]
    assert skewed["kernel_inception_distance_mean"] > metrics["kernel_inception_distance_mean"]


def test_image_folder_input_is_read_as_grayscale(tmp_path, test_split):
    images = test_split.images[:120]
    for i, image in enumerate(images):
        Image.fromarray(image[0].numpy(), mode="L").save(tmp_path / f"{i:04d}.png")
    fid = fidelity(str(tmp_path), images, fid=True)["frechet_inception_distance"]
    assert abs(fid) < 1e-3


class _Payload:
    """Pickles to a call that creates a file: proof that unpickling ran code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_malicious_weights_file_is_refused(tmp_path):
    marker, evil = tmp_path / "code_ran", tmp_path / "fmnist_classifier.pt"
    torch.save({"format_version": 1, "state_dict": {"x": _Payload(marker)}}, evil)

    with pytest.raises(GenstyleError, match="Refusing to load"):
        load_classifier(evil)
    with pytest.raises(GenstyleError, match="Refusing to load"):
        FashionFeatureExtractor(EXTRACTOR_NAME, ["features"], feature_extractor_weights_path=str(evil))
    assert not marker.exists()

    torch.load(evil, weights_only=False)  # the payload is real: a full unpickle runs it
    assert marker.exists()


def test_missing_weights_file_says_how_to_get_it(tmp_path):
    with pytest.raises(GenstyleError, match=r"genstyle\.classifier\.train"):
        load_classifier(tmp_path / "absent.pt")


def test_training_is_deterministic_in_its_seed(test_split):
    images, labels = test_split.images[:128], test_split.labels[:128]
    cfg = TrainConfig(seed=3, epochs=1, batch_size=64)
    first, second = train(images, labels, cfg, log=lambda s: None), train(images, labels, cfg, log=lambda s: None)
    for (name, a), b in zip(first.state_dict().items(), second.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    other = train(images, labels, TrainConfig(seed=4, epochs=1, batch_size=64), log=lambda s: None)
    assert not torch.equal(other.fc.weight, first.fc.weight)


def test_gray_conversion_matches_pil():
    from genstyle.metrics.extractor import uint8_to_gray

    rgb = torch.randint(0, 256, (1, 3, 5, 7), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    pil = np.asarray(Image.fromarray(rgb[0].permute(1, 2, 0).numpy(), mode="RGB").convert("L"))
    assert np.array_equal(uint8_to_gray(rgb)[0, 0].numpy(), pil)
