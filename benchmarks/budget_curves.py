"""Budget curves (docs/quality.md): how sample quality grows with training for every default
family, at equal iterations (batches of 128), in two feature networks, with one table (markdown +
JSON), one plot and one picture of the samples.

    # train: one run per family and seed, evaluated along the way (every --eval-every chunks)
    OMP_NUM_THREADS=1 python benchmarks/budget_curves.py run --families dcgan --seeds 1 2 3 \
        --chunk 107 --chunks 20 --eval-every 4 --out outputs/curves
    # the side-by-side cost of one training iteration of each family, in this one process
    OMP_NUM_THREADS=1 python benchmarks/budget_curves.py cost --families vae dcgan sngan wgan_gp --out outputs/curves
    # the table and the plot of every run under --out, and the samples at 5 epochs' time
    python benchmarks/budget_curves.py collect --out outputs/curves --doc docs/budget_curves --samples-at 2140

A run trains `chunks` "epochs" of `chunk` batches each (`trainer.limit_train_batches`: every
chunk is a fresh random draw from the whole training set, so `chunk=107` is a quarter of an epoch
of the 55,000 images) and the evaluation callback measures FID, KID and precision/recall of
`--num-samples` samples against the test split after every `--eval-every` chunks (and after the
first and the last), in `--extractor` (the shipped classifier) and again, on the same samples, in
`--second-network` (the independent network no model trains against); the two-sample test runs
once, at the end. Each evaluation is a budget point: with no learning-rate schedule, the weights
after k chunks are those of a k-chunk run. The VAE is run twice, `vae` (prior N(0, I), the default
until the mixture won) and `vae_gmm` (`model.prior=gmm`, now the default): the same seed trains the
same weights (fitting the mixture draws from its own generator), so the two rows differ only in
the prior they sample from. Training time is compared through `cost`'s ratios (measured side by
side, so a background load slows every family alike), not through wall clocks.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BATCH_SIZE = 128
# family label -> train.py overrides
FAMILIES: dict[str, list[str]] = {
    "vae": ["model=vae", "model.prior=standard"],  # N(0, I), the default before prior=gmm
    "vae_gmm": ["model=vae", "model.prior=gmm"],
    "dcgan": ["model=dcgan"],
    "sngan": ["model=sngan"],
    "wgan_gp": ["model=wgan_gp"],
}
# The networks the curves are scored in (the run's metrics.extractor and its second network) and the
# numbers kept from each.
NETWORKS = ("fmnist-classifier", "fmnist-independent")
SHOWN = ("fid", "kid_mean", "precision", "recall")


def run_dir_of(out: Path, family: str, seed: int) -> Path:
    return out / f"{family}_seed{seed}"


def job_command(family: str, seed: int, args) -> list[str]:
    return [
        sys.executable, str(ROOT / "train.py"), *FAMILIES[family], "data=fashion_mnist", f"seed={seed}",
        f"data.batch_size={BATCH_SIZE}", f"trainer.limit_train_batches={args.chunk}", f"trainer.max_epochs={args.chunks}",
        "trainer.limit_val_batches=5", f"callbacks.evaluation.every_n_epochs={args.eval_every}",
        f"callbacks.evaluation.num_samples={args.num_samples}", f"metrics.extractor={args.extractor}",
        *([f"callbacks.evaluation.second_network={args.second_network}"] if args.second_network else []),
        "callbacks.interpretability=null", "callbacks.rich_progress_bar=null", "trainer.enable_progress_bar=false",
        "logger=csv", "test=false", f"hydra.run.dir={run_dir_of(args.out, family, seed)}", *args.extra,
    ]


def command_value(run_dir: Path, key: str) -> int:
    """An integer override of the train.py command a run was (last) started with."""
    return int(next(c.split("=", 1)[1] for c in (run_dir / "command.txt").read_text().split() if c.startswith(f"{key}=")))


def chunks_trained(run_dir: Path) -> int:
    return command_value(run_dir, "trainer.max_epochs")


def run(args) -> int:
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"), "WANDB_MODE": "offline"}
    failed = 0
    for seed in args.seeds:
        for family in args.families:
            run_dir = run_dir_of(args.out, family, seed)
            extend = False
            if (run_dir / "metrics.json").is_file() and not args.again:
                done = chunks_trained(run_dir)
                if args.chunks <= done or not (run_dir / "checkpoints" / "last.ckpt").is_file():
                    print(f"{run_dir.name}: done already, {done} chunks (--again reruns it, more --chunks extend it)", flush=True)
                    continue
                # No learning-rate schedule: resuming the k-chunk run to n chunks trains what an n-chunk run trains.
                extend = True
            run_dir.mkdir(parents=True, exist_ok=True)
            # A rerun replaces the run; an extension resumes its last checkpoint and keeps its evaluations.
            cmd = job_command(family, seed, args) + (["overwrite=true"] if args.again else ["ckpt_path=last"] if extend else [])
            (run_dir / "command.txt").write_text(" ".join(cmd[1:]) + "\n")
            start = time.perf_counter()
            with (run_dir / "job.log").open("a" if extend else "w") as log:
                rc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT).returncode
            failed += rc != 0
            print(f"[{datetime.now():%H:%M:%S}] {run_dir.name}: rc={rc} {time.perf_counter() - start:.0f}s", flush=True)
    return 1 if failed else 0


# --- per-iteration cost, side by side -------------------------------------------------------


def cost(args) -> int:
    """Seconds per training iteration (one batch of 128: for WGAN-GP one critic step, and a G
    step every n_critic-th) of each family through the real Lightning module, round robin over
    the families in this one process (so a background load slows all alike), each time a fresh
    model trained on `--steps` + 2 batches, the median of the batch-to-batch intervals after the
    first two; the median over repeats, and its ratio to DCGAN's."""
    import hydra
    import pytorch_lightning as pl
    import torch
    from hydra import compose, initialize_config_dir
    from omegaconf import open_dict

    from genstyle import lightning_fixes
    from genstyle.cli.common import CONFIG_DIR

    lightning_fixes.install()

    class Clock(pl.Callback):
        def __init__(self) -> None:
            self.stamps: list[float] = []

        def on_train_batch_end(self, *_) -> None:
            self.stamps.append(time.perf_counter())

    torch.set_num_threads(args.threads)
    configs = {}
    for family in args.families:
        with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
            cfg = compose("train", overrides=[*FAMILIES[family], f"data.batch_size={BATCH_SIZE}", "data.train_subset=4096"])
        with open_dict(cfg):
            cfg.paths = {"root_dir": str(ROOT), "data_dir": str(ROOT / "data"), "log_dir": "/tmp", "output_dir": "/tmp"}
        configs[family] = cfg

    def seconds_per_iteration(cfg) -> float:
        module, data, clock = hydra.utils.instantiate(cfg.model), hydra.utils.instantiate(cfg.data), Clock()
        trainer = pl.Trainer(max_epochs=1, limit_train_batches=args.steps + 2, limit_val_batches=0, logger=False,
                             enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                             callbacks=[clock], accelerator="cpu", num_sanity_val_steps=0)
        trainer.fit(module, datamodule=data)
        return statistics.median(b - a for a, b in itertools.pairwise(clock.stamps[1:]))

    times: dict[str, list[float]] = {f: [] for f in configs}
    for _ in range(args.repeats):
        for family, cfg in configs.items():
            times[family].append(seconds_per_iteration(cfg))
            print(f"{family:8} {1e3 * times[family][-1]:8.1f} ms/iteration", flush=True)
    base = statistics.median(times["dcgan"]) if "dcgan" in times else None
    rows = {f: {"ms_per_iteration": 1e3 * statistics.median(t), "vs_dcgan": statistics.median(t) / base if base else None,
                "repeats_ms": [round(1e3 * x, 1) for x in t]} for f, t in times.items()}
    for family, row in rows.items():
        print(f"{family:8} {row['ms_per_iteration']:8.1f} ms/iteration" + (f"  {row['vs_dcgan']:.2f}x dcgan" if row["vs_dcgan"] else ""))
    result = {"machine": f"{platform.machine()}, {args.threads} torch thread(s), torch {torch.__version__}",
              "batch_size": BATCH_SIZE, "steps": args.steps, "repeats": args.repeats, "families": rows}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "cost.json").write_text(json.dumps(result, indent=2) + "\n")
    return 0


