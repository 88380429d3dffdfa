"""The recipe ablation (docs/quality.md), unattended: the planned `train.py` jobs in parallel
processes, then one results table (JSON + markdown).

    python benchmarks/recipe_ablation.py --trainer gpu --jobs 12          # the ablation, ~5 min on one H200
    python benchmarks/recipe_ablation.py --smoke --jobs 2 --out /tmp/abl  # a CPU check of the machinery (2 batches per job)

Plan: `experiment=recipe_budget` (DCGAN, 5 epochs, batch 128, FID/KID/precision/recall on
10,000 samples against the official test split at the end) for
- the plain recipe and the combinations (ema_augment, all) with 3 seeds,
- each single option (ema, augment, augment_color, r1, spectral_norm) with 1 seed,
- little data: the first 2,000 (3 seeds) and 10,000 (1 seed) training images, plain vs augment.
Each job is a separate run directory under --out; a job that fails is reported (its log kept)
and the others go on. `results.json` holds every job's metrics and wall time, `results.md`
the table: mean +- std over seeds per configuration, and per-step time relative to plain.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
METRICS = ("val/fid", "val/kid_mean", "val/precision", "val/recall")
TIMES = ("time/step_ms", "time/fit_seconds")

# (configuration name, overrides, seeds)
PLAN: list[tuple[str, list[str], list[int]]] = [
    ("plain", ["recipe=plain"], [1, 2, 3]),
    ("ema", ["recipe=ema"], [1]),
    ("augment", ["recipe=augment"], [1]),
    ("augment_color", ["recipe=augment_color"], [1]),
    ("r1", ["recipe=r1"], [1]),
    ("spectral_norm", ["recipe=spectral_norm"], [1]),
    ("ema_augment", ["recipe=ema_augment"], [1, 2, 3]),
    ("all", ["recipe=all"], [1, 2, 3]),
    ("plain_2k", ["recipe=plain", "data.train_subset=2000"], [1, 2, 3]),
    ("augment_2k", ["recipe=augment", "data.train_subset=2000"], [1, 2, 3]),
    ("plain_10k", ["recipe=plain", "data.train_subset=10000"], [1]),
    ("augment_10k", ["recipe=augment", "data.train_subset=10000"], [1]),
]
SMOKE = [
    "trainer.limit_train_batches=2", "trainer.limit_val_batches=1", "trainer.max_epochs=1",
    "callbacks.evaluation.num_samples=200", "metrics.num_real=500", "metrics.min_samples=2", "metrics.kid_subsets=10",
]


def job_command(name: str, overrides: list[str], seed: int, out: Path, args) -> tuple[str, list[str], Path]:
    run_dir = out / f"{name}_seed{seed}"
    cmd = [
        sys.executable, str(ROOT / "train.py"), "experiment=recipe_budget", *overrides, f"seed={seed}",
        f"trainer={args.trainer}", f"logger={args.logger}", f"hydra.run.dir={run_dir}",
        *(SMOKE if args.smoke else []), *args.extra,
    ]
    return name, cmd, run_dir


def run_metrics(run_dir: Path) -> dict:
    """The table's metrics and times from a run's metrics.json and timing.json (those present)."""
    record = {}
    for fname in ("metrics.json", "timing.json"):
        path = run_dir / fname
        if path.is_file():
            values = json.loads(path.read_text())
            record.update({k: values[k] for k in (*METRICS, *TIMES) if k in values})
    return record


def run_job(job: tuple[str, list[str], Path], env: dict) -> dict:
    name, cmd, run_dir = job
    run_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with (run_dir / "job.log").open("w") as log:
        rc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT).returncode
    wall = time.perf_counter() - start
    record = {"configuration": name, "run_dir": str(run_dir), "returncode": rc, "process_seconds": round(wall, 1),
              **run_metrics(run_dir)}
    record["seed"] = next(int(c.split("=", 1)[1]) for c in cmd if c.startswith("seed="))
    print(f"[{datetime.now():%H:%M:%S}] {run_dir.name}: rc={rc} {wall:.0f}s fid={record.get('val/fid')}", flush=True)
    return record


def collect(out: Path) -> list[dict]:
    """Records of the finished runs already under `out` (`<configuration>_seed<N>/`): tables
    from several invocations (e.g. the judge switched off half way) in one."""
    records = []
    order = {name: i for i, (name, _, _) in enumerate(PLAN)}
    runs = sorted((p for p in out.iterdir() if p.is_dir() and "_seed" in p.name),
                  key=lambda p: (order.get(p.name.rpartition("_seed")[0], len(order)), p.name))
    for run_dir in runs:
        name, _, seed = run_dir.name.rpartition("_seed")
        records.append({"configuration": name, "run_dir": str(run_dir), "seed": int(seed),
                        "returncode": 0 if (run_dir / "metrics.json").is_file() else 1, **run_metrics(run_dir)})
    return records


def summarise(records: list[dict]) -> dict[str, dict]:
    groups: dict[str, list[dict]] = {}
    for r in records:
        groups.setdefault(r["configuration"], []).append(r)
    table = {}
    for name, rows in groups.items():
        ok = [r for r in rows if r["returncode"] == 0]
        entry = {"seeds": len(ok), "failed": len(rows) - len(ok)}
        for key in (*METRICS, *TIMES):
            values = [r[key] for r in ok if isinstance(r.get(key), (int, float))]
            if values:
                entry[key] = (statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0)
        table[name] = entry
    # Per-step cost relative to the plain recipe at the same data size.
    for name, entry in table.items():
        base = table.get("plain" + (name[name.rfind("_"):] if name.endswith(("_2k", "_10k")) else ""))
        if base and "time/step_ms" in entry and "time/step_ms" in base:
            entry["step_time_vs_plain"] = entry["time/step_ms"][0] / base["time/step_ms"][0]
    return table


def markdown(table: dict[str, dict], header: str) -> str:
    cols = ["configuration", "seeds", "FID", "KID", "precision", "recall", "step ms", "x plain", "fit s"]
    lines = [header, "", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]

    def fmt(entry: dict, key: str, digits: int) -> str:
        if key not in entry:
            return "-"
        mean, std = entry[key]
        return f"{mean:.{digits}f}" + (f" ± {std:.{digits}f}" if entry["seeds"] > 1 else "")

    for name, e in table.items():
        row = [name, f"{e['seeds']}" + (f" ({e['failed']} failed)" if e["failed"] else ""), fmt(e, "val/fid", 2),
               fmt(e, "val/kid_mean", 4), fmt(e, "val/precision", 3), fmt(e, "val/recall", 3), fmt(e, "time/step_ms", 1),
               f"{e['step_time_vs_plain']:.2f}" if "step_time_vs_plain" in e else "-", fmt(e, "time/fit_seconds", 0)]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trainer", default="gpu", help="trainer config: gpu (default) or cpu")
    parser.add_argument("--jobs", type=int, default=12, help="parallel train.py processes")
    parser.add_argument("--out", type=Path, default=None, help="default: outputs/recipe_ablation/<date>_<time>")
    parser.add_argument("--logger", default="csv")
    parser.add_argument("--only", nargs="*", default=None, help="configurations to run (default: the whole plan)")
    parser.add_argument("--seeds", type=int, default=None, help="at most this many seeds per configuration (default: the plan's)")
    parser.add_argument("--collect", action="store_true", help="train nothing: the table of the runs already under --out")
    parser.add_argument("--smoke", action="store_true", help="2 batches per job and a small evaluation: checks the machinery")
    parser.add_argument("extra", nargs="*", help="more train.py overrides for every job")
    args = parser.parse_args()
    out = args.out or ROOT / "outputs" / "recipe_ablation" / datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    out.mkdir(parents=True, exist_ok=True)
    by_name = {p[0]: p for p in PLAN}
    plan = PLAN if args.only is None else [by_name[name] for name in args.only if name in by_name]  # in --only's order
    if args.seeds is not None:
        plan = [(name, overrides, seeds[: args.seeds]) for name, overrides, seeds in plan]
    unknown = set(args.only or ()) - {p[0] for p in PLAN}
    if unknown:
        print(f"error: --only {', '.join(sorted(unknown))}: not in the plan ({', '.join(p[0] for p in PLAN)}).", file=sys.stderr)
        return 2
    if args.collect:
        records = collect(out)
        table = summarise(records)
        header = f"Recipe ablation, the runs under {out} ({datetime.now():%Y-%m-%d %H:%M})"
        (out / "results.json").write_text(json.dumps({"header": header, "table": table, "runs": records}, indent=2) + "\n")
        (out / "results.md").write_text(markdown(table, header))
        print(markdown(table, header))
        return 0
    jobs = [job_command(name, overrides, seed, out, args) for name, overrides, seeds in plan for seed in seeds]
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"), "WANDB_MODE": "offline",
           "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    start = time.perf_counter()
    # The first job alone: it computes and caches the reference statistics the others read.
    records = [run_job(jobs[0], env)]
    with ThreadPoolExecutor(max(1, args.jobs)) as pool:
        records += list(pool.map(lambda j: run_job(j, env), jobs[1:]))
    total = time.perf_counter() - start
    table = summarise(records)
    budget = ("SMOKE (2 batches per job; not a measurement)" if args.smoke else
              "experiment=recipe_budget (DCGAN, 5 epochs, batch 128, FID on 10,000 samples vs the test split)" +
              (f" with the overrides {' '.join(args.extra)}" if args.extra else ""))
    header = (f"Recipe ablation, {budget}; trainer={args.trainer}, {args.jobs} jobs in parallel, "
              f"{len(jobs)} runs in {total / 60:.1f} min ({datetime.now():%Y-%m-%d %H:%M}). Step times are measured "
              "with the other jobs sharing the machine.")
    (out / "results.json").write_text(json.dumps({"header": header, "table": table, "runs": records}, indent=2) + "\n")
    (out / "results.md").write_text(markdown(table, header))
    print(markdown(table, header))
    failed = [r["run_dir"] for r in records if r["returncode"] != 0]
    if failed:
        print(f"{len(failed)} job(s) failed; see job.log in: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
