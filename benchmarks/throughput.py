"""Training throughput, side by side in one process, on a CPU or a GPU:

(a) optional (`--data-loading`): batches/s of genstyle's DataModule against the usual recipe
    (torchvision `FashionMNIST` + `ToTensor` + `Normalize` + `DataLoader`);
(b) training images/s of each model family through the pipeline (the real LightningModule and
    DataModule built from the real configs composed by Hydra, trained by `Trainer.fit` with the
    callbacks that run on every step) against a plain PyTorch loop over the same networks, the
    same optimisers and the same data tensor, for each variant: `eager` (float32), and `fast`
    (bf16 autocast + torch.compile, where the config offers `compile`), at each batch size until
    one does not fit; plus the default pipeline (eager float32, host data, batch 128) as the
    baseline the fast variant is compared with;
(c) the evaluation of 10,000 samples (sampling, classifier features, FID/KID/IS/precision/recall
    against cached test-split statistics), and the peak memory of every measurement.

The model list is data-driven: any `conf/model/<name>.yaml` can be measured; a family without a
plain loop here (`PLAIN_LOOPS`) is measured through the pipeline only, and a name without a
config is reported as absent. Measurements of a pair alternate (A B A B ...) and medians are
compared, so a background load affects both alike.

    python benchmarks/throughput.py --device cpu --models vae,dcgan --out docs/throughput.json
    python benchmarks/throughput.py --device cuda --models vae,dcgan,cyclegan,stargan_v2 \\
        --batch-sizes 128,1024,4096 --out docs/throughput.json --markdown docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import gzip
import json
import platform
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import hydra
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, open_dict

from genstyle import lightning_fixes
from genstyle.cli.common import CONFIG_DIR
from genstyle.data.sources import (
    DEBIAN_FASHION_MNIST,
    FASHION_MNIST_FILES,
    fashion_mnist_search_path,
)

# Data each family trains on in the benchmark (default: Fashion-MNIST with its classes).
DATA_OVERRIDES = {
    "cyclegan": ["data=fashion_unpaired", "data.domain_a=sneaker", "data.domain_b=ankle_boot"],
}
BASELINE_BATCH = 128


def find_fashion_mnist() -> Path:
    for _, place in fashion_mnist_search_path(None):
        if all((place / f.name).is_file() for f in FASHION_MNIST_FILES["train"]):
            return place
    raise SystemExit(f"Fashion-MNIST not found (looked in $GENSTYLE_DATA and {DEBIAN_FASHION_MNIST}); run `make install`.")


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # process high-water mark (Linux: KiB)


def is_oom(err: BaseException) -> bool:
    return isinstance(err, torch.OutOfMemoryError) or "out of memory" in str(err).lower()


# --- (a) data loading -------------------------------------------------------------------------


def torchvision_loader(source: Path, workdir: Path, batch_size: int):
    """The usual recipe. torchvision wants the decompressed files under FashionMNIST/raw."""
    from torchvision import datasets, transforms

    raw = workdir / "FashionMNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for spec in FASHION_MNIST_FILES["train"] + FASHION_MNIST_FILES["test"]:
        with gzip.open(source / spec.name) as src, open(raw / spec.name[:-3], "wb") as dst:
            shutil.copyfileobj(src, dst)
    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])
    dataset = datasets.FashionMNIST(str(workdir), train=True, download=False, transform=transform)
    return torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=0, drop_last=True)


def genstyle_loader(source: Path, batch_size: int):
    from genstyle.data import ImageDataModule

    dm = ImageDataModule(root=str(source), batch_size=batch_size, val_size=0, download=False)
    dm.setup("fit")
    return dm.train_dataloader()


def batches_per_second(loader, max_batches: int) -> float:
    start, n = time.perf_counter(), 0
    for batch in loader:
        image = batch["image"] if isinstance(batch, dict) else batch[0]
        assert image.dtype == torch.float32 and image.min() >= -1 and image.max() <= 1
        n += 1
        if n >= max_batches:
            break
    return n / (time.perf_counter() - start)


def bench_data(source: Path, batch_size: int, repeats: int, max_batches: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        usual = torchvision_loader(source, Path(tmp), batch_size)
        ours = genstyle_loader(source, batch_size)
        usual_rates, our_rates = [], []
        for _ in range(repeats):
            usual_rates.append(batches_per_second(usual, max_batches))
            our_rates.append(batches_per_second(ours, max_batches))
    usual_bps, our_bps = statistics.median(usual_rates), statistics.median(our_rates)
    return {"batch_size": batch_size, "batches": max_batches, "torchvision_batches_per_s": usual_bps,
            "genstyle_batches_per_s": our_bps, "speedup": our_bps / usual_bps}


# --- configs ----------------------------------------------------------------------------------


def model_config_exists(name: str) -> bool:
    return (Path(CONFIG_DIR) / "model" / f"{name}.yaml").is_file()


def compose_model(name: str, source: Path, batch_size: int, device: torch.device, variant: str, on_device: bool) -> DictConfig:
    overrides = [
        f"model={name}", f"data.root={source}", f"data.batch_size={batch_size}", "data.download=false",
        f"data.on_device={'true' if on_device else 'false'}", "data.val_size=0",
        f"trainer={'gpu' if device.type == 'cuda' else 'cpu'}",
        *DATA_OVERRIDES.get(name, []),
    ]
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose("train", overrides=overrides)
    with open_dict(cfg):
        cfg.paths = {"root_dir": ".", "data_dir": "data", "log_dir": "outputs", "output_dir": "outputs"}
        cfg.trainer.precision = "bf16-mixed" if variant == "fast" else "32-true"
        if "compile" in cfg.model:
            cfg.model.compile = variant == "fast"
    return cfg


def compiles(cfg: DictConfig) -> bool:
    return bool(cfg.model.get("compile", False))


# --- (b) the pipeline -------------------------------------------------------------------------


class ThroughputTimer(pl.Callback):
    """Times `steps` batches after `warmup` batches (across epochs if needed), then stops."""

    def __init__(self, warmup: int, steps: int, device: torch.device) -> None:
        self.warmup, self.steps, self.device = warmup, steps, device
        self.seen, self.start, self.seconds = 0, 0.0, None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if self.seen == self.warmup:
            synchronize(self.device)
            reset_peak(self.device)
            self.start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.seen += 1
        if self.seen == self.warmup + self.steps:
            synchronize(self.device)
            self.seconds = time.perf_counter() - self.start
            trainer.should_stop = True


def per_step_callbacks(cfg: DictConfig) -> list[pl.Callback]:
    """The configured callbacks that act on every training step (the others run per epoch)."""
    return [hydra.utils.instantiate(cfg.callbacks[name]) for name in ("non_finite_loss_guard", "stability") if cfg.callbacks.get(name)]


def pipeline_images_per_second(cfg: DictConfig, device: torch.device, warmup: int, steps: int) -> tuple[float, float]:
    pl.seed_everything(0)
    datamodule = hydra.utils.instantiate(cfg.data)
    module = hydra.utils.instantiate(cfg.model)
    timer = ThroughputTimer(warmup, steps, device)
    lightning_fixes.install()  # as train.py does: the step times users get
    trainer = pl.Trainer(
        accelerator="gpu" if device.type == "cuda" else "cpu", devices=1, precision=cfg.trainer.precision,
        max_epochs=10_000, limit_val_batches=0, logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, num_sanity_val_steps=0, callbacks=[*per_step_callbacks(cfg), timer],
    )
    trainer.fit(module, datamodule=datamodule)
    if timer.seconds is None:
        raise RuntimeError("the pipeline stopped before the timed steps ended")
    return steps * cfg.data.batch_size / timer.seconds, peak_mb(device)


# --- (b) the plain loops ----------------------------------------------------------------------


class DeviceData:
    """The training split's uint8 tensor(s) on the device; batches by a device permutation."""

    def __init__(self, cfg: DictConfig, device: torch.device) -> None:
        dm = hydra.utils.instantiate(cfg.data)
        dm.setup("fit")
        data = dm.train_set
        self.sets = [data.a.images.to(device), data.b.images.to(device)] if hasattr(data, "a") else [data.images.to(device)]
        self.labels = None if getattr(data, "labels", None) is None else data.labels.to(device)
        self.batch_size, self.device, self.position = cfg.data.batch_size, device, None

    def batches(self, n: int):
        size, count = self.batch_size, min(len(s) for s in self.sets)
        perms = [torch.randperm(count, device=self.device) for _ in self.sets]
        position = 0
        for _ in range(n):
            if position + size > count:
                perms, position = [torch.randperm(count, device=self.device) for _ in self.sets], 0
            index = [p[position : position + size] for p in perms]
            position += size
            images = [s[i].float().div_(127.5).sub_(1.0) for s, i in zip(self.sets, index, strict=True)]
            yield images, (None if self.labels is None else self.labels[index[0]])


