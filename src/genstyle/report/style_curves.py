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


def _colour(index: int):
    """Twenty distinct colours (tab20), so a table of more than ten stylizers repeats none."""
    return plt.get_cmap("tab20").colors[(2 * index) % 20 + (2 * index) // 20 % 2]


def _draw(ax, rows: list[dict], labels: bool) -> None:
    for index, (name, group) in enumerate(curves(rows).items()):
        xs, ys = [style_moved(r) for r in group], [100 * r["content_class"] for r in group]
        ax.plot(xs, ys, marker="o", ms=4, lw=1.4, color=_colour(index), label=name)
        if not labels:
            continue
        for point, (row, x, y) in enumerate(zip(group, xs, ys, strict=True)):
            strength = f"{row['strength']:g}: " if row.get("strength") is not None else ""
            below = (index + point) % 2  # alternate above / below: neighbouring points' labels do not overlap
            ax.annotate(f"{strength}{row['fid']:.1f}", (x, y), textcoords="offset points", xytext=(5, -11 if below else 4),
                        fontsize=7, color=_colour(index))  # fmt: skip
    for row in rows:
        if row["name"] in COPIES:
            marker, label = COPIES[row["name"]]
            ax.plot([style_moved(row)], [100 * row["content_class"]], marker=marker, ms=7, color="black", ls="none",
                    label=f"{label} (FID {row['fid']:.2f})")  # fmt: skip
    ax.grid(alpha=0.3)


def plot_tradeoff(payload: dict, path: Path, title: str | None = None) -> Path:
    """Write the plot of `payload['rows']` to `path` (PNG) and return it: on the left the whole
    square with the copies at its corners, on the right the stylizers' points close up, each
    labelled `strength: FID`."""
    rows = payload["rows"]
    fig, (full, zoom) = plt.subplots(1, 2, figsize=(11, 4.8), dpi=110)
    _draw(full, rows, labels=False)
    _draw(zoom, [r for r in rows if r["name"] not in COPIES], labels=True)
    points = [(style_moved(r), 100 * r["content_class"]) for r in rows if r["name"] not in COPIES]
    if points:
        xs, ys = zip(*points, strict=True)
        pad_x, pad_y = max(0.02, 0.15 * (max(xs) - min(xs))), max(2.0, 0.15 * (max(ys) - min(ys)))
        zoom.set_xlim(min(xs) - pad_x, max(xs) + 2 * pad_x)
        zoom.set_ylim(min(ys) - pad_y, max(ys) + pad_y)
    for ax in (full, zoom):
        ax.set_xlabel("style moved: 1 - Gram distance (0 = content's, 1 = style's)", fontsize=8)
    full.set_ylabel("content kept: results in the content's class (%)", fontsize=8)
    handles, names = full.get_legend_handles_labels()
    zoom.set_title("the stylizers close up; labels: strength: FID", fontsize=8)
    protocol = payload.get("protocol", {})
    network = f", scored in {protocol['network']}" if "network" in protocol else ""
    full.set_title(title or f"Style benchmark, {protocol.get('num_pairs', '?')} test pairs{network}", fontsize=8)
    # the legend below both plots: inside one, a long legend hides the points near the bottom
    legend_rows = (len(names) + 1) // 2
    fig.set_size_inches(11, 4.8 + 0.16 * legend_rows)
    fig.tight_layout(rect=(0, 0.035 * legend_rows, 1, 1))
    fig.legend(handles, names, loc="lower center", ncol=2, fontsize=7)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
