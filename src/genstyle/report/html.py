"""A self-contained `report.html`: every image is embedded (base64), the sorting script is inline,
nothing is fetched, so the file opens from anywhere (mail it, copy it, open it offline)."""

from __future__ import annotations

import base64
import html
import math
from datetime import datetime
from pathlib import Path

from genstyle.report.runs import Run, configurations, curve, mean_std

SORT_JS = """
document.querySelectorAll('table.sortable').forEach(function (table) {
  table.querySelectorAll('th').forEach(function (th, col) {
    th.addEventListener('click', function () {
      var body = table.tBodies[0];
      var asc = th.getAttribute('data-dir') !== 'asc';
      table.querySelectorAll('th').forEach(function (h) { h.removeAttribute('data-dir'); });
      th.setAttribute('data-dir', asc ? 'asc' : 'desc');
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = a.cells[col].getAttribute('data-v'), y = b.cells[col].getAttribute('data-v');
        var nx = parseFloat(x), ny = parseFloat(y);
        if (isNaN(nx) || isNaN(ny)) {  /* text columns; empty numbers go last */
          if (isNaN(nx) !== isNaN(ny)) { return isNaN(nx) ? 1 : -1; }
          return asc ? String(x).localeCompare(String(y)) : String(y).localeCompare(String(x));
        }
        return asc ? nx - ny : ny - nx;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});
"""

