"""Throughput, side by side in one process:

(a) batches/s of genstyle's DataModule against the usual recipe (torchvision `FashionMNIST` +
    `ToTensor` + `Normalize` + `DataLoader`), both over the real Fashion-MNIST training set;
(b) seconds per training step of each model through the Lightning pipeline (the real module,
    its logging, manual optimisation) against a plain PyTorch loop over the same networks,
    same batches and same optimisers.

Measurements alternate between the two contenders (A B A B ...) and report medians, so a
background load affects both alike.

    python benchmarks/throughput.py [--steps 60] [--repeats 5] [--threads 2] [--out docs/throughput.json]
"""

from __future__ import annotations

import argparse
import gzip
import json
import platform
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import hydra
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from hydra import compose, initialize_config_dir
from omegaconf import open_dict

from genstyle.cli.common import CONFIG_DIR
from genstyle.data.sources import (
    DEBIAN_FASHION_MNIST,
    FASHION_MNIST_FILES,
    fashion_mnist_search_path,
)

# --- (a) data loading -------------------------------------------------------------------------


def find_fashion_mnist() -> Path:
    for _, place in fashion_mnist_search_path(None):
        if all((place / f.name).is_file() for f in FASHION_MNIST_FILES["train"]):
            return place
    raise SystemExit(f"Fashion-MNIST not found (looked in $GENSTYLE_DATA and {DEBIAN_FASHION_MNIST}); run `make install`.")


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


# --- (b) training steps -----------------------------------------------------------------------


def compose_model(model: str, source: Path, batch_size: int):
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose("train", overrides=[f"model={model}", f"data.root={source}", f"data.batch_size={batch_size}"])
    with open_dict(cfg):
        cfg.paths = {"root_dir": ".", "data_dir": "data", "log_dir": "outputs", "output_dir": "outputs"}
    return cfg


def fixed_batches(source: Path, batch_size: int, steps: int) -> list[dict]:
    loader = genstyle_loader(source, batch_size)
    batches = []
    for batch in loader:
        batches.append(batch)
        if len(batches) >= steps:
            return batches
    raise SystemExit("not enough data for the requested steps")


class Replay:
    """Iterates the same pre-made batches (a plain list would be read as a list of loaders)."""

    def __init__(self, batches: list[dict]) -> None:
        self.batches = batches

    def __iter__(self):
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)


class StepTimer(pl.Callback):
    """Wall time of the training epoch (all its steps, logging included), nothing else."""

    def on_train_epoch_start(self, trainer, pl_module):
        self.start = time.perf_counter()

    def on_train_epoch_end(self, trainer, pl_module):
        self.seconds = time.perf_counter() - self.start


def lightning_seconds_per_step(cfg, batches: list[dict]) -> float:
    pl.seed_everything(0, workers=True)
    module = hydra.utils.instantiate(cfg.model)
    timer = StepTimer()
    trainer = pl.Trainer(
        accelerator="cpu", max_epochs=1, logger=False, callbacks=[timer], enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0, limit_val_batches=0,
    )
    trainer.fit(module, train_dataloaders=Replay(batches))
    return timer.seconds / len(batches)


def plain_vae_seconds_per_step(cfg, batches: list[dict]) -> float:
    torch.manual_seed(0)
    encoder, decoder = hydra.utils.instantiate(cfg.model.encoder), hydra.utils.instantiate(cfg.model.decoder)
    optimizer = hydra.utils.instantiate(cfg.model.optimizer)(list(encoder.parameters()) + list(decoder.parameters()))
    start = time.perf_counter()
    for batch in batches:
        x = batch["image"]
        mean, logvar = encoder(x)
        z = mean + torch.randn_like(mean) * (0.5 * logvar).exp()
        recon = F.binary_cross_entropy_with_logits(decoder(z), (x + 1) / 2, reduction="none").flatten(1).sum(1)
        kl = 0.5 * (mean.pow(2) + logvar.exp() - 1 - logvar).sum(1)
        loss = (recon + kl).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return (time.perf_counter() - start) / len(batches)


def plain_gan_seconds_per_step(cfg, batches: list[dict]) -> float:
    torch.manual_seed(0)
    generator, discriminator = hydra.utils.instantiate(cfg.model.generator), hydra.utils.instantiate(cfg.model.discriminator)
    opt_g = hydra.utils.instantiate(cfg.model.g_optimizer)(generator.parameters())
    opt_d = hydra.utils.instantiate(cfg.model.d_optimizer)(discriminator.parameters())
    bce = F.binary_cross_entropy_with_logits
    start = time.perf_counter()
    for batch in batches:
        real = batch["image"]
        z = torch.randn(len(real), cfg.model.latent_dim)
        fake = generator(z).detach()
        real_logits, fake_logits = discriminator(real), discriminator(fake)
        d_loss = bce(real_logits, torch.ones_like(real_logits)) + bce(fake_logits, torch.zeros_like(fake_logits))
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        logits = discriminator(generator(z))
        g_loss = bce(logits, torch.ones_like(logits))
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
    return (time.perf_counter() - start) / len(batches)


PLAIN_LOOPS = {"vae": plain_vae_seconds_per_step, "dcgan": plain_gan_seconds_per_step}


def bench_models(source: Path, batch_size: int, steps: int, repeats: int) -> dict:
    batches = fixed_batches(source, batch_size, steps)
    results = {}
    for name, plain in PLAIN_LOOPS.items():
        cfg = compose_model(name, source, batch_size)
        lightning_times, plain_times = [], []
        lightning_seconds_per_step(cfg, batches[:5])  # warm-up (allocator, kernels)
        for _ in range(repeats):
            lightning_times.append(lightning_seconds_per_step(cfg, batches))
            plain_times.append(plain(cfg, batches))
        lit, ref = statistics.median(lightning_times), statistics.median(plain_times)
        results[name] = {"lightning_s_per_step": lit, "plain_s_per_step": ref, "overhead": lit / ref - 1}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--data-batches", type=int, default=200, help="batches per data measurement")
    parser.add_argument("--steps", type=int, default=40, help="training steps per model measurement")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--out", type=Path, default=None, help="also write the results as JSON here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    source = find_fashion_mnist()
    result = {
        "machine": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}, pytorch-lightning {pl.__version__}",
        "data": bench_data(source, args.batch_size, args.repeats, args.data_batches),
        "models": bench_models(source, args.batch_size, args.steps, args.repeats),
    }
    data = result["data"]
    print(f"data   torchvision recipe {data['torchvision_batches_per_s']:9.1f} batches/s | genstyle {data['genstyle_batches_per_s']:9.1f} batches/s | {data['speedup']:.1f}x")
    for name, row in result["models"].items():
        print(f"{name:6} lightning {row['lightning_s_per_step'] * 1e3:8.2f} ms/step | plain {row['plain_s_per_step'] * 1e3:8.2f} ms/step | overhead {row['overhead'] * 100:+.1f}%")
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
