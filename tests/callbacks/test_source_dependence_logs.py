"""Source dependence in the training-time evaluations: the multi-domain protocol (stargan_v2) and
the translation protocol (cyclegan) log it per guidance mode / direction, with known answers from
stand-in models that copy the source or ignore it."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from genstyle.callbacks.multidomain_evaluation import MultiDomainSettings, evaluate_multidomain
from genstyle.data.sources import FASHION_MNIST_CLASSES, load_fashion_mnist
from genstyle.pixels import to_model_range


class PoolBackend:
    """Features: the image average-pooled to 7x7 (any fixed map of images to vectors will do)."""

    name = "pool-7x7"
    weights_sha256 = None
    feature_dim = 49

    def __call__(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        x = to_model_range(images) if images.dtype == torch.uint8 else images.float()
        features = F.avg_pool2d(x, 4).flatten(1).double()
        return {"features": features, "logits": features[:, :10]}


class Domains:
    """Latent-guided: keeps the source (plus a shift from z); reference-guided: returns the reference."""

    latent_dim = 4
    device = torch.device("cpu")

    def domain_names(self):
        return list(FASHION_MNIST_CLASSES)

    def translate(self, x, target, z):
        return (x + 0.05 * z[:, :1, None, None]).clamp(-1, 1)

    def stylize(self, content, style, style_labels=None):
        return style.expand_as(content).clone()


@pytest.fixture(scope="module")
def split(fmnist_root):
    data = load_fashion_mnist("test", root=str(fmnist_root), download=False)
    return data.images[:400], data.labels[:400]


def test_multidomain_logs_source_dependence_per_mode(split):
    settings = MultiDomainSettings(per_source=2, diversity_inputs=1, num_outputs=2, real_per_domain=30, dependence_sources=8)
    logs, protocol = evaluate_multidomain(Domains(), *split, PoolBackend(), settings)
    assert logs["val/source_dependence_reference"] == 0.0 and logs["val/source_dependence_reference_pixel"] == 0.0
    # One noise draw for all sources: the shift is shared, so the spread is the sources' own.
    assert logs["val/source_dependence_latent"] == pytest.approx(1.0, abs=0.02)
    assert logs["val/source_dependence_latent_pixel"] == pytest.approx(1.0, abs=0.02)
    assert logs["val/source_dependence"] == pytest.approx(logs["val/source_dependence_latent"] / 2)
    assert "source_dependence" in protocol
    # Its own generator: the rest of the protocol draws what it drew before.
    without, _ = evaluate_multidomain(Domains(), *split, PoolBackend(), MultiDomainSettings(**{**settings.__dict__, "dependence_sources": 3}))
    assert without["val/fid_reference"] == logs["val/fid_reference"] and without["val/fid_latent"] == logs["val/fid_latent"]


class Inverts:
    device = torch.device("cpu")

    def translate(self, x, direction):
        return -x


class Ignores:
    device = torch.device("cpu")

    def translate(self, x, direction):
        return torch.full_like(x, 0.3)


def test_translation_evaluation_logs_source_dependence_per_direction(split):
    from genstyle.callbacks.translation_evaluation import TranslationEvaluation
    from genstyle.metrics.translation import TranslationTarget

    images, labels = split
    evaluation = TranslationEvaluation(None, None, num_samples=100, seed=0, batch_size=64, reference_split="test")
    evaluation.targets = {
        "a2b": TranslationTarget("a2b", "test", images[labels == 7], "sneaker", None),
        "b2a": TranslationTarget("b2a", "test", images[labels == 9], "ankle_boot", None),
    }
    inverted = evaluation.source_dependence(Inverts(), PoolBackend())
    # Negation keeps every distance in pixels (and in the linear pooled features).
    assert set(inverted) == {f"val/source_dependence{s}" for s in ("_a2b", "_a2b_pixel", "_b2a", "_b2a_pixel", "")}
    assert all(v == pytest.approx(1.0) for v in inverted.values())
    assert all(v == 0.0 for v in evaluation.source_dependence(Ignores(), PoolBackend()).values())


def test_the_headline_line_shows_source_dependence():
    from genstyle.callbacks.headline import headline, headline_line

    metrics = {"val/fid": 9.5, "val/source_dependence": 0.21, "val/fid_reference": 3.0, "val/loss": 1.0}
    assert list(headline(metrics)) == ["val/fid", "val/source_dependence"]
    assert headline_line(0, 5, 10, headline(metrics)) == "epoch 1/5 (step 10): val/fid 9.5  val/source_dependence 0.21"