def networks_of(module) -> dict:
    return {name: getattr(module, name) for name in module.compiled_networks}


def prepare_plain(cfg: DictConfig, module, device: torch.device) -> None:
    module.to(device).train()
    if compiles(cfg):
        from genstyle.models.compile import compile_networks

        compile_networks(module, module.compiled_networks, channels_last=device.type == "cuda")


def plain_vae(cfg: DictConfig, module, data: DeviceData) -> Callable[[], None]:
    optimizer = hydra.utils.instantiate(cfg.model.optimizer)(module.parameters())
    encoder, decoder, conditional = module.encoder, module.decoder, module.is_conditional

    def step(images, labels):
        x, labels = images[0], (labels if conditional else None)
        mean, logvar = encoder(x, labels)
        mean, logvar = mean.float(), logvar.float()
        z = mean + torch.randn_like(mean) * (0.5 * logvar).exp()
        logits = decoder(z, labels).float()
        recon = F.binary_cross_entropy_with_logits(logits, (x + 1) / 2, reduction="none").flatten(1).sum(1)
        kl = 0.5 * (mean.pow(2) + logvar.exp() - 1 - logvar).sum(1)
        loss = (recon + module.beta * kl).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def plain_gan(cfg: DictConfig, module, data: DeviceData) -> Callable[[], None]:
    generator, discriminator, adversarial = module.generator, module.discriminator, module.adversarial
    opt_g = hydra.utils.instantiate(cfg.model.g_optimizer)(generator.parameters())
    opt_d = hydra.utils.instantiate(cfg.model.d_optimizer)(discriminator.parameters())
    conditional = module.is_conditional

    def step(images, labels):
        real = images[0]
        labels = labels if conditional else None
        z = torch.randn(len(real), module.latent_dim, device=real.device)
        generator.requires_grad_(False)
        fake = generator(z, labels).detach()
        d_loss = adversarial.d_loss(discriminator(real, labels), discriminator(fake, labels))
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        generator.requires_grad_(True)
        discriminator.requires_grad_(False)
        g_loss = adversarial.g_loss(discriminator(generator(z, labels), labels))
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        discriminator.requires_grad_(True)

    return step


