"""stargan_v2: real training steps on Fashion-MNIST and on a generated RGB class folder, the
translate / stylize / sample contract (shapes, ranges, repeatability, EMA at inference), an exact
checkpoint round trip, the multi-domain evaluation, the style benchmark's labels, benchmarks/domains.py and
benchmarks/reference_grid.py, and stylize.py's latent-guided path and bad input."""

from __future__ import annotations

import json
import math
from pathlib import Path

import hydra
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from PIL import Image

from genstyle.callbacks.multidomain_evaluation import MultiDomainSettings, evaluate_multidomain
from genstyle.checkpoints import check_resumable, load_model
from genstyle.cli.common import CONFIG_DIR
from genstyle.cli.stylize import stylize
from genstyle.cli.train import train
from genstyle.data.sources import FASHION_MNIST_CLASSES, load_fashion_mnist
from genstyle.errors import GenstyleError, user_error_in
from genstyle.images import save_png
from genstyle.metrics.backends import ClassifierBackend
from genstyle.models.components.spectral_norm import is_spectral_normalised
from genstyle.pixels import to_model_range
from tests.cli.fake_stylers import FakeConditionalStylizer, write_checkpoint
from tests.conftest import compose_train
from tests.helpers.benchmark_scripts import run_benchmark
from tests.helpers.forked_cli import run_cli_forked as run_cli

# Tiny networks: the code paths of the real ones at a fraction of the cost.
TINY = [
    "model=stargan_v2",
    "model.style_dim=16", "model.latent_dim=8", "model.mapping_network.mlp_width=32",
    "model.mapping_network.shared_layers=2", "model.mapping_network.head_layers=2",
    "model.generator.base_width=8", "model.generator.max_width=16", "model.generator.n_bottleneck=1",
    "model.style_encoder.base_width=8", "model.style_encoder.max_width=16",
    "model.discriminator.base_width=8", "model.discriminator.max_width=16",
    "data.batch_size=16", "trainer.limit_train_batches=2",
]  # fmt: skip
NO_EVAL = ["++callbacks.evaluation=null", "model.monitor=null"]
EVAL_TERMS = [
    "val/fid", "val/fid_latent", "val/fid_reference", "val/fid_latent_coat", "val/target_share_latent",
    "val/target_share_reference", "val/diversity_feature_latent", "val/diversity_feature_reference",
    "val/diversity_feature_real",
]  # fmt: skip
TRAIN_TERMS = [
    f"train/{k}_{mode}" for mode in ("latent", "ref")
    for k in ("d_loss", "d_r1", "g_loss", "g_adv", "g_sty", "g_ds", "g_cyc")
]  # fmt: skip