# --- table and plot -------------------------------------------------------------------------


def history(run_dir: Path) -> list[dict]:
    """The evaluated points of one run, from its eval.json: iterations, and the metrics by network
    (`val/fid` is in the run's metrics.extractor, `val/<network>/fid` in its second network)."""
    path = run_dir / "eval.json"
    if not path.is_file():
        return []
    record = json.loads(path.read_text())
    primary = record["protocol"]["extractor"]
    chunk = command_value(run_dir, "trainer.limit_train_batches")
    points = []
    for h in record["history"]:  # epochs as Lightning counts them, from 0
        networks: dict[str, dict[str, float]] = {}
        for key, value in h.items():
            parts = key.split("/")
            if parts[0] != "val" or parts[-1] not in SHOWN:
                continue
            networks.setdefault(primary if len(parts) == 2 else parts[1], {})[parts[-1]] = value
        chunks = int(h["epoch"]) + 1  # also the number in the name of the evaluation's grid
        point = {"chunks": chunks, "iterations": chunks * chunk, "networks": networks}
        if "val/c2st_acc" in h:  # the two-sample judge reads pixels: no network of its own
            point["c2st_acc"] = h["val/c2st_acc"]
        points.append(point)
    return points


def family_order(runs: dict) -> list[str]:
    """The families of FAMILIES in its order, then any others by name."""
    return [f for f in FAMILIES if f in runs] + sorted(set(runs) - set(FAMILIES))


