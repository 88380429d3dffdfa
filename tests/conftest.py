"""Shared fixtures: a train config composed once per test and forced cheap (tiny real subset of
Fashion-MNIST, one short epoch, no network), and a helper to run the real CLIs."""

from __future__ import annotations

import os

# numpy's BLAS threads spin against the other processes on a loaded CPU (FID's eigvals took
# seconds instead of milliseconds); torch's own thread count is set below.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

from genstyle import lightning_fixes
from genstyle.cli.common import CONFIG_DIR
from genstyle.data.sources import DEBIAN_FASHION_MNIST, FASHION_MNIST_FILES

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
torch.set_num_threads(min(2, torch.get_num_threads()))
# As train.py's build does, for the tests that run a Trainer themselves (an explicit install, not an import's side effect).
lightning_fixes.install()

# Cheap but real: a few hundred real images, one short epoch.
CHEAP = [
    "data.train_subset=256",
    "data.val_size=64",
    "data.batch_size=32",
    "data.download=false",
    "trainer.max_epochs=1",
    "trainer.limit_train_batches=3",
    "trainer.limit_val_batches=1",
    "trainer.limit_test_batches=1",
    "trainer.num_sanity_val_steps=0",
    "trainer.accelerator=cpu",
    "trainer.log_every_n_steps=1",
    "trainer.enable_progress_bar=false",
    "logger=csv",
    "~callbacks.rich_progress_bar",
    # Evaluation on by default, as for users, but on a few hundred images (docs/metrics.md).
    "callbacks.evaluation.num_samples=200",
    "callbacks.evaluation.latent_samples=64",
    "metrics.num_real=500",
    "metrics.min_samples=2",
    "metrics.kid_subsets=10",
    # The end-of-training judges train a network each; the tests that check them turn them on.
    "callbacks.evaluation.two_sample_judge=null",
    "callbacks.evaluation.cas=false",
]
# Reference statistics are keyed by the extractor's weights hash, so one cache serves every test.
FEATURE_CACHE = Path(tempfile.gettempdir()) / f"genstyle-test-feature-cache-{os.getuid()}"


def fashion_mnist_dir() -> Path:
    """The real data: $GENSTYLE_DATA or Debian's package (installed by `make test`)."""
    for place in (os.environ.get("GENSTYLE_DATA"), str(DEBIAN_FASHION_MNIST)):
        if place and all((Path(place) / f.name).is_file() for f in FASHION_MNIST_FILES["train"]):
            return Path(place)
    pytest.fail("Fashion-MNIST is not installed: run `make test` (it installs dataset-fashion-mnist) or set GENSTYLE_DATA.")


@pytest.fixture(scope="session")
def fmnist_root() -> Path:
    return fashion_mnist_dir()


def compose_train(overrides: list[str], output_dir: Path) -> DictConfig:
    """Compose conf/train.yaml as `python train.py` would, with paths under `output_dir`."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose("train", overrides=[*CHEAP, *overrides], return_hydra_config=True)
    HydraConfig().set_config(cfg)
    with open_dict(cfg):
        del cfg["hydra"]  # as inside a real run: the task sees the job config only
        cfg.paths.root_dir = str(ROOT)
        cfg.paths.output_dir = str(output_dir)
        cfg.paths.log_dir = str(output_dir)
        cfg.paths.data_dir = str(output_dir / "data")
        cfg.metrics.cache_dir = str(FEATURE_CACHE)
    return cfg


@pytest.fixture
def make_cfg(tmp_path: Path, fmnist_root: Path):
    """`make_cfg("model=dcgan", ...)` -> a cheap, fully resolved train config in tmp_path."""

    def _make(*overrides: str) -> DictConfig:
        return compose_train([f"data.root={fmnist_root}", *overrides], tmp_path / "run")

    yield _make
    GlobalHydra.instance().clear()


def cli_env(extra: dict | None = None) -> dict:
    """A user's environment for an entry script: W&B offline and quiet, Hydra's own errors short."""
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true", **(extra or {})}
    env.pop("HYDRA_FULL_ERROR", None)
    return env


def run_cli(script: str, *args: str, cwd: Path | None = None, env: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run one of the repo's entry scripts as a user would, capturing its output."""
    return subprocess.run(
        [sys.executable, str(ROOT / script), *args],
        cwd=cwd or ROOT, env=cli_env(env), capture_output=True, text=True, timeout=timeout,
    )


def write_classifier_weights(path: Path, seed: int) -> Path:
    """A randomly initialised metric classifier in the shipped file format (a different seed gives
    different weights, hence a different sha256)."""
    from genstyle.classifier.fashion_classifier import FashionClassifier
    from genstyle.classifier.train import TrainConfig, save_weights

    torch.manual_seed(seed)
    save_weights(FashionClassifier().eval(), path, TrainConfig(seed=seed, epochs=1), test_accuracy=0.0, threads=1)
    return path


@pytest.fixture(scope="session")
def classifier_weights(tmp_path_factory) -> str:
    """The shipped classifier weights when present, otherwise a random classifier (same format)."""
    from genstyle.classifier.fashion_classifier import WEIGHTS_PATH

    if WEIGHTS_PATH.is_file():
        return str(WEIGHTS_PATH)
    return str(write_classifier_weights(tmp_path_factory.mktemp("classifier") / "random.pt", seed=0))


@pytest.fixture
def random_classifier_weights(tmp_path: Path):
    """`random_classifier_weights(seed)` -> path of a random classifier's weights file."""
    return lambda seed: str(write_classifier_weights(tmp_path / f"classifier_{seed}.pt", seed))


@pytest.fixture
def one_thread():
    """Many small convolutions: on a shared 2-core CPU, extra torch threads only add contention."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