def plain_cyclegan(cfg: DictConfig, module, data: DeviceData) -> Callable[[], None]:
    gens, discs = [module.gen_a2b, module.gen_b2a], [module.disc_a, module.disc_b]
    opt_g = hydra.utils.instantiate(cfg.model.g_optimizer)([p for g in gens for p in g.parameters()])
    opt_d = hydra.utils.instantiate(cfg.model.d_optimizer)([p for d in discs for p in d.parameters()])
    adversarial, lc, li = module.adversarial, module.lambda_cycle, module.lambda_identity
    g_ab, g_ba, d_a, d_b = module.gen_a2b, module.gen_b2a, module.disc_a, module.disc_b

    def step(images, labels):
        real_a, real_b = images
        for d in discs:
            d.requires_grad_(False)
        fake_b, fake_a = g_ab(real_a), g_ba(real_b)
        g_loss = adversarial.g_loss(d_b(fake_b)) + adversarial.g_loss(d_a(fake_a))
        g_loss = g_loss + lc * (F.l1_loss(g_ba(fake_b), real_a) + F.l1_loss(g_ab(fake_a), real_b))
        if li > 0:
            g_loss = g_loss + lc * li * (F.l1_loss(g_ba(real_a), real_a) + F.l1_loss(g_ab(real_b), real_b))
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        for d in discs:
            d.requires_grad_(True)
        pooled_a, pooled_b = module.pool_a.query(fake_a.detach()), module.pool_b.query(fake_b.detach())
        d_loss = adversarial.d_loss(d_a(real_a), d_a(pooled_a)) + adversarial.d_loss(d_b(real_b), d_b(pooled_b))
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()

    return step


