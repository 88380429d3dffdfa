"""CPU seconds per training step of every family's plain config (`python train.py model=<family>`),
on real Fashion-MNIST batches at the config's own batch size, through the real Lightning module.

Process CPU time (not wall time) with one thread is measured, so a loaded shared machine inflates
the numbers far less than it inflates wall time; the first steps (allocations) are skipped.

    OMP_NUM_THREADS=1 python benchmarks/step_time.py [--steps 4] [--families vae,dcgan,...]
"""

from __future__ import annotations

import argparse
import statistics
import time

import hydra
import pytorch_lightning as pl
import torch
from hydra import compose, initialize_config_dir
from omegaconf import open_dict

from genstyle import lightning_fixes
from genstyle.cli.common import CONFIG_DIR

FAMILIES = ("vae", "dcgan", "wgan_gp", "cgan", "cvae", "cyclegan", "adain", "munit")
DATA = {"cyclegan": "fashion_unpaired"}


class StepClock(pl.Callback):
    def __init__(self) -> None:
        self.seconds: list[float] = []
        self._start = 0.0

    def on_train_batch_start(self, *args) -> None:
        self._start = time.process_time()

    def on_train_batch_end(self, *args) -> None:
        self.seconds.append(time.process_time() - self._start)


def step_seconds(family: str, steps: int, data_root: str | None) -> tuple[int, float]:
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose("train", overrides=[f"model={family}", f"data={DATA.get(family, 'fashion_mnist')}"])
    with open_dict(cfg):
        cfg.paths.output_dir = cfg.paths.data_dir = "/tmp/genstyle-step-time"
        if data_root:
            cfg.data.root = data_root
        cfg.data.download = False
        cfg.data.val_size = 0
        cfg.data.train_subset = cfg.data.batch_size * (steps + 2)
    datamodule = hydra.utils.instantiate(cfg.data)
    model = hydra.utils.instantiate(cfg.model)
    clock = StepClock()
    lightning_fixes.install()  # as train.py does: the step times users get
    trainer = pl.Trainer(accelerator="cpu", max_epochs=1, limit_train_batches=steps + 2, limit_val_batches=0, logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False, callbacks=[clock])
    trainer.fit(model, datamodule=datamodule)
    return int(cfg.data.batch_size), statistics.median(clock.seconds[2:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--families", default=",".join(FAMILIES))
    parser.add_argument("--data-root", default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"{'family':<12}{'batch':>6}{'CPU s/step':>12}")
    for family in args.families.split(","):
        batch, seconds = step_seconds(family, args.steps, args.data_root)
        print(f"{family:<12}{batch:>6}{seconds:>12.3f}", flush=True)


if __name__ == "__main__":
    main()
