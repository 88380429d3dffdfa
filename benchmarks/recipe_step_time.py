"""Seconds per DCGAN training step with each recipe option against the plain recipe, in one
process through the real Lightning module, on the same real batches. Measurements go round
robin (plain, ema, augment, ..., plain, ema, ...) and report medians, so a background load
affects every option alike.

    python benchmarks/recipe_step_time.py [--steps 20] [--repeats 3] [--threads 1] [--out docs/recipe_step_time.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
from pathlib import Path

import pytorch_lightning as pl
import torch
from hydra import compose, initialize_config_dir
from omegaconf import open_dict
from throughput import find_fashion_mnist, fixed_batches, lightning_seconds_per_step

from genstyle.cli.common import CONFIG_DIR

RECIPES = ("plain", "ema", "augment", "augment_color", "r1", "spectral_norm", "ema_augment", "all")


def compose_recipe(recipe: str, source: Path, batch_size: int, model: str):
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose("train", overrides=[f"model={model}", f"+recipe={recipe}", f"data.root={source}", f"data.batch_size={batch_size}"])
    with open_dict(cfg):
        cfg.paths = {"root_dir": ".", "data_dir": "data", "log_dir": "outputs", "output_dir": "outputs"}
    return cfg


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="dcgan")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=20, help="training steps per measurement")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--recipes", nargs="*", default=list(RECIPES))
    parser.add_argument("--out", type=Path, default=None, help="also write the results as JSON here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    source = find_fashion_mnist()
    batches = fixed_batches(source, args.batch_size, args.steps)
    configs = {r: compose_recipe(r, source, args.batch_size, args.model) for r in args.recipes}
    times: dict[str, list[float]] = {r: [] for r in args.recipes}
    lightning_seconds_per_step(configs[args.recipes[0]], batches[:3])  # warm-up
    for _ in range(args.repeats):
        for recipe, cfg in configs.items():
            times[recipe].append(lightning_seconds_per_step(cfg, batches))
    base = statistics.median(times["plain"]) if "plain" in times else None
    rows = {r: {"ms_per_step": 1e3 * statistics.median(t), "vs_plain": statistics.median(t) / base if base else None} for r, t in times.items()}
    for recipe, row in rows.items():
        print(f"{recipe:14} {row['ms_per_step']:8.1f} ms/step" + (f"  {row['vs_plain']:.2f}x plain" if row["vs_plain"] else ""))
    if args.out:
        machine = f"{platform.processor() or platform.machine()}, {args.threads} torch threads, torch {torch.__version__}, pytorch-lightning {pl.__version__}"
        result = {"machine": machine, "model": args.model, "batch_size": args.batch_size, "steps": args.steps, "repeats": args.repeats, "recipes": rows}
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
