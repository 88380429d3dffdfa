"""The style benchmark's trade-off plot: rows of one stylizer join in strength order, the copies
are corners, not curves, and the PNG is written."""

from __future__ import annotations

from genstyle.report.style_curves import COPIES, curves, plot_tradeoff, style_moved


def row(name, gram, kept, fid, curve=None, strength=None):
    out = {"name": name, "gram_dist": gram, "content_class": kept, "fid": fid}
    return out | ({"curve": curve, "strength": strength} if curve else {})


def test_curves_group_by_stylizer_in_strength_order_and_leave_out_the_copies(tmp_path):
    rows = [
        row("copy content (reference)", 1.0, 0.94, 5.9), row("copy style (reference)", 0.0, 0.02, 9.4),
        row("adain, alpha 1", 0.6, 0.8, 40.0, "adain", 1.0), row("adain, alpha 0.25", 0.9, 0.9, 20.0, "adain", 0.25),
        row("cvae", 1.1, 0.7, 28.0),
    ]  # fmt: skip
    grouped = curves(rows)
    assert list(grouped) == ["adain", "cvae"] and not set(grouped) & set(COPIES)
    assert [r["strength"] for r in grouped["adain"]] == [0.25, 1.0]
    assert style_moved(rows[0]) == 0.0 and style_moved(rows[1]) == 1.0
    path = plot_tradeoff({"rows": rows, "protocol": {"num_pairs": 10, "network": "fmnist-independent"}}, tmp_path / "p.png")
    assert path.read_bytes().startswith(b"\x89PNG")
