"""CycleGAN: training on real Fashion-MNIST class pairs and on a generated two-domain folder,
translation shapes and ranges, the image pool, the LR schedule and the configuration errors."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import hydra
import pytest
import torch
from PIL import Image
from torch import nn

from genstyle.checkpoints import load_model
from genstyle.cli.train import train
from genstyle.errors import GenstyleError
from genstyle.models.components.image_pool import ImagePool
from genstyle.models.components.patchgan import PatchDiscriminator
from genstyle.models.components.resnet_generator import ResnetGenerator
from genstyle.models.components.unet_generator import UnetGenerator
from genstyle.models.cyclegan import CycleGAN, LinearDecay
from tests.data.unpaired_folder import write_two_domain_folder

# Translation FID/KID (and model.monitor=val/fid, which needs it) are tested in
# tests/callbacks/test_translation_evaluation.py.
NO_EVAL = ("++callbacks.evaluation=null", "model.monitor=null")
LOSS_TERMS = ["g_adv_a2b", "g_adv_b2a", "cycle_a", "cycle_b", "idt_a", "idt_b", "g_loss", "d_a", "d_b"]
VAL_TERMS = ["cycle_l1_a", "cycle_l1_b", "ssim_a2b", "ssim_b2a", "identity_gap"]


pytestmark = pytest.mark.usefixtures("one_thread")


def small_cyclegan(size: int = 16, channels: int = 3, **kwargs) -> CycleGAN:
    return CycleGAN(
        generator=functools.partial(ResnetGenerator, channels, size, ngf=4, n_blocks=1),
        discriminator=functools.partial(PatchDiscriminator, channels, size, ndf=4),
        g_optimizer=functools.partial(torch.optim.Adam, lr=2e-4),
        d_optimizer=functools.partial(torch.optim.Adam, lr=2e-4),
        image_shape=(channels, size, size),
        **kwargs,
    )


def test_trains_on_fashion_class_pair(make_cfg):
    cfg = make_cfg(
        "model=cyclegan", "data=fashion_unpaired", "data.domain_a=sneaker", "data.domain_b=ankle_boot",
        "data.train_subset=32", "data.val_size=16", "data.batch_size=16", "trainer.limit_train_batches=2",
        "model.generator.ngf=8", "model.generator.n_blocks=1", "model.discriminator.ndf=8", *NO_EVAL,
    )  # fmt: skip
    metrics = train(cfg)
    for term in LOSS_TERMS:
        assert torch.isfinite(torch.tensor(metrics[f"train/{term}_epoch"])), term
    for term in VAL_TERMS:
        assert torch.isfinite(torch.tensor(metrics[f"val/{term}"])), term
    assert metrics["stability/grad_norm_g_epoch"] > 0 and metrics["stability/grad_norm_d_epoch"] > 0
    assert -1.0 <= metrics["val/ssim_a2b"] <= 1.0 and metrics["val/identity_gap"] > 0
    run = Path(cfg.paths.output_dir)
    with Image.open(run / "samples" / "cycle_epoch_001.png") as grid:
        # 6 rows (A, G(A), F(G(A)), B, F(B), G(F(B))) x 8 columns of 28 px with 2 px padding.
        assert grid.size == (8 * 30 + 2, 6 * 30 + 2)
    assert (run / "samples" / "epoch_001.png").is_file()  # SampleGrid works through sample()
    recorded = json.loads((run / "metrics.json").read_text())
    assert "train/cycle_a_epoch" in recorded and "val/cycle_l1_b" in recorded


def test_trains_on_generated_folder_with_lr_decay_and_reloads(make_cfg, tmp_path):
    root = write_two_domain_folder(tmp_path / "pair")
    cfg = make_cfg(
        "model=cyclegan", "data=unpaired_folder", f"data.root={root}", "data.image_size=16", "data.channels=3",
        "data.val_size=1", "data.batch_size=2", "trainer.max_epochs=2", "trainer.limit_train_batches=1",
        "model.generator.ngf=4", "model.generator.n_blocks=1", "model.discriminator.ndf=4", *NO_EVAL,
    )  # fmt: skip
    metrics = train(cfg)
    # Two epochs, decay from epoch 1 (half of 2): the last epoch runs at lr * 1/(2 - 1 + 1).
    assert metrics["train/lr"] == pytest.approx(2e-4 / 2)
    history = [json.loads(line) for line in (Path(cfg.paths.output_dir) / "metrics_history.jsonl").read_text().splitlines()]
    lrs = {row["epoch"]: row["train/lr"] for row in history if "train/lr" in row}
    assert lrs[0] == pytest.approx(2e-4) and lrs[1] == pytest.approx(1e-4)  # each epoch's record has its own lr
    assert torch.isfinite(torch.tensor(metrics["test/cycle_l1_a"]))  # the testA/testB split is evaluated
    model, checkpoint = load_model(Path(cfg.paths.output_dir) / "checkpoints" / "last.ckpt", "cpu")
    saved, loaded = checkpoint["state_dict"], model.state_dict()
    assert set(loaded) == set(saved) and all(torch.equal(loaded[k], saved[k]) for k in saved)  # every tensor, bit for bit
    torch.manual_seed(cfg.seed)
    untrained = hydra.utils.instantiate(cfg.model).state_dict()
    assert not torch.equal(untrained["gen_b2a.net.1.weight"], saved["gen_b2a.net.1.weight"])  # the weights trained
    out = model.translate(torch.rand(3, 3, 16, 16) * 2 - 1, "a")
    assert out.shape == (3, 3, 16, 16)


def test_translate_shapes_ranges_and_errors():
    torch.manual_seed(0)
    model = small_cyclegan()
    x = torch.rand(5, 3, 16, 16) * 2 - 1
    for target in ("a", "b"):  # translate(x, target): the domain to translate into
        y = model.translate(x, target)
        assert y.shape == x.shape and y.min() >= -1 and y.max() <= 1 and not torch.equal(y, x)
    assert torch.equal(model.translate(x, "b"), model.gen_a2b.eval()(x))  # into b: G (A -> B)
    assert not torch.allclose(model.translate(x, "b"), model.translate(x, "a"))  # two generators
    with pytest.raises(GenstyleError, match="target='ab' is not a domain"):
        model.translate(x, "ab")
    with pytest.raises(GenstyleError, match="the direction a2b translates into 'b'"):
        model.translate(x, "a2b")  # a direction is not a target; the message names the one meant
    with pytest.raises(GenstyleError, match=r"\(B, 3, 16, 16\).*got \(5, 1, 16, 16\)"):
        model.translate(x[:, :1], "b")
    with pytest.raises(GenstyleError, match=r"values in \[-3"):
        model.translate(x * 3, "b")
    with pytest.raises(GenstyleError, match="samples by translating"):
        model.sample(4)


def test_sample_translates_held_images_in_order():
    model = small_cyclegan()
    held = torch.rand(3, 3, 16, 16) * 2 - 1
    model._sample_source = [held]
    out = model.sample(7)
    assert out.shape == (7, 3, 16, 16)
    assert torch.allclose(out[:3], model.translate(held, "b")) and torch.allclose(out[3:6], out[:3])


def test_unet_generator_and_size_checks():
    unet = UnetGenerator(1, 28, ngf=4, n_downsampling=2)
    y = unet(torch.rand(2, 1, 28, 28) * 2 - 1)
    assert y.shape == (2, 1, 28, 28) and y.abs().max() <= 1
    with pytest.raises(GenstyleError, match=r"image_size=28 is not divisible by 2\*\*n_downsampling=8.*largest that fits: 2"):
        ResnetGenerator(1, 28, n_downsampling=3)
    with pytest.raises(GenstyleError, match=r"n_layers=3 is too many for data.image_size=16"):
        PatchDiscriminator(1, 16, n_layers=3)
    assert PatchDiscriminator(1, 28)(torch.zeros(1, 1, 28, 28)).shape == (1, 1, 5, 5)


def test_image_pool_mixes_history_after_filling():
    pool = ImagePool(4, generator=torch.Generator().manual_seed(0))
    first = torch.arange(4.0).view(4, 1, 1, 1)
    assert torch.equal(pool.query(first), first) and len(pool) == 4  # while filling: the new images
    new = torch.arange(100.0, 164.0).view(64, 1, 1, 1)
    out = pool.query(new).flatten().tolist()
    from_new = sum(v >= 100 and v == n for v, n in zip(out, new.flatten().tolist(), strict=True))
    assert 16 < from_new < 48  # about half the new images pass through; the rest come from history
    assert set(out) <= set(range(4)) | set(range(100, 164)) and len(pool) == 4
    assert torch.equal(ImagePool(0).query(new), new)


def test_linear_decay_over_second_half():
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(opt, LinearDecay(start=5, total=10))
    lrs = []
    for _ in range(10):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        scheduler.step()
    assert lrs[:5] == [1.0] * 5
    assert lrs[5:] == pytest.approx([5 / 6, 4 / 6, 3 / 6, 2 / 6, 1 / 6])  # the last epoch: lr / (10 - 5 + 1)


def test_identity_collapse_alarm(tmp_path):
    import pytorch_lightning as pl

    from genstyle.data import ImageDataModule

    root = write_two_domain_folder(tmp_path / "pair")
    dm = ImageDataModule(dataset="unpaired_folder", root=str(root), image_size=16, channels=3, num_classes=None, batch_size=2, val_size=2)
    model = CycleGAN(
        generator=nn.Identity,  # G(x) = x: the collapse the alarm is for
        discriminator=functools.partial(PatchDiscriminator, 3, 16, ndf=4),
        g_optimizer=functools.partial(torch.optim.Adam, lr=2e-4),
        d_optimizer=functools.partial(torch.optim.Adam, lr=2e-4),
        image_shape=(3, 16, 16),
    )
    trainer = pl.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path)
    with pytest.warns(UserWarning, match="Identity collapse"):
        (result,) = trainer.validate(model, datamodule=dm)
    assert result["val/identity_alarm"] == 1.0 and result["val/identity_gap"] == 0.0
    assert result["val/cycle_l1_a"] == 0.0 and result["val/ssim_a2b"] == pytest.approx(1.0)


def test_configuration_errors():
    with pytest.raises(GenstyleError, match="model.loss='mse'.*lsgan, vanilla"):
        small_cyclegan(loss="mse")
    assert small_cyclegan(loss="vanilla").adversarial.mode == "non_saturating"
    with pytest.raises(GenstyleError, match="lambda_identity=-1"):
        small_cyclegan(lambda_identity=-1)


class ConstantClassifier(nn.Module):
    """Stands in for the Fashion-MNIST classifier: always answers `label`."""

    def __init__(self, label: int) -> None:
        super().__init__()
        self.label = label

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.one_hot(torch.full((len(x),), self.label), 10).float()


def fashion_pair_validation(fmnist_root, tmp_path):
    import pytorch_lightning as pl

    from genstyle.callbacks.translation_views import TranslationViews
    from genstyle.data import ImageDataModule

    dm = ImageDataModule(dataset="fashion_unpaired", root=str(fmnist_root), download=False, domain_a="sneaker",
                         domain_b="ankle_boot", num_classes=None, batch_size=8, val_size=8, train_subset=8)  # fmt: skip
    model = small_cyclegan(28, 1, domain_classes=("sneaker", "ankle_boot"))
    trainer = pl.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False, enable_model_summary=False,
                         default_root_dir=tmp_path, callbacks=[TranslationViews()])  # it measures the target class
    (result,) = trainer.validate(model, datamodule=dm)
    return result


def test_target_class_fraction_uses_the_fashion_classifier(fmnist_root, tmp_path, monkeypatch):
    import genstyle.classifier.fashion_classifier as classifier

    monkeypatch.setattr(classifier, "load_classifier", lambda path=None: ConstantClassifier(9))  # ankle_boot
    result = fashion_pair_validation(fmnist_root, tmp_path)
    assert result["val/target_class_a2b"] == 1.0 and result["val/target_class_b2a"] == 0.0


def test_target_class_fraction_skipped_with_a_note_without_classifier(fmnist_root, tmp_path, monkeypatch, caplog):
    import genstyle.classifier.fashion_classifier as classifier

    def missing(path=None):
        raise GenstyleError("Classifier weights do not exist.")

    monkeypatch.setattr(classifier, "load_classifier", missing)
    with caplog.at_level("WARNING", logger="genstyle.translation_views"):
        result = fashion_pair_validation(fmnist_root, tmp_path)
    assert "val/target_class_a2b" not in result and "val/cycle_l1_a" in result
    assert "classifier is unavailable (Classifier weights do not exist.)" in caplog.text
