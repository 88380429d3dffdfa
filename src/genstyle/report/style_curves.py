"""The style benchmark's trade-off plot: content kept against style moved, one curve per stylizer.

Each row of a style-benchmark payload is a point: x = style moved, `1 - gram_dist` (0 = the
content's own Gram statistics, 1 = the style image's), y = content kept, the share of results
classified as the content image's class. Rows of one stylizer at several strengths (AdaIN's
`alpha`, the optimisation's style weight: rows with a `curve` key) are joined in strength order;
every point is labelled with its FID; the copy-content and copy-style references are drawn as
the two corners the stylizers sit between.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: works without a display
import matplotlib.pyplot as plt  # noqa: E402

COPIES = {"copy content (reference)": ("s", "copy content"), "copy style (reference)": ("D", "copy style")}


def style_moved(row: dict) -> float:
    return 1.0 - float(row["gram_dist"])


def curves(rows: list[dict]) -> dict[str, list[dict]]:
    """Rows grouped by stylizer (their `curve`, else their name), each group in strength order."""
    groups: dict[str, list[dict]] = {}
    for row in rows:
        if row["name"] not in COPIES:
            groups.setdefault(row.get("curve") or row["name"], []).append(row)
    return {name: sorted(group, key=lambda r: r.get("strength") or 0.0) for name, group in groups.items()}


def plot_tradeoff(payload: dict, path: Path, title: str | None = None) -> Path:
    """Write the plot of `payload['rows']` to `path` (PNG) and return it."""
    rows = payload["rows"]
    fig, ax = plt.subplots(figsize=(7.5, 5.2), dpi=110)
    for index, (name, group) in enumerate(curves(rows).items()):
        xs, ys = [style_moved(r) for r in group], [100 * r["content_class"] for r in group]
        ax.plot(xs, ys, marker="o", ms=4, lw=1.4, color=f"C{index % 10}", label=name)
        for row, x, y in zip(group, xs, ys, strict=True):
            strength = f"{row['strength']:g}: " if row.get("strength") is not None else ""
            ax.annotate(f"{strength}{row['fid']:.1f}", (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7, color=f"C{index % 10}")
    for row in rows:
        if row["name"] in COPIES:
            marker, label = COPIES[row["name"]]
            x, y = style_moved(row), 100 * row["content_class"]
            ax.plot([x], [y], marker=marker, ms=7, color="black", ls="none", label=f"{label} (FID {row['fid']:.2f})")
    ax.set_xlabel("style moved: 1 - Gram distance (0 = content's statistics, 1 = style's)")
    ax.set_ylabel("content kept: results in the content's class (%)")
    protocol = payload.get("protocol", {})
    ax.set_title(title or f"Style benchmark, {protocol.get('num_pairs', '?')} test pairs; labels: strength: FID", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
