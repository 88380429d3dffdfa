"""PNG figures of a comparison: metric curves overlaid per configuration, final metrics per configuration."""

from __future__ import annotations

import io
import math
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: works without a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from genstyle.files import write_bytes_atomic  # noqa: E402
from genstyle.report.runs import Run, configurations, curve, mean_std, rank_keys  # noqa: E402


def save_figure(fig, path: Path) -> Path:
    """The figure as PNG, encoded in memory and written atomically; the figure is closed."""
    encoded = io.BytesIO()
    fig.savefig(encoded, format="png")
    plt.close(fig)
    return write_bytes_atomic(path, encoded.getvalue())


def slug(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", key).strip("_")


def curve_keys(runs: list[Run]) -> list[str]:
    """Metrics with at least two epochs in some run (a single point is no curve)."""
    keys = {k for r in runs for row in r.history for k in row if "/" in k and not k.endswith("_step")}
    keys = {k for k in keys if not (k.endswith("_epoch") and k[: -len("_epoch")] in keys)}
    return rank_keys([k for k in keys if any(len(curve(r, k)[0]) > 1 for r in runs)])


# Final-value bar charts for the headline numbers only (every metric is in the tables and curves).
HEADLINE = ("val/fid", "val/kid_mean", "val/precision", "val/recall", "val/is_mean", "val/class_kl", "val/loss", "test/loss")


def headline_keys(keys: list[str]) -> list[str]:
    return [k for k in HEADLINE if k in keys]


def plot_curves(runs: list[Run], key: str, path: Path) -> Path:
    """One line per configuration: mean over seeds per epoch, band = min..max over seeds."""
    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=100)
    for index, (name, group) in enumerate(configurations(runs).items()):
        color = f"C{index % 10}"  # one colour per configuration in every figure
        series = [curve(r, key) for r in group]
        epochs = sorted({e for xs, _ in series for e in xs})
        if not epochs:
            continue
        table = np.full((len(series), len(epochs)), np.nan)
        for i, (xs, ys) in enumerate(series):
            for x, y in zip(xs, ys, strict=True):
                table[i, epochs.index(x)] = y if math.isfinite(y) else np.nan
        with np.errstate(all="ignore"):
            mean = np.nanmean(table, axis=0)
        ax.plot(epochs, mean, marker="o", ms=3, color=color, label=f"{name} (n={len(series)})")
        if len(series) > 1:
            ax.fill_between(epochs, np.nanmin(table, axis=0), np.nanmax(table, axis=0), color=color, alpha=0.2)
    ax.set_xlabel("epoch")
    ax.set_ylabel(key)
    ax.set_title(f"{key}: mean over seeds, band = min..max")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_final(runs: list[Run], key: str, path: Path) -> Path:
    """Final value per configuration: mean ± std over seeds, with each seed as a dot."""
    every = list(configurations(runs))
    groups = {name: group for name, group in configurations(runs).items() if any(r.status == "done" and key in r.metrics for r in group)}
    names = list(groups)
    fig, ax = plt.subplots(figsize=(max(4.0, 1.4 * len(names) + 1), 3.6), dpi=100)
    for i, name in enumerate(names):
        values = [r.metrics.get(key, math.nan) for r in groups[name] if r.status == "done"]
        mean, std, n = mean_std(values)
        if n:
            ax.bar(i, mean, yerr=std, capsize=4, alpha=0.6, color=f"C{every.index(name) % 10}")
            ax.scatter([i] * len(values), values, color="black", s=10, zorder=3)
    ax.set_xticks(range(len(names)), [n if len(n) < 30 else n[:27] + "..." for n in names], rotation=20, ha="right", fontsize=7)
    ax.set_ylabel(key)
    ax.set_title(f"final {key}: mean ± std over seeds")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return save_figure(fig, path)