def plain_loop_for(module) -> Callable | None:
    """The plain loop of the module's family (by class, so cvae/cgan/wgan_gp are covered), or
    None: that family is measured through the pipeline only."""
    from genstyle.models.cyclegan import CycleGAN
    from genstyle.models.gan import GAN
    from genstyle.models.vae import VAE

    for cls, loop in ((VAE, plain_vae), (CycleGAN, plain_cyclegan), (GAN, plain_gan)):
        if isinstance(module, cls):
            return loop
    return None


def plain_images_per_second(cfg: DictConfig, device: torch.device, warmup: int, steps: int) -> tuple[float, float] | None:
    torch.manual_seed(0)
    module = hydra.utils.instantiate(cfg.model)
    loop = plain_loop_for(module)
    if loop is None:
        return None
    prepare_plain(cfg, module, device)
    data = DeviceData(cfg, device)
    step = loop(cfg, module, data)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=cfg.trainer.precision == "bf16-mixed")
    batches = data.batches(warmup + steps)
    with autocast:
        for _ in range(warmup):
            step(*next(batches))
        synchronize(device)
        reset_peak(device)
        start = time.perf_counter()
        for _ in range(steps):
            step(*next(batches))
        synchronize(device)
    return steps * cfg.data.batch_size / (time.perf_counter() - start), peak_mb(device)


# --- (b) driver -------------------------------------------------------------------------------


def measure_pair(cfg: DictConfig, device: torch.device, warmup: int, steps: int, repeats: int, plain: bool = True) -> dict:
    pipeline, plain_rates, memory = [], [], {}
    for _ in range(repeats):
        rate, mem = pipeline_images_per_second(cfg, device, warmup, steps)
        pipeline.append(rate)
        memory["pipeline_peak_mb"] = max(memory.get("pipeline_peak_mb", 0.0), mem)
        if plain:
            out = plain_images_per_second(cfg, device, warmup, steps)
            if out is not None:
                plain_rates.append(out[0])
                memory["plain_peak_mb"] = max(memory.get("plain_peak_mb", 0.0), out[1])
    row = {"pipeline_img_s": statistics.median(pipeline), "pipeline_runs": pipeline, **memory}
    if plain_rates:
        row |= {"plain_img_s": statistics.median(plain_rates), "plain_runs": plain_rates,
                "pipeline_vs_plain": statistics.median(pipeline) / statistics.median(plain_rates)}
    return row