def mean_std(values: Sequence[float]) -> list[float]:
    return [statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0, len(values)]


def collect(args) -> int:
    runs: dict[str, dict[int, list[dict]]] = {}
    for run_dir in sorted(p for p in args.out.iterdir() if p.is_dir() and "_seed" in p.name):
        family, _, seed = run_dir.name.rpartition("_seed")
        if points := history(run_dir):
            runs.setdefault(family, {})[int(seed)] = points
    cost_path = args.out / "cost.json"
    cost_rows = json.loads(cost_path.read_text())["families"] if cost_path.is_file() else {}
    order = family_order(runs)
    table = []
    for family in order:
        by_iter: dict[int, list[dict]] = {}
        for points in runs[family].values():
            for p in points:
                by_iter.setdefault(p["iterations"], []).append(p)
        ratio = cost_of(family, cost_rows)
        for iterations in sorted(by_iter):
            pts = by_iter[iterations]
            row = {"family": family, "iterations": iterations, "seeds": len(pts), "cost_vs_dcgan": ratio,
                   "dcgan_iteration_equivalents": iterations * ratio if ratio else None, "networks": {}}
            for network in sorted({n for p in pts for n in p["networks"]}):
                for key in SHOWN:
                    values = [p["networks"][network][key] for p in pts if key in p["networks"].get(network, {})]
                    if values:
                        row["networks"].setdefault(network, {})[key] = mean_std(values)
            if c2st := [p["c2st_acc"] for p in pts if "c2st_acc" in p]:
                row["c2st_acc"] = mean_std(c2st)
            table.append(row)
    header = (f"Budget curves: the runs under {args.out} ({datetime.now():%Y-%m-%d %H:%M}); batch {BATCH_SIZE}; "
              f"one iteration = one batch; mean ± std over seeds; FID in {' and '.join(NETWORKS)}, "
              f"KID/precision/recall in {NETWORKS[1]}; the JSON beside this table holds them in both")
    args.doc.parent.mkdir(parents=True, exist_ok=True)
    Path(f"{args.doc}.json").write_text(json.dumps({"header": header, "cost": cost_rows, "table": table}, indent=2) + "\n")
    text = markdown(table, header)
    Path(f"{args.doc}.md").write_text(text)
    print(text)
    plot(runs, cost_rows, Path(args.plot))
    if args.samples_at:
        samples_panel(args.out, runs, cost_rows, args.samples_at, Path(args.samples_plot))
    return 0