CSS = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 1.6em; border-bottom: 1px solid #ccc; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-size: 12px; }
th, td { border: 1px solid #ddd; padding: 3px 6px; text-align: right; white-space: nowrap; }
th { background: #f0f0f0; cursor: pointer; position: sticky; top: 0; }
th[data-dir=asc]::after { content: " \\25B2"; } th[data-dir=desc]::after { content: " \\25BC"; }
td.text { text-align: left; }
tr.failed td { background: #fde8e8; } tr.incomplete td { background: #fff6dd; }
.grid { display: flex; flex-wrap: wrap; gap: 12px; }
figure { margin: 0; font-size: 11px; max-width: 260px; }
figure img { width: 100%; image-rendering: pixelated; border: 1px solid #ccc; }
.plots img { max-width: 600px; }
code { background: #f4f4f4; padding: 0 3px; }
"""


def data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def fmt(value: float | None) -> str:
    if value is None or not isinstance(value, (int, float)):
        return ""
    if math.isnan(value):
        return "nan"
    return f"{value:.4g}"


def num_cell(value: float | None, text: str | None = None) -> str:
    v = "" if value is None or (isinstance(value, float) and math.isnan(value)) else repr(float(value))
    return f'<td data-v="{v}">{html.escape(text if text is not None else fmt(value))}</td>'


def text_cell(text: str) -> str:
    return f'<td class="text" data-v="{html.escape(text, quote=True)}">{html.escape(text)}</td>'


def table(headers: list[str], rows: list[str], table_id: str) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    return f'<div class="scroll"><table class="sortable" id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>'


def configurations_table(runs: list[Run], keys: list[str]) -> str:
    rows = []
    for name, group in configurations(runs).items():
        done = [r for r in group if r.status == "done"]
        cells = [text_cell(name), num_cell(len(done), f"{len(done)}/{len(group)}")]
        for key in keys:
            mean, std, n = mean_std([r.metrics.get(key, math.nan) for r in done])
            cells.append(num_cell(mean if n else None, f"{fmt(mean)} ± {fmt(std)}" if n > 1 else (fmt(mean) if n else "")))
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return table(["configuration", "runs done", *keys], rows, "configurations")


def runs_table(runs: list[Run], keys: list[str]) -> str:
    rows = []
    for run in runs:
        cells = [text_cell(run.configuration), num_cell(run.seed if isinstance(run.seed, (int, float)) else None, str(run.seed)),
                 text_cell(run.status), text_cell(run.path.name)]
        cells += [num_cell(run.metrics.get(k)) for k in keys]
        rows.append(f'<tr class="{run.status}">{"".join(cells)}</tr>')
    return table(["configuration", "seed", "status", "directory", *keys], rows, "runs")


def stability_table(runs: list[Run]) -> str:
    """Final and worst (max) value of each stability/* key, and whether any loss became non-finite."""
    keys = sorted({k for r in runs for row in r.history for k in row if k.startswith("stability/") and not k.endswith("_step")})
    rows = []
    for run in runs:
        losses = [v for row in run.history for k, v in row.items() if "loss" in k]
        non_finite = any(v is None or (isinstance(v, float) and not math.isfinite(v)) for v in losses)
        cells = [text_cell(run.label), text_cell("yes" if non_finite else "no")]
        for key in keys:
            _, values = curve(run, key)
            cells += [num_cell(run.metrics.get(key)), num_cell(max(values) if values else None)]
        rows.append(f'<tr class="{run.status}">{"".join(cells)}</tr>')
    headers = ["run", "non-finite loss"] + [h for k in keys for h in (f"{k} (final)", f"{k} (max)")]
    return table(headers, rows, "stability")


def human_rating_section(runs: list[Run]) -> str:
    """Win rates from blind rating (rate.py score=...), one row per run and opponent; empty without any."""
    rows = []
    for run in runs:
        for c in run.human_rating or []:
            low, high = (c.get("ci95") or [None, None])[:2]
            rate = c.get("win_rate")
            rows.append("<tr>" + "".join([
                text_cell(run.label), text_cell(str(c.get("task", ""))), text_cell(str(c.get("opponent", ""))),
                num_cell(rate, f"{fmt(rate)} [{fmt(low)}, {fmt(high)}]"), num_cell(c.get("wins")), num_cell(c.get("losses")),
                num_cell(c.get("ties")), num_cell(c.get("p_value")), num_cell(c.get("raters")),
            ]) + "</tr>")
    if not rows:
        return ""
    headers = ["run", "task", "opponent", "win rate [95% CI]", "wins", "losses", "ties", "p (two-sided)", "raters"]
    return ("<h2>Human rating (blind pairs; ties excluded from the win rate)</h2>\n"
            + table(headers, rows, "human_rating") + "\n")


def render(runs: list[Run], keys: list[str], plots: list[Path], sources: list[Path], title: str) -> str:
    failed = [r for r in runs if r.status != "done"]
    failed_html = "".join(
        f"<li><code>{html.escape(str(r.path))}</code> — {html.escape(r.status)}: {html.escape(r.error or 'no metrics.json and no done marker (killed or still running)')}</li>"
        for r in failed
    ) or "<li>none</li>"
    samples = "".join(
        f'<figure><img alt="samples of {html.escape(r.label)}" src="{data_uri(r.samples)}">'
        f"<figcaption>{html.escape(r.label)}<br>{html.escape(r.samples.name)}</figcaption></figure>"
        for r in runs if r.samples is not None
    ) or "<p>No sample grids found.</p>"
    plot_html = "".join(f'<img alt="{html.escape(p.stem)}" src="{data_uri(p)}">' for p in plots) or "<p>No metric curves (runs shorter than two epochs).</p>"
    src = ", ".join(f"<code>{html.escape(str(s))}</code>" for s in sources)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<link rel="icon" href="data:,"><style>{CSS}</style></head>
<body>
<h1>{html.escape(title)}</h1>
<p>{len(runs)} runs from {src}; {len(runs) - len(failed)} finished, {len(failed)} failed or incomplete.
Generated {datetime.now().strftime('%Y-%m-%d %H:%M')}. Click a column header to sort.
Configuration = the overrides that differ between runs, without the seed.</p>
<h2>Configurations (mean ± std over seeds, finished runs)</h2>
{configurations_table(runs, keys)}
<h2>Runs (final metrics)</h2>
{runs_table(runs, keys)}
{human_rating_section(runs)}<h2>Failed runs</h2>
<ul id="failed">{failed_html}</ul>
<h2>Metric curves and final values</h2>
<div class="plots">{plot_html}</div>
<h2>Stability indicators</h2>
{stability_table(runs)}
<h2>Last sample grid of each run</h2>
<div class="grid" id="samples">{samples}</div>
<script>{SORT_JS}</script>
</body></html>
"""
