"""Evaluation cost, measured side by side in one process:

(a) 10,000 generated images scored against *cached* reference statistics (genstyle: one pass
    of the classifier over the generated images, then FID/KID/IS/precision-recall/class metrics)
    against a standalone `torch_fidelity.calculate_metrics(..., feature_extractor=
    'fmnist-classifier')` call on the same images and the same reference (the official
    Fashion-MNIST test split), which recomputes the reference features. Same metric settings
    (torch-fidelity's defaults: KID 100 subsets of 1000, IS 10 splits, PR k=3); the two runs
    alternate (A B A B ...) and medians are reported, so background load hits both alike.
(b) One evaluation at the default callback settings (conf/callbacks/evaluation.yaml:
    5,000 samples) against one training epoch at the default settings (batch 128 over the
    55,000 training images), for the DCGAN and the VAE. The epoch time is seconds per step,
    measured over `--steps` Lightning training steps, times the steps per epoch.

    OMP_NUM_THREADS=1 python benchmarks/evaluation.py [--threads 1] [--repeats 3] [--steps 40]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

import hydra
import pytorch_lightning as pl
import torch
import torch_fidelity
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf, open_dict

import genstyle.metrics  # noqa: F401  registers fmnist-classifier
from genstyle import lightning_fixes
from genstyle.cli.common import CONFIG_DIR
from genstyle.data.sources import load_fashion_mnist
from genstyle.metrics.backends import ClassifierBackend
from genstyle.metrics.extractor import ImageTensorDataset
from genstyle.metrics.generation import generate
from genstyle.metrics.latent import vae_latent_metrics
from genstyle.metrics.reference import load_or_compute_reference
from genstyle.metrics.settings import metric_settings
from genstyle.metrics.suite import evaluate_features
from genstyle.pixels import to_uint8


def compose_train(model: str, tmp: Path, *overrides: str):
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose("train", overrides=[f"model={model}", "logger=none", *overrides], return_hydra_config=True)
    from hydra.core.hydra_config import HydraConfig

    HydraConfig().set_config(cfg)
    with open_dict(cfg):
        del cfg["hydra"]
        cfg.paths.root_dir = str(Path.cwd())
        cfg.paths.output_dir = cfg.paths.log_dir = str(tmp)
        cfg.paths.data_dir = str(tmp / "data")
    hydra.core.global_hydra.GlobalHydra.instance().clear()
    return cfg


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


# --- (a) cached reference vs standalone torch-fidelity ----------------------------------------


def cached_vs_standalone(args, tmp: Path) -> dict:
    cfg = compose_train("dcgan", tmp)
    model = hydra.utils.instantiate(cfg.model)  # untrained: the cost does not depend on the weights
    generated = to_uint8(generate(model, 10_000, seed=0, batch_size=500, label_distribution=None))
    test = load_fashion_mnist("test", args.data_root, download=False).images
    backend = ClassifierBackend(args.classifier_weights)
    cache = tmp / "feature_cache"
    reference_kwargs = dict(dataset="fashion_mnist", split="test", image_size=28, channels=1, cache_dir=cache)
    cold, _ = timed(lambda: load_or_compute_reference(backend, lambda: test, **reference_kwargs))
    settings = OmegaConf.to_container(cfg.metrics, resolve=True)

    def ours() -> dict:
        reference = load_or_compute_reference(backend, lambda: test, **reference_kwargs)
        assert reference.from_cache
        return evaluate_features(backend(generated), reference, metric_settings(settings)).metrics

    def theirs() -> dict:
        return torch_fidelity.calculate_metrics(
            input1=ImageTensorDataset(generated), input2=ImageTensorDataset(test),
            feature_extractor="fmnist-classifier", feature_extractor_weights_path=args.classifier_weights,
            isc=True, fid=True, kid=True, prc=True, cuda=False, cache=False, verbose=False, batch_size=500,
        )

    ours_s, theirs_s = [], []
    for _ in range(args.repeats):
        t, ours_metrics = timed(ours)
        ours_s.append(t)
        t, their_metrics = timed(theirs)
        theirs_s.append(t)
    a, b = statistics.median(ours_s), statistics.median(theirs_s)
    return {
        "num_generated": len(generated), "num_reference": len(test), "reference": "fashion_mnist:test",
        "reference_features_cold_s": round(cold, 2),
        "genstyle_cached_s": [round(x, 2) for x in ours_s], "torch_fidelity_standalone_s": [round(x, 2) for x in theirs_s],
        "genstyle_cached_median_s": round(a, 2), "torch_fidelity_median_s": round(b, 2), "ratio": round(a / b, 3),
        "fid": {"genstyle": ours_metrics["fid"], "torch_fidelity": their_metrics["frechet_inception_distance"]},
        "kid_mean": {"genstyle": ours_metrics["kid_mean"], "torch_fidelity": their_metrics["kernel_inception_distance_mean"]},
    }


# --- (b) evaluation vs one training epoch -----------------------------------------------------


def seconds_per_step(cfg, steps: int) -> float:
    """Median-free but load-robust: (time of 3+steps) - (time of 3) over `steps` steps."""
    times = []
    for n in (3, 3 + steps):
        datamodule = hydra.utils.instantiate(cfg.data)
        model = hydra.utils.instantiate(cfg.model)
        lightning_fixes.install()  # as train.py does: the step times users get
        trainer = pl.Trainer(accelerator="cpu", max_epochs=1, limit_train_batches=n, limit_val_batches=0, logger=False,
                             enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
        datamodule.prepare_data()
        datamodule.setup("fit")
        start = time.perf_counter()
        trainer.fit(model, datamodule=datamodule)
        times.append(time.perf_counter() - start)
    return (times[1] - times[0]) / steps


def epoch_vs_evaluation(args, tmp: Path, family: str) -> dict:
    cfg = compose_train(family, tmp, f"metrics.classifier_weights={args.classifier_weights}")
    ev = cfg.callbacks.evaluation
    step_s = seconds_per_step(cfg, args.steps)
    datamodule = hydra.utils.instantiate(cfg.data)
    datamodule.setup("fit")
    steps_per_epoch = len(datamodule.train_set) // cfg.data.batch_size
    model = hydra.utils.instantiate(cfg.model)
    backend = ClassifierBackend(args.classifier_weights)
    settings = OmegaConf.to_container(cfg.metrics, resolve=True)
    reference = load_or_compute_reference(
        backend, lambda: datamodule.load_split(ev.reference_split).images, dataset="fashion_mnist", split=ev.reference_split,
        image_size=28, channels=1, cache_dir=tmp / "feature_cache",
    )

    def evaluation() -> None:
        images = generate(model, ev.num_samples, ev.seed, ev.batch_size, datamodule.label_distribution())
        evaluate_features(backend(images), reference, metric_settings(settings))
        if family == "vae":
            vae_latent_metrics(model, datamodule.val_set.images[: ev.latent_samples])

    eval_s = statistics.median(timed(evaluation)[0] for _ in range(args.repeats))
    epoch_s = step_s * steps_per_epoch
    return {
        "seconds_per_step": round(step_s, 4), "steps_per_epoch": steps_per_epoch, "epoch_s": round(epoch_s, 1),
        "evaluation_s": round(eval_s, 2), "num_samples": ev.num_samples, "overhead": round(eval_s / epoch_s, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=40, help="training steps timed per model")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--classifier-weights", default=None, help="default: the shipped classifier")
    parser.add_argument("--skip", choices=["a", "b"], default=None)
    parser.add_argument("--out", type=Path, default=Path("docs/evaluation_cost.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    result = {"machine": f"{platform.processor() or platform.machine()}, torch {torch.__version__}, {args.threads} thread(s)"}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.skip != "a":
            result["cached_vs_standalone"] = cached_vs_standalone(args, tmp)
            print(json.dumps(result["cached_vs_standalone"], indent=2), flush=True)
        if args.skip != "b":
            for family in ("dcgan", "vae"):
                result[f"epoch_vs_evaluation_{family}"] = epoch_vs_evaluation(args, tmp, family)
                print(family, json.dumps(result[f"epoch_vs_evaluation_{family}"]), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