def samples_panel(out: Path, runs: dict[str, dict[int, list[dict]]], cost_rows: dict, budget: float, path: Path) -> None:
    """The evaluation grid of each family's first seed at the evaluated point nearest `budget`
    DCGAN-iteration equivalents, side by side, titled with the iterations and both FIDs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image

    order = family_order(runs)
    fig, axes = plt.subplots(1, len(order), figsize=(3.2 * len(order), 3.7), squeeze=False)
    for ax, family in zip(axes[0], order, strict=True):
        seed = min(runs[family])
        ratio = cost_of(family, cost_rows) or 1.0
        point = min(runs[family][seed], key=lambda p: abs(p["iterations"] * ratio - budget))
        grid = run_dir_of(out, family, seed) / "eval_samples" / f"epoch_{point['chunks']:03d}.png"
        ax.imshow(Image.open(grid), cmap="gray")
        fids = ", ".join(f"{p['fid']:.0f}" for n in NETWORKS if (p := point["networks"].get(n)) and "fid" in p)
        ax.set_title(f"{family}, {point['iterations']} it.\n(~{point['iterations'] * ratio:.0f} DCGAN it.), FID {fids}", fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    print(f"samples: {path}")


def cost_of(family: str, cost_rows: dict) -> float | None:
    """A family's cost per iteration over DCGAN's; vae_gmm trains exactly as vae."""
    return cost_rows.get(family.removesuffix("_gmm"), {}).get("vs_dcgan")


def markdown(table: Sequence[dict], header: str) -> str:
    classifier, independent = NETWORKS
    cols = ["family", "iterations", "training time (DCGAN iterations)", "seeds", "FID, classifier", "FID, independent",
            "KID, independent", "precision, independent", "recall, independent", "two-sample acc."]
    lines = [f"<!-- {header} -->", "", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]

    def fmt(numbers: dict, key: str, digits: int) -> str:
        if key not in numbers:
            return "-"
        mean, std, n = numbers[key]
        return f"{mean:.{digits}f}" + (f" ± {std:.{digits}f}" if n > 1 else "")

    for r in table:
        equiv = f"{r['dcgan_iteration_equivalents']:.0f}" if r["dcgan_iteration_equivalents"] else "-"
        a, b = r["networks"].get(classifier, {}), r["networks"].get(independent, {})
        lines.append("| " + " | ".join([r["family"], str(r["iterations"]), equiv, str(r["seeds"]), fmt(a, "fid", 2),
                                        fmt(b, "fid", 2), fmt(b, "kid_mean", 4), fmt(b, "precision", 3),
                                        fmt(b, "recall", 3), fmt(r, "c2st_acc", 3)]) + " |")
    return "\n".join(lines) + "\n"


def plot(runs: dict[str, dict[int, list[dict]]], cost_rows: dict, path: Path) -> None:
    """FID against training time in DCGAN-iteration equivalents (iterations x the family's cost
    ratio), one panel per network, one line per family (mean over seeds), seeds' points as dots."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(NETWORKS), figsize=(12, 4.5))
    for ax, network in zip(axes, NETWORKS, strict=True):
        for family in family_order(runs):
            seeds = runs[family]
            ratio = cost_of(family, cost_rows) or 1.0
            by_iter: dict[int, list[float]] = {}
            for points in seeds.values():
                for p in points:
                    if "fid" in p["networks"].get(network, {}):
                        by_iter.setdefault(p["iterations"], []).append(p["networks"][network]["fid"])
            if not by_iter:
                continue
            xs = sorted(by_iter)
            (line,) = ax.plot([x * ratio for x in xs], [statistics.fmean(by_iter[x]) for x in xs], marker="o", label=family)
            for x in xs:
                if len(by_iter[x]) > 1:
                    ax.scatter([x * ratio] * len(by_iter[x]), by_iter[x], s=10, color=line.get_color(), alpha=0.5)
        ax.set_title(f"FID in {network}")
        ax.set_xlabel("training time, in DCGAN iterations")
        ax.set_yscale("log")
        ax.grid(alpha=0.3, which="both")
        if ax.lines:
            ax.legend(fontsize=8)
    axes[0].set_ylabel("FID vs the 10,000 test images")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    print(f"plot: {path}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p_run = sub.add_parser("run", help="train and evaluate")
    p_run.add_argument("--families", nargs="+", default=list(FAMILIES), choices=list(FAMILIES))
    p_run.add_argument("--seeds", nargs="+", type=int, default=[1])
    p_run.add_argument("--chunk", type=int, default=107, help="batches per evaluation chunk (trainer.limit_train_batches)")
    p_run.add_argument("--chunks", type=int, default=8, help="chunks per run (trainer.max_epochs)")
    p_run.add_argument("--eval-every", type=int, default=2, help="evaluate after every k-th chunk (and the first and last)")
    p_run.add_argument("--num-samples", type=int, default=5000)
    p_run.add_argument("--extractor", default="auto", help="metrics.extractor (feature backend) of the evaluations")
    p_run.add_argument("--second-network", default=NETWORKS[1],
                       help="callbacks.evaluation.second_network: the same samples measured again there ('' = none)")
    p_run.add_argument("--again", action="store_true", help="rerun runs that finished already")
    p_run.add_argument("extra", nargs="*", help="more train.py overrides for every run")
    p_cost = sub.add_parser("cost", help="per-iteration cost of each family, side by side")
    p_cost.add_argument("--families", nargs="+", default=["vae", "dcgan", "sngan", "wgan_gp"], choices=list(FAMILIES))
    p_cost.add_argument("--steps", type=int, default=5)
    p_cost.add_argument("--repeats", type=int, default=3)
    p_cost.add_argument("--threads", type=int, default=1)
    p_col = sub.add_parser("collect", help="the table and the plot of every run under --out")
    p_col.add_argument("--doc", type=Path, default=ROOT / "docs" / "budget_curves", help="writes <doc>.md and <doc>.json")
    p_col.add_argument("--plot", type=Path, default=ROOT / "docs" / "images" / "budget_curves.png")
    p_col.add_argument("--samples-at", type=float, default=None,
                       help="also draw each family's evaluation grid nearest this training time (DCGAN iterations)")
    p_col.add_argument("--samples-plot", type=Path, default=ROOT / "docs" / "images" / "budget_samples.png")
    for p in (p_run, p_cost, p_col):
        p.add_argument("--out", type=Path, default=ROOT / "outputs" / "budget_curves")
    args = parser.parse_args(argv)
    return {"run": run, "cost": cost, "collect": collect}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
