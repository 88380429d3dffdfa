"""Translation metrics of the evaluation callback: FID/KID of translated images against the target
domain, per direction, on real Fashion-MNIST class pairs and generated two-domain folders."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from genstyle.cli.train import build, train
from genstyle.data import ImageDataModule
from genstyle.errors import GenstyleError
from genstyle.metrics.backends import ClassifierBackend
from genstyle.metrics.fidelity import FidelitySettings
from genstyle.metrics.translation import domain_name, load_targets, score_direction
from genstyle.pixels import to_model_range
from tests.data.unpaired_folder import write_two_domain_folder

TINY_NETS = ["model.generator.ngf=4", "model.generator.n_blocks=1", "model.discriminator.ndf=4"]
LOGGED = ["val/fid_a2b", "val/kid_a2b_mean", "val/kid_a2b_std", "val/precision_a2b", "val/recall_a2b",
          "val/fid_b2a", "val/kid_b2a_mean", "val/kid_b2a_std", "val/precision_b2a", "val/recall_b2a",
          "val/fid", "val/kid_mean"]  # fmt: skip


pytestmark = pytest.mark.usefixtures("one_thread")


class FixedTranslator:
    """Stands in for a translation model: `translate` returns its input (identity) or, cycling
    through them, real images of the target domain (a perfect translator, as far as FID can tell)."""

    device = torch.device("cpu")

    def __init__(self, outputs: dict[str, torch.Tensor] | None = None) -> None:
        self.outputs = outputs

    def translate(self, x: torch.Tensor, target: str) -> torch.Tensor:
        if self.outputs is None:
            return x
        pool = self.outputs[{"b": "a2b", "a": "b2a"}[target]]  # target: the domain to translate into
        self.offset = getattr(self, "offset", 0)
        out = pool[(torch.arange(len(x)) + self.offset) % len(pool)]
        self.offset += len(x)
        return out


def fashion_pair(root, domain_b: str = "ankle_boot", seed: int = 0) -> ImageDataModule:
    return ImageDataModule(dataset="fashion_unpaired", root=str(root), download=False, domain_a="sneaker", domain_b=domain_b,
                           num_classes=None, batch_size=16, val_size=16, train_subset=64, seed=seed)  # fmt: skip


def targets(dm, backend, cache_dir, num_samples=150, num_real=300):
    return load_targets(backend, dm, "test", num_samples, 2, image_size=28, channels=1, num_real=num_real, subset_seed=0,
                        prc_neighborhood=3, cache_dir=cache_dir)  # fmt: skip


def test_cyclegan_run_logs_fid_kid_per_direction_with_protocol(make_cfg, classifier_weights):
    # The plain command (default callbacks, evaluation on) on a tiny budget.
    cfg = make_cfg(
        "model=cyclegan", "data=fashion_unpaired", "data.domain_a=sneaker", "data.domain_b=ankle_boot",
        f"metrics.classifier_weights={classifier_weights}", "data.train_subset=32", "data.val_size=16",
        "data.batch_size=16", "trainer.limit_train_batches=1", "callbacks.evaluation.two_sample_judge=cnn", *TINY_NETS,
    )  # fmt: skip
    metrics = train(cfg)
    for key in LOGGED:
        assert key in metrics and math.isfinite(metrics[key]), key
    assert metrics["val/fid"] == pytest.approx((metrics["val/fid_a2b"] + metrics["val/fid_b2a"]) / 2, rel=1e-5)
    out = Path(cfg.paths.output_dir)
    record = json.loads((out / "eval.json").read_text())
    from genstyle.classifier.fashion_classifier import weights_sha256

    seed = cfg.seed
    for direction, src, dst in (("a2b", "sneaker", "ankle_boot"), ("b2a", "ankle_boot", "sneaker")):
        p = record["protocol"][direction]
        assert (p["direction"], p["split"], p["extractor"], p["weights_sha256"]) == (
            direction, "test", "fmnist-classifier", weights_sha256(classifier_weights))
        assert p["source"] == f"fashion_mnist-{src}-seed{seed}:test" and p["reference"] == f"fashion_mnist-{dst}-seed{seed}:test"
        assert (p["num_fake"], p["num_real"]) == (200, 500)  # callbacks.evaluation.num_samples, metrics.num_real
        assert (out / "eval_samples" / f"epoch_001_{direction}.png").is_file()
        assert record["metrics"][f"val/fid_{direction}"] == pytest.approx(metrics[f"val/fid_{direction}"], rel=1e-6)
        # The two-sample test per direction: translations of the test images of the source domain
        # against real images of the target domain (judge trained on its 32 training images).
        c2st = record["two_sample"][direction]
        assert c2st["protocol"]["judge"] == "cnn" and c2st["protocol"]["train_real"] == 32 and c2st["total"] == 200
        assert c2st["ci95"][0] <= c2st["accuracy"] <= c2st["ci95"][1]
        assert metrics[f"val/c2st_acc_{direction}"] == pytest.approx(c2st["accuracy"])
        assert (metrics[f"val/c2st_acc_{direction}_low"], metrics[f"val/c2st_acc_{direction}_high"]) == pytest.approx(tuple(c2st["ci95"]))
        assert metrics[f"val/c2st_p_{direction}"] == pytest.approx(c2st["p_value"])
    # model.monitor=val/fid: the best checkpoint is chosen by the mean translation FID.
    assert list((out / "checkpoints").glob("best-*.ckpt"))


def test_real_target_images_score_far_better_than_identity(fmnist_root, classifier_weights, tmp_path):
    dm = fashion_pair(fmnist_root)
    dm.setup("fit")
    backend = ClassifierBackend(classifier_weights)
    found = targets(dm, backend, tmp_path / "cache")
    settings = FidelitySettings(kid_subsets=10, kid_subset_size=100)
    identity = {d: score_direction(FixedTranslator(), t, backend, settings, 64)[1].metrics for d, t in found.items()}
    # Real images of the target domain from the *training* split: not the reference images.
    real = {"a2b": to_model_range(dm.train_set.b.images), "b2a": to_model_range(dm.train_set.a.images)}
    oracle = {d: score_direction(FixedTranslator(real), t, backend, settings, 64)[1].metrics for d, t in found.items()}
    for d in ("a2b", "b2a"):
        assert identity[d]["fid"] > 5 * oracle[d]["fid"], (d, identity[d], oracle[d])
        assert identity[d]["kid_mean"] > oracle[d]["kid_mean"] + 0.05
    # Direction matters: the a2b target is ankle boots, so boots score well a2b and badly b2a.
    boots = FixedTranslator({"a2b": real["a2b"], "b2a": real["a2b"]})
    assert score_direction(boots, found["b2a"], backend, settings, 64)[1].metrics["fid"] > 5 * oracle["b2a"]["fid"]


def test_domain_reference_cache_is_keyed_by_class_and_folder(fmnist_root, classifier_weights, tmp_path):
    backend, cache = ClassifierBackend(classifier_weights), tmp_path / "cache"
    first = targets(fashion_pair(fmnist_root), backend, cache)
    assert not first["a2b"].reference.from_cache and first["a2b"].reference.path.name.startswith("fashion_mnist-ankle_boot-seed0-test-")
    again = targets(fashion_pair(fmnist_root), backend, cache)
    assert again["a2b"].reference.from_cache and again["b2a"].reference.from_cache
    assert torch.equal(again["a2b"].reference.mu, first["a2b"].reference.mu)
    # Another target class is another reference; the shared domain (sneaker) comes from the cache.
    other = targets(fashion_pair(fmnist_root, domain_b="sandal"), backend, cache)
    assert not other["a2b"].reference.from_cache and other["b2a"].reference.from_cache
    assert other["a2b"].reference.path != first["a2b"].reference.path
    assert not torch.allclose(other["a2b"].reference.mu, first["a2b"].reference.mu)
    # Folders: named by folder and a digest of the files, so editing a file changes the key.
    root = write_two_domain_folder(tmp_path / "pair")
    dm = ImageDataModule(dataset="unpaired_folder", root=str(root), image_size=28, channels=1, num_classes=None, batch_size=2, val_size=1)
    name_b = domain_name(dm, "b", "test")
    assert name_b.startswith("folder-pair-B-") and domain_name(dm, "a", "test") != name_b
    victim = sorted((root / "testB").iterdir())[0]
    victim.write_bytes((root / "testA" / "a_000.png").read_bytes())
    assert domain_name(dm, "b", "test") != name_b


def test_grayscale_folder_uses_the_classifier_and_rgb_needs_inception_weights(make_cfg, classifier_weights, tmp_path, monkeypatch):
    root = write_two_domain_folder(tmp_path / "pair", n_test=(12, 11))
    common = ["model=cyclegan", "data=unpaired_folder", f"data.root={root}", "data.val_size=1", "data.batch_size=2",
              "trainer.limit_train_batches=1", "metrics.isc_splits=2", f"metrics.classifier_weights={classifier_weights}",
              "metrics.num_real=null", *TINY_NETS]  # fmt: skip
    cfg = make_cfg(*common, "data.image_size=28", "data.channels=1")
    metrics = train(cfg)
    assert math.isfinite(metrics["val/fid_a2b"]) and math.isfinite(metrics["val/fid_b2a"])
    p = json.loads((Path(cfg.paths.output_dir) / "eval.json").read_text())["protocol"]
    assert p["a2b"]["extractor"] == "fmnist-classifier" and (p["a2b"]["num_fake"], p["a2b"]["num_real"]) == (12, 11)
    assert p["b2a"]["reference"].startswith("folder-pair-A-") and (p["b2a"]["num_fake"], p["b2a"]["num_real"]) == (11, 12)
    # RGB: Inception-V3, whose weights are not installed here -> a clear error before training.
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "no_torch_home"))

    def offline(url, dst, **kwargs):  # tests never download: the machine is offline
        raise OSError(101, "Network is unreachable")

    monkeypatch.setattr("torch.hub.download_url_to_file", offline)
    datamodule, model, trainer = build(make_cfg(*common, "data.image_size=16", "data.channels=3"))
    with pytest.raises(GenstyleError, match="Inception-V3 weights are not at .*downloading them failed .*Network is unreachable.*metrics.inception_weights="):
        trainer.fit(model, datamodule=datamodule)
    assert trainer.global_step == 0
    # Too few test images for metrics.min_samples: named at start-up, with the ways out.
    datamodule, model, trainer = build(make_cfg(*common, "data.image_size=28", "data.channels=1", "metrics.min_samples=50"))
    with pytest.raises(GenstyleError, match=r"it has 12, fewer than metrics.min_samples=50.*callbacks.evaluation=null model.monitor=null"):
        trainer.fit(model, datamodule=datamodule)
