"""The HTML report's "Why these rows?" and "Model quality" sections: layout only.

For each chosen row: the prediction, a table of every method's attribution side by side with the
row's raw values, how far the methods agree on the row, and one waterfall per method as inline SVG
(from the base value, the largest contributions first, to the output). Every string is escaped by
Jinja2's autoescaping in ``_rows.html.j2``; this module only computes positions and text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from xai_cli.reports.waterfall import Waterfall, waterfall

if TYPE_CHECKING:
    from xai_cli.report import Report
    from xai_cli.report_rows import RowEntry, RowsSection

MAX_HTML_ROWS = 20
"""Chosen rows drawn in the page (``local.csv`` and ``report.json`` hold every one)."""
TABLE_FEATURES = 15
"""Features in each row's side-by-side table (largest |attribution| over the methods first)."""
WIDTH, LABEL_W, VALUE_W, STEP_H, TOP = 520, 190, 56, 22, 26


def _fmt(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}g}"


def _svg(w: Waterfall) -> dict[str, Any]:
    """Geometry of one waterfall: a bar per step, base and output marked on the axis."""
    lo, hi = w.low, w.high
    pad = (hi - lo) * 0.06 or 0.5
    lo, hi = lo - pad, hi + pad
    plot_w = WIDTH - LABEL_W - VALUE_W - 8

    def x(v: float) -> float:
        return round(LABEL_W + (v - lo) / (hi - lo) * plot_w, 1)

    bars = []
    for n, s in enumerate(w.steps):
        x1, x2 = sorted((x(s.start), x(s.end)))
        y = TOP + n * STEP_H
        bars.append({
            "y": y, "x": x1, "w": max(1.0, round(x2 - x1, 1)), "label": s.label,
            "up": s.contribution >= 0, "text": f"{s.contribution:+.3g}",
            "tx": x2 + 4, "title": f"{s.label}: {s.contribution:+.4g} ({s.start:.4g} → "
            f"{s.end:.4g})",
        })  # fmt: skip
    bottom = TOP + len(w.steps) * STEP_H
    return {
        "width": WIDTH,
        "height": bottom + 34,
        "bars": bars,
        "bottom": bottom,
        "base_x": x(w.base),
        "total_x": x(w.total),
        "base": _fmt(w.base, 4),
        "total": _fmt(w.total, 4),
        "left": LABEL_W,
        "right": LABEL_W + plot_w,
        "method": w.method,
        "unit": w.unit.split(":", 1)[-1],
        "output": w.output,
    }


def _side_by_side(section: RowsSection, row: RowEntry) -> dict[str, Any]:
    """The row's features (largest |attribution| over methods first) with each method's value."""
    k = section.outputs.index(row.shown_output) if row.shown_output in section.outputs else 0
    weight = [
        max((abs(m.values[i][k] or 0.0) for m in row.methods), default=0.0)
        for i in range(len(section.features))
    ]
    order = sorted(range(len(weight)), key=lambda i: -weight[i])[:TABLE_FEATURES]
    top = max(weight, default=0.0) or 1.0
    lines = []
    for i in order:
        cells = []
        for m in row.methods:
            v = m.values[i][k]
            cells.append({
                "text": _fmt(v), "bar": 0 if v is None else round(40 * abs(v) / top, 1),
                "up": v is not None and v >= 0,
            })  # fmt: skip
        value = row.values[i]
        lines.append({"feature": section.features[i], "value": value, "cells": cells})
    return {"lines": lines, "shown": len(order), "total": len(section.features)}


def rows_view(report: Report) -> dict[str, Any] | None:
    """Everything ``_rows.html.j2`` draws, or ``None`` when no rows were chosen."""
    section = report.rows
    if section is None:
        return None
    unlisted = len(report.features) - len(section.features)
    rows = []
    for row in section.rows[:MAX_HTML_ROWS]:
        falls = [waterfall(section, row, m, unlisted=unlisted) for m in row.methods]
        probs = []
        if row.probabilities is not None:
            probs = [
                {"label": label, "p": _fmt(p, 3)}
                for label, p in zip(section.class_labels, row.probabilities, strict=False)
            ]
        rows.append({
            "entry": row,
            "probs": probs,
            "methods": [m.method for m in row.methods],
            "table": _side_by_side(section, row),
            "agreement": [a for a in row.agreement if a.output == row.shown_output],
            "falls": [_svg(w) for w in falls],
        })  # fmt: skip
    return {
        "section": section,
        "rows": rows,
        "more": max(0, len(section.rows) - MAX_HTML_ROWS),
        "fmt": _fmt,
    }


def metrics_view(report: Report) -> dict[str, Any] | None:
    """The metrics card's lines: (name, value text, what it means)."""
    m = report.metrics
    if m is None:
        return None
    if m.task == "regression":
        lines = [
            ("R²", _fmt(m.r2, 4), "share of the target's variance the model explains"),
            ("RMSE", _fmt(m.rmse, 4), "root mean squared error, in the target's unit"),
            ("MAE", _fmt(m.mae, 4), "mean absolute error, in the target's unit"),
            ("Target mean", _fmt(m.base_rate, 4), "what always predicting the mean would say"),
        ]
    else:
        lines = [
            ("Accuracy", _fmt(m.accuracy, 4), "share of rows whose most likely class is right"),
            ("ROC AUC", _fmt(m.roc_auc, 4),
             "positive class" if m.task == "binary" else "macro mean of one-vs-rest AUCs"),
            ("Log loss", _fmt(m.log_loss, 4), "lower is better; penalises confident mistakes"),
            ("Base rate", _fmt(m.base_rate, 4),
             "positive class's share" if m.task == "binary" else "largest class's share"),
        ]  # fmt: skip
    return {"metrics": m, "lines": lines, "fmt": _fmt}