def bench_model(name: str, source: Path, device: torch.device, args) -> dict:
    if not model_config_exists(name):
        return {"absent": f"conf/model/{name}.yaml does not exist on this checkout"}
    on_device = device.type == "cuda"
    result: dict = {"rows": []}
    # The baseline: what a user gets with the defaults, eager float32, data copied from the host.
    cfg = compose_model(name, source, BASELINE_BATCH, device, "eager", on_device=False)
    print(f"[{name}] baseline: eager float32, host data, batch {BASELINE_BATCH}", flush=True)
    try:
        result["baseline"] = measure_pair(cfg, device, args.warmup, args.steps, args.repeats, plain=False)
    except Exception as err:  # noqa: BLE001 - recorded, the other models still run
        result["baseline"] = {"error": f"{type(err).__name__}: {err}"[:500]}
    for variant in args.variants:
        if variant == "fast" and args.fast_models is not None and name not in args.fast_models:
            continue
        for batch_size in args.fast_batch_sizes if variant == "fast" else args.batch_sizes:
            cfg = compose_model(name, source, batch_size, device, variant, on_device=on_device)
            label = f"{variant} ({'bf16' if variant == 'fast' else 'fp32'}{', compiled' if compiles(cfg) else ''})"
            print(f"[{name}] {label}, batch {batch_size}", flush=True)
            row = {"variant": variant, "precision": cfg.trainer.precision, "compiled": compiles(cfg),
                   "batch_size": batch_size, "data_on_device": on_device}
            try:
                row |= measure_pair(cfg, device, args.warmup, args.steps, args.repeats)
            except Exception as err:  # noqa: BLE001
                row["error"] = "out of memory" if is_oom(err) else f"{type(err).__name__}: {err}"[:500]
                result["rows"].append(row)
                if device.type == "cuda":
                    torch.cuda.empty_cache()
                if is_oom(err):
                    break  # larger batches will not fit either
                continue
            result["rows"].append(row)
            print(f"[{name}]   pipeline {row['pipeline_img_s']:,.0f} img/s"
                  + (f" | plain {row['plain_img_s']:,.0f} img/s | ratio {row['pipeline_vs_plain']:.3f}" if "plain_img_s" in row else ""),
                  flush=True)
    summarise(result)
    return result


def summarise(result: dict) -> None:
    rows = [r for r in result["rows"] if "pipeline_img_s" in r]
    if not rows:
        return
    best_pipeline = max(rows, key=lambda r: r["pipeline_img_s"])
    result["best_pipeline"] = {k: best_pipeline[k] for k in ("variant", "batch_size", "pipeline_img_s")}
    plain = [r for r in rows if "plain_img_s" in r]
    if plain:
        best_plain = max(plain, key=lambda r: r["plain_img_s"])
        result["best_plain"] = {k: best_plain[k] for k in ("variant", "batch_size", "plain_img_s")}
        result["best_pipeline_vs_best_plain"] = best_pipeline["pipeline_img_s"] / best_plain["plain_img_s"]
    base = result.get("baseline", {}).get("pipeline_img_s")
    if base:
        result["best_pipeline_vs_baseline"] = best_pipeline["pipeline_img_s"] / base


# --- (c) evaluation -----------------------------------------------------------------------------


def bench_evaluation(source: Path, device: torch.device, n: int, repeats: int, cache_dir: Path) -> dict:
    """Seconds to evaluate `n` samples of an untrained DCGAN (the cost does not depend on the
    weights) against cached Fashion-MNIST test statistics; the cache is built first (not timed)."""
    from genstyle.data.sources import load_fashion_mnist
    from genstyle.metrics.backends import ClassifierBackend
    from genstyle.metrics.fidelity import FidelitySettings
    from genstyle.metrics.reference import load_or_compute_reference
    from genstyle.metrics.suite import evaluate_features

    cfg = compose_model("dcgan", source, BASELINE_BATCH, device, "eager", on_device=False)
    torch.manual_seed(0)
    model = hydra.utils.instantiate(cfg.model).to(device).eval()
    backend = ClassifierBackend(device=str(device), batch_size=2000 if device.type == "cuda" else 500)
    reference = load_or_compute_reference(
        backend, lambda: load_fashion_mnist("test", str(source), None, False).images,
        dataset="fashion_mnist", split="test", image_size=28, channels=1, cache_dir=cache_dir,
    )
    settings = FidelitySettings(kid_subset_size=min(1000, n))

    def once() -> tuple[float, dict]:
        synchronize(device)
        start = time.perf_counter()
        generator = torch.Generator(device).manual_seed(0)
        images = torch.cat([model.sample(min(5000, n - i), generator=generator) for i in range(0, n, 5000)])
        result = evaluate_features(backend(images), reference, settings, min_samples=2)
        synchronize(device)
        return time.perf_counter() - start, result.metrics

    once()  # warm-up: kernels, allocator
    reset_peak(device)
    times, metrics = [], {}
    for _ in range(repeats):
        seconds, metrics = once()
        times.append(seconds)
    return {"samples": n, "seconds": statistics.median(times), "runs": times, "peak_mb": peak_mb(device),
            "metrics": {k: float(v) for k, v in metrics.items()}}