@pytest.fixture(scope="module")
def trained(tmp_path_factory, fmnist_root):
    """A model trained for two iterations on real Fashion-MNIST with the evaluation callback on
    (StarGAN v2's protocol on 200 test translations per mode), and its run folder."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    run = tmp_path_factory.mktemp("stargan_v2") / "run"
    metrics = train(compose_train([f"data.root={fmnist_root}", *TINY], run))
    GlobalHydra.instance().clear()
    torch.set_num_threads(threads)
    model, _ = load_model(run / "checkpoints" / "last.ckpt")
    return model, run, metrics


@pytest.fixture(scope="module")
def test_images(fmnist_root):
    data = load_fashion_mnist("test", root=str(fmnist_root), download=False)
    return data.images[:200], data.labels[:200]


def test_training_step_on_fashion_mnist(trained):
    model, run, metrics = trained
    for key in TRAIN_TERMS:
        value = metrics.get(key, metrics.get(f"{key}_epoch"))
        assert value is not None and math.isfinite(value), key
    assert metrics["train/d_r1_latent_epoch"] >= 0
    for key in EVAL_TERMS:  # the evaluation callback picked the multi-domain protocol
        assert key in metrics and math.isfinite(metrics[key]), key
    assert metrics["val/fid"] == pytest.approx((metrics["val/fid_latent"] + metrics["val/fid_reference"]) / 2)
    protocol = json.loads((run / "eval.json").read_text())["protocol"]
    assert protocol["translations_per_target"]["coat"] == 18
    assert protocol["extractor"] == "fmnist-independent"  # metrics.judge_extractor: a network stargan_v2 never trains against
    assert int(model.iteration) == 2
    assert model.domain_names() == list(FASHION_MNIST_CLASSES)  # the data's class names are the domains
    assert int(model.sample_source_count) == 32  # the real images of both batches, held for sample()
    with Image.open(run / "samples" / "epoch_001.png") as grid:  # SampleGrid through sample()
        assert grid.size[0] == 10 * 30 + 2


def test_training_uses_the_channels_last_layout_with_the_same_maths(trained, tmp_path, one_thread):
    model, _ = load_model(trained[1] / "checkpoints" / "last.ckpt")  # a copy: the fixture stays as loaded
    torch.manual_seed(0)
    x, s, y = torch.rand(4, 1, 28, 28) * 2 - 1, torch.randn(4, model.style_dim), torch.tensor([0, 3, 5, 9])
    before = (model.generator(x, s), model.discriminator(x, y), model.style_encoder(x, y))
    model.configure_model()  # what Lightning calls before training: the layout of model.channels_last=true
    # A convolution with more than one input channel (with one, both layouts are the same strides).
    assert model.generator.encoder[0].conv1.weight.is_contiguous(memory_format=torch.channels_last)
    assert model.ema["generator"].network.encoder[0].conv1.weight.is_contiguous(memory_format=torch.channels_last)
    assert model.discriminator.trunk.body[1].conv1.weight.is_contiguous(memory_format=torch.channels_last)
    after = (model.generator(x, s), model.discriminator(x, y), model.style_encoder(x, y))
    for a, b in zip(before, after, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    plain = compose_train([*TINY, *NO_EVAL, "model.channels_last=false"], tmp_path)
    contiguous = hydra.utils.instantiate(plain.model)
    contiguous.configure_model()
    assert not contiguous.generator.encoder[0].conv1.weight.is_contiguous(memory_format=torch.channels_last)


def write_rgb_class_folder(root: Path, per_class: int = 12, size: int = 32) -> Path:
    """Three classes a model can tell apart: red stripes, green checks, blue discs (noisy)."""
    g = torch.Generator().manual_seed(0)
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    shapes = {
        "stripes": (xx // 4) % 2 == 0,
        "checks": ((xx // 4) + (yy // 4)) % 2 == 0,
        "discs": (yy - size / 2) ** 2 + (xx - size / 2) ** 2 < (size / 3) ** 2,
    }
    for c, (name, mask) in enumerate(shapes.items()):
        for i in range(per_class):
            colour = torch.zeros(3, 1, 1)
            colour[c] = 255
            image = mask * colour + torch.randint(0, 40, (3, size, size), generator=g)
            save_png(image.clamp(0, 255).to(torch.uint8), root / name / f"{i:03d}.png")
    return root


def test_training_step_on_generated_rgb_class_folder(tmp_path, one_thread):
    root = write_rgb_class_folder(tmp_path / "images")
    overrides = [
        *TINY, *NO_EVAL, "data=image_folder", f"data.root={root}", "data.image_size=32", "data.channels=3",
        "data.num_classes=3", "data.val_size=6", "data.batch_size=8",
    ]  # fmt: skip
    metrics = train(compose_train(overrides, tmp_path / "run"))
    assert all(math.isfinite(metrics.get(k, metrics.get(f"{k}_epoch"))) for k in TRAIN_TERMS)
    model, _ = load_model(tmp_path / "run" / "checkpoints" / "last.ckpt")
    assert model.domain_names() == ["checks", "discs", "stripes"]  # the class sub-folders, sorted
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    assert model.translate(x, "discs").shape == (2, 3, 32, 32)
    assert model.stylize(x, x[:1], style_labels="stripes").shape == (2, 3, 32, 32)


def test_unlabelled_data_or_missing_class_count_is_an_error(tmp_path):
    root = write_rgb_class_folder(tmp_path / "images", per_class=2)
    with pytest.raises(Exception) as info:  # noqa: PT011 - Hydra wraps the user error; checked below
        train(compose_train([*TINY, *NO_EVAL, "data=image_folder", f"data.root={root}", "data.image_size=32", "data.num_classes=null"], tmp_path / "run"))
    assert "needs model.num_classes" in str(user_error_in(info.value))


def test_translate_and_stylize_shapes_ranges_and_seeds(trained, test_images):
    model, _, _ = trained
    images, labels = test_images
    x = to_model_range(images[:6])
    first = model.translate(x, "sneaker", generator=torch.Generator().manual_seed(3))
    again = model.translate(x, 7, generator=torch.Generator().manual_seed(3))
    other = model.translate(x, 7, generator=torch.Generator().manual_seed(4))
    assert first.shape == x.shape and first.min() >= -1 and first.max() <= 1
    assert torch.equal(first, again) and not torch.equal(first, other)
    result = model.stylize(x, x[:1], style_labels=int(labels[0]))
    assert result.shape == x.shape and result.min() >= -1 and result.max() <= 1
    assert torch.equal(result, model.stylize(x, x[:1], style_labels=int(labels[0])))
    per_image = model.translate(x, torch.arange(6) % 10, z=torch.zeros(6, model.latent_dim))
    assert per_image.shape == x.shape
    samples = model.sample(12, generator=torch.Generator().manual_seed(0))
    assert samples.shape == (12, 1, 28, 28) and torch.equal(samples, model.sample(12, generator=torch.Generator().manual_seed(0)))


def test_reference_codes_differ_for_different_references(trained, test_images):
    model, _, _ = trained
    images, _ = test_images
    refs = to_model_range(images[:4])
    codes = model.reference_codes(refs, torch.full((4,), 2))
    assert codes.shape == (4, model.style_dim)
    assert torch.cdist(codes, codes)[~torch.eye(4, dtype=torch.bool)].min() > 0
    # And the results follow the reference: two references give two different images.
    x = to_model_range(images[10:12])
    assert not torch.equal(model.stylize(x, refs[:1], style_labels=2), model.stylize(x, refs[1:2], style_labels=2))


def test_inference_uses_the_moving_average(trained, test_images):
    model, _, _ = trained
    x = to_model_range(test_images[0][:3])
    z = torch.randn(3, model.latent_dim, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ema_out = model.ema["generator"].network(x, model.ema["mapping_network"].network(z, torch.full((3,), 5))).clamp(-1, 1)
        raw_out = model.generator(x, model.mapping_network(z, torch.full((3,), 5))).clamp(-1, 1)
    out = model.translate(x, 5, z=z)
    assert torch.allclose(out, ema_out) and not torch.allclose(out, raw_out)
    model.use_ema = False
    try:
        assert torch.allclose(model.translate(x, 5, z=z), raw_out)
    finally:
        model.use_ema = True


def test_checkpoint_round_trip_gives_identical_outputs(trained, tmp_path):
    model, run, _ = trained
    x = torch.rand(4, 1, 28, 28) * 2 - 1
    z = torch.randn(4, model.latent_dim)
    before = (model.translate(x, 1, z=z), model.stylize(x, x[:1], style_labels=3), model.sample(5, generator=torch.Generator().manual_seed(1)))
    _, checkpoint = load_model(run / "checkpoints" / "last.ckpt")
    checkpoint["state_dict"] = model.state_dict()
    path = tmp_path / "copy.ckpt"
    torch.save(checkpoint, path)
    reloaded, _ = load_model(path)
    after = (reloaded.translate(x, 1, z=z), reloaded.stylize(x, x[:1], style_labels=3), reloaded.sample(5, generator=torch.Generator().manual_seed(1)))
    assert all(torch.equal(a, b) for a, b in zip(before, after, strict=True))
    assert int(reloaded.iteration) == int(model.iteration)  # the diversity-weight schedule resumes where it was
    assert torch.equal(reloaded.sample_source, model.sample_source)


def test_checkpoints_written_before_the_recipe_held_the_averages_load_unchanged(trained, tmp_path):
    """The layout before the moving averages were the recipe's: `generator_ema.*` (now
    `ema.generator.*`), no `ema_updates`, and `model.ema_decay` in the stored config (no `model.recipe`)."""
    model, run, _ = trained
    assert int(model.ema_updates) == int(model.iteration) == 2  # one update of the averages per iteration
    _, checkpoint = load_model(run / "checkpoints" / "last.ckpt")
    old_state = {}
    for key, value in checkpoint["state_dict"].items():
        for name in ("generator", "mapping_network", "style_encoder"):
            key = key.replace(f"ema.{name}.", f"{name}_ema.") if key.startswith(f"ema.{name}.") else key
        if key != "ema_updates":
            old_state[key] = value
    assert any(key.startswith("mapping_network_ema.averaged.module.") for key in old_state)
    stored = checkpoint["genstyle"]["config"]["model"]
    stored["ema_decay"] = stored.pop("recipe")["ema"]["decay"]
    checkpoint["state_dict"] = old_state
    torch.save(checkpoint, tmp_path / "old.ckpt")
    check_resumable(str(tmp_path / "old.ckpt"), model)  # a run can resume from it (Lightning loads it through load_state_dict)
    old, _ = load_model(tmp_path / "old.ckpt")
    assert old.recipe == model.recipe and old.has_ema and int(old.ema_updates) == 2
    now = model.state_dict()
    assert set(old.state_dict()) == set(now) and all(torch.equal(value, now[key]) for key, value in old.state_dict().items())
    x, z = torch.rand(3, 1, 28, 28) * 2 - 1, torch.randn(3, model.latent_dim)
    assert torch.equal(old.translate(x, 4, z=z), model.translate(x, 4, z=z))


def test_one_iteration_steps_like_the_reference_solver(tmp_path, one_thread, fmnist_root):
    """Per batch, in order: D (latent-guided), D (reference-guided), G, F and E (latent-guided), G
    (reference-guided), then one update of the moving averages."""
    import pytorch_lightning as pl

    cfg = compose_train([f"data.root={fmnist_root}", *TINY, *NO_EVAL], tmp_path)
    model = hydra.utils.instantiate(cfg.model)
    steps: list[str] = []
    build_optimizers = model.configure_optimizers

    def counted() -> list[torch.optim.Optimizer]:
        optimizers = build_optimizers()
        for name, optimizer in zip(("G", "F", "E", "D"), optimizers, strict=True):
            optimizer.step = lambda *a, _step=optimizer.step, _name=name, **k: steps.append(_name) or _step(*a, **k)
        return optimizers

    model.configure_optimizers = counted
    trainer = pl.Trainer(max_epochs=1, limit_train_batches=1, limit_val_batches=0, accelerator="cpu", logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(model, datamodule=hydra.utils.instantiate(cfg.data))
    assert steps == ["D", "D", "G", "F", "E", "G"]
    assert int(model.ema_updates) == int(model.iteration) == 1
    assert all(p.grad is None for p in (*model.mapping_network.parameters(), *model.style_encoder.parameters()))


def test_the_recipe_node_holds_the_moving_averages_and_spectral_norm(tmp_path):
    default = hydra.utils.instantiate(compose_train([*TINY, *NO_EVAL], tmp_path).model)
    assert default.has_ema and default.ema_decay == 0.999 and not default.spectral_norm
    assert default.inference_networks() == tuple(default.ema[n].network for n in ("generator", "mapping_network", "style_encoder"))
    cfg = compose_train([*TINY, *NO_EVAL, "model.recipe.ema.decay=null", "model.recipe.spectral_norm=true"], tmp_path)
    plain = hydra.utils.instantiate(cfg.model)
    assert not plain.has_ema and not any(key.startswith("ema") for key in plain.state_dict())
    assert plain.inference_networks() == (plain.generator, plain.mapping_network, plain.style_encoder)
    assert any(is_spectral_normalised(m) for m in plain.discriminator.modules())
    for override, key in (("model.recipe.augment=[cutout]", "model.recipe.augment=null"), ("model.recipe.r1={gamma: 1.0, every: 1}", "model.recipe.r1=null")):
        with pytest.raises(Exception) as info:  # noqa: PT011 - Hydra wraps the user error; checked below
            hydra.utils.instantiate(compose_train([*TINY, *NO_EVAL, override], tmp_path).model)
        assert key in str(user_error_in(info.value)) and "model.r1_gamma" in str(user_error_in(info.value))


def test_bad_model_inputs_are_clear_errors(trained):
    model, _, _ = trained
    x = torch.zeros(2, 1, 28, 28)
    with pytest.raises(GenstyleError, match="'boots' is not a domain.*ankle_boot"):
        model.translate(x, "boots")
    with pytest.raises(GenstyleError, match="target=10 is not a domain index"):
        model.translate(x, 10)
    with pytest.raises(GenstyleError, match="style must be a .B, 1, 28, 28. tensor"):
        model.stylize(x, torch.zeros(1, 3, 28, 28), style_labels=0)
    with pytest.raises(GenstyleError, match="style must be a .B, 1, 28, 28. tensor"):
        model.stylize(x, torch.zeros(1, 1, 32, 32), style_labels=0)


def test_multidomain_evaluation_protocol(trained, test_images, classifier_weights):
    model, _, _ = trained
    images, labels = test_images
    settings = MultiDomainSettings(per_source=2, diversity_inputs=1, num_outputs=3, real_per_domain=None)
    logs, protocol = evaluate_multidomain(model, images, labels, ClassifierBackend(classifier_weights), settings)
    for mode in ("latent", "reference"):
        per_domain = [logs[f"val/fid_{mode}_{name}"] for name in FASHION_MNIST_CLASSES]
        assert logs[f"val/fid_{mode}"] == pytest.approx(sum(per_domain) / 10) and min(per_domain) >= 0
        assert 0 <= logs[f"val/target_share_{mode}"] <= 1 and logs[f"val/diversity_feature_{mode}"] >= 0
    assert logs["val/diversity_feature_real"] > 0
    assert protocol["translations_per_target"]["coat"] == 18  # 2 images from each of the 9 other domains
    again, _ = evaluate_multidomain(model, images, labels, ClassifierBackend(classifier_weights), settings)
    assert again == logs  # seeded: the same numbers every time


def test_style_benchmark_gives_the_style_images_true_labels(trained, test_images):
    from genstyle.cli.style_benchmark import model_entry

    model, run, _ = trained
    entry = model_entry(str(run / "checkpoints" / "last.ckpt"))
    images, labels = test_images
    content, style = to_model_range(images[:4]), to_model_range(images[4:8])
    out = entry.stylizer(content, style, labels[:4], labels[4:8])
    assert torch.equal(out, model.stylize(content, style, style_labels=labels[4:8]))
    assert entry.note == "true style labels given"


# --- benchmarks/domains.py and benchmarks/reference_grid.py ------------------------------------


def test_domains_benchmark_writes_the_protocol_and_the_class_pair(trained, tmp_path):
    _, run, _ = trained
    out = tmp_path / "domains.json"
    assert run_benchmark("domains", str(run / "checkpoints" / "last.ckpt"), "--per-source", "2", "--diversity-inputs", "1", "--out", str(out)) == 0
    record = json.loads(out.read_text())
    metrics = record["metrics"]
    assert record["protocol"]["translations_per_target"]["coat"] == 18  # 2 images from each of the 9 other domains
    assert record["protocol"]["extractor"] == "fmnist-independent"  # --network's default
    assert metrics["val/fid_reference"] == pytest.approx(sum(metrics[f"val/fid_reference_{c}"] for c in FASHION_MNIST_CLASSES) / 10)
    for key in ("sneaker2ankle_boot_latent", "sneaker2ankle_boot_reference", "ankle_boot2sneaker_latent", "ankle_boot2sneaker_reference"):
        assert metrics[f"fid_{key}"] > 0 and 0 <= metrics[f"target_share_{key}"] <= 1


def test_domains_benchmark_and_grid_bad_input_exit_2(trained, tmp_path, capsys):
    _, run, _ = trained
    out = tmp_path / "domains.json"
    assert run_benchmark("domains", str(run / "checkpoints" / "last.ckpt"), "--pair", "sneaker", "boots", "--out", str(out)) == 2
    assert "boots not among the model's domains" in capsys.readouterr().err and not out.exists()
    cvae = write_checkpoint(FakeConditionalStylizer, tmp_path / "cvae.ckpt")
    assert run_benchmark("reference_grid", str(cvae), "--out", str(tmp_path / "grid.png")) == 2
    assert "has no domains" in capsys.readouterr().err and not (tmp_path / "grid.png").exists()


def test_reference_grid_has_a_cell_per_source_and_reference(trained, tmp_path):
    _, run, _ = trained
    assert run_benchmark("reference_grid", str(run / "checkpoints" / "last.ckpt"), "--scale", "2", "--out", str(tmp_path / "grid.png")) == 0
    with Image.open(tmp_path / "grid.png") as grid:
        assert grid.size == (9 * (56 + 2) + 2,) * 2  # 8 sources and a corner, 8 references and the top row


# --- stylize.py -----------------------------------------------------------------------------


def make(*overrides: str):
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose("stylize", overrides=list(overrides))


@pytest.fixture(scope="module")
def pngs(tmp_path_factory, test_images) -> Path:
    root = tmp_path_factory.mktemp("pngs")
    for i in range(2):
        save_png(test_images[0][i], root / f"{i}.png")
    save_png(torch.randint(0, 255, (3, 28, 28), dtype=torch.uint8), root / "colour.png")
    return root


def test_stylize_cli_latent_row_and_reference(trained, pngs, tmp_path):
    _, run, _ = trained
    ckpt = run / "checkpoints" / "last.ckpt"
    base = [f"ckpt_path={ckpt}", f"content={pngs / '0.png'}"]
    stylize(make(*base, "target=coat", "n_styles=4", f"out={tmp_path / 'row.png'}"))
    with Image.open(tmp_path / "row.png") as row:
        assert row.size == (4 * 30 + 2, 30 + 2)  # one row of 4 results
    stylize(make(*base, "target=4", "n_styles=4", f"out={tmp_path / 'row_index.png'}"))
    assert (tmp_path / "row.png").read_bytes() == (tmp_path / "row_index.png").read_bytes()  # name or index, same seed
    stylize(make(*base, f"style={pngs / '1.png'}", "style_labels=trouser", f"out={tmp_path / 'ref.png'}"))
    with Image.open(tmp_path / "ref.png") as ref:
        assert ref.size == (28, 28)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["target=boots"], "'boots' is not a domain of this model"),
        (["target=coat", "n_styles=0"], "n_styles=0 must be a positive integer"),
        (["target=coat", "n_styles=-2"], "n_styles=-2 must be a positive integer"),
        (["n_styles=3"], "give target=<domain name or index> too"),
        (["target=coat", "style={pngs}/1.png"], "exclude each other"),
        (["style={pngs}/colour.png", "style_labels=coat"], "colour .RGB. image but the model works on grayscale"),
        (["style={pngs}/1.png", "content_labels=coat"], "takes no content_labels"),
        (["target=coat", "method=refine"], "method=refine optimises towards a style image"),
    ],
)
def test_stylize_cli_bad_input(trained, pngs, tmp_path, overrides, message):
    _, run, _ = trained
    args = {"ckpt_path": run / "checkpoints" / "last.ckpt", "content": pngs / "0.png", "out": tmp_path / "r.png"}
    for item in overrides:
        key, value = item.split("=", 1)
        args[key] = value.format(pngs=pngs)
    with pytest.raises(GenstyleError, match=message):
        stylize(make(*(f"{k}={v}" for k, v in args.items())))
    assert not (tmp_path / "r.png").exists()


def test_stylize_cli_target_for_a_model_without_domains_exits_2(pngs, tmp_path):
    ckpt = write_checkpoint(FakeConditionalStylizer, tmp_path / "cvae.ckpt")
    result = run_cli("stylize.py", f"ckpt_path={ckpt}", f"content={pngs / '0.png'}", "target=coat", f"out={tmp_path / 'r.png'}")
    assert result.returncode == 2
    assert "has no domains" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "r.png").exists()