# --- report -------------------------------------------------------------------------------------


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{platform.processor() or platform.machine()} CPU, {torch.get_num_threads()} torch threads"


def markdown(result: dict) -> str:
    dev = result["device"]
    lines = [
        f"<!-- throughput:{result['device_type']} start -->",
        f"### Training images/s on {dev} ({result['device_type']})",
        "",
        f"    {result['command']}",
        "",
        f"torch {result['torch']}, pytorch-lightning {result['lightning']}; {result['steps']} timed steps after "
        f"{result['warmup']} warm-up steps, median of {result['repeats']}. Pipeline: the real module and DataModule through "
        "`Trainer.fit` with the per-step callbacks (divergence guard, stability monitor); plain: a hand-written loop "
        "over the same networks, optimisers and data tensor. Baseline: eager float32, data copied from the host, batch 128.",
        "",
        "| model | variant | batch | pipeline img/s | plain img/s | pipeline / plain | peak MiB (pipeline) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, res in result["models"].items():
        if "absent" in res:
            lines.append(f"| {name} | absent: {res['absent']} | | | | | |")
            continue
        base = res.get("baseline", {})
        if "pipeline_img_s" in base:
            lines.append(f"| {name} | baseline (fp32, host data) | {BASELINE_BATCH} | {base['pipeline_img_s']:,.0f} | | | {base.get('pipeline_peak_mb', 0):,.0f} |")
        for row in res["rows"]:
            variant = f"{row['variant']} ({row['precision']}{', compiled' if row['compiled'] else ''})"
            if "error" in row:
                lines.append(f"| {name} | {variant} | {row['batch_size']} | {row['error']} | | | |")
                continue
            plain = f"{row['plain_img_s']:,.0f}" if "plain_img_s" in row else "no plain loop"
            ratio = f"{row['pipeline_vs_plain']:.3f}" if "pipeline_vs_plain" in row else ""
            lines.append(f"| {name} | {variant} | {row['batch_size']} | {row['pipeline_img_s']:,.0f} | {plain} | {ratio} | {row.get('pipeline_peak_mb', 0):,.0f} |")
    lines.append("")
    for name, res in result["models"].items():
        parts = []
        if "best_pipeline_vs_best_plain" in res:
            parts.append(f"best pipeline / best plain loop = {res['best_pipeline_vs_best_plain']:.3f}")
        if "best_pipeline_vs_baseline" in res:
            parts.append(f"best pipeline / baseline = {res['best_pipeline_vs_baseline']:.2f}x")
        if parts:
            lines.append(f"- {name}: " + "; ".join(parts))
    ev = result.get("evaluation")
    if ev and "seconds" in ev:
        lines.append(f"- evaluation of {ev['samples']:,} samples (sampling, classifier features, FID, KID, IS, precision/recall "
                     f"against cached test-split statistics): {ev['seconds']:.2f} s (median of {len(ev['runs'])}), peak {ev['peak_mb']:,.0f} MiB")
    elif ev:
        lines.append(f"- evaluation: {ev.get('error')}")
    lines.append(f"<!-- throughput:{result['device_type']} end -->")
    return "\n".join(lines) + "\n"


def write_markdown(path: Path, section: str, device_type: str) -> None:
    """Replace this device type's section in `path` (or append it); a new file holds the section alone."""
    start, end = f"<!-- throughput:{device_type} start -->", f"<!-- throughput:{device_type} end -->"
    text = path.read_text() if path.is_file() else ""
    if start in text and end in text:
        text = text[: text.index(start)] + section.rstrip("\n") + text[text.index(end) + len(end) :]
    else:
        text = (text.rstrip("\n") + "\n\n" if text else "") + section
    path.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--models", default="vae,dcgan", help="comma-separated conf/model names")
    parser.add_argument("--batch-sizes", default=None, help="comma-separated; default 128 (cpu) or 128,1024,4096 (cuda)")
    parser.add_argument("--variants", default=None, help="eager,fast (default); fast = bf16 + torch.compile")
    parser.add_argument("--fast-batch-sizes", default=None, help="batch sizes of the fast variant (default: --batch-sizes)")
    parser.add_argument("--fast-models", default=None, help="models that get the fast variant (default: all)")
    parser.add_argument("--steps", type=int, default=40, help="timed training steps per measurement")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first (compilation happens here)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--eval-samples", type=int, default=10_000, help="0 skips the evaluation timing")
    parser.add_argument("--eval-repeats", type=int, default=3)
    parser.add_argument("--data-loading", action="store_true", help="also run the data-loading comparison (a)")
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    parser.add_argument("--markdown", type=Path, default=None, help="write/replace this device's table in this Markdown file")
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device is visible to torch.")
    torch.set_num_threads(args.threads)
    args.batch_sizes = [int(b) for b in (args.batch_sizes or ("128,1024,4096" if device.type == "cuda" else "128")).split(",")]
    args.fast_batch_sizes = [int(b) for b in args.fast_batch_sizes.split(",")] if args.fast_batch_sizes else args.batch_sizes
    args.fast_models = args.fast_models.split(",") if args.fast_models else None
    args.variants = (args.variants or ("eager,fast" if device.type == "cuda" else "eager")).split(",")
    bad = set(args.variants) - {"eager", "fast"}
    if bad:
        raise SystemExit(f"--variants: unknown {sorted(bad)}; use eager and/or fast.")
    source = find_fashion_mnist()
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False  # fp32 means fp32 in the eager rows
    result: dict = {
        "device": device_name(device), "device_type": device.type, "torch": torch.__version__, "lightning": pl.__version__,
        "python": platform.python_version(), "command": "python " + " ".join(sys.argv),
        "steps": args.steps, "warmup": args.warmup, "repeats": args.repeats, "models": {},
    }

    def save() -> None:  # after every part, so a run cut short keeps what it measured
        if args.out:
            args.out.write_text(json.dumps(result, indent=2) + "\n")
        if args.markdown:
            write_markdown(args.markdown, markdown(result), device.type)

    if args.data_loading:
        result["data"] = bench_data(source, BASELINE_BATCH, args.repeats, 200)
    if args.eval_samples:
        print(f"[evaluation] {args.eval_samples:,} samples", flush=True)
        with tempfile.TemporaryDirectory() as cache:
            try:
                result["evaluation"] = bench_evaluation(source, device, args.eval_samples, args.eval_repeats, Path(cache))
            except Exception as err:  # noqa: BLE001 - recorded; the training measurements still run
                result["evaluation"] = {"error": f"{type(err).__name__}: {err}"[:500]}
        print(f"[evaluation] {result['evaluation']}", flush=True)
        save()
    for name in [m for m in args.models.split(",") if m]:
        result["models"][name] = bench_model(name, source, device, args)
        save()
    print(markdown(result))
    save()


if __name__ == "__main__":
    main()
