"""The report page's interaction heatmap, top pairs, interaction mass and dependence plots.

Everything is laid out from the typed report (:class:`xai_cli.report.Report`): the
``effects`` section (``treeshap.interactions``, ``partial_dependence``) and the per-row values of
``local``. Nothing
is recomputed; this module only orders, scales and colours. The template
(``report_interactions.html.j2``) draws inline SVG with no script, and Jinja2 autoescapes every
feature name and category label.

Dependence plots show, for the top features, each kept row's SHAP value against the feature's
value (a categorical feature as one labelled strip per category), coloured by the feature it
interacts with most when the interactions were computed (grey otherwise). Partial dependence
plots (any model, from ``partial_dependence``) draw the kept rows' ICE lines and their mean.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from xai_cli.report import Report

HEATMAP_FEATURES = 20
PAIRS_SHOWN = 10
MASS_FEATURES = 15
DEPENDENCE_FEATURES = 10
"""At 1,000 kept rows, ten plots add about 0.6 MB to the page (size budget: 2 MB)."""
CATEGORY_COLOURS = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948",
                    "#b07aa1", "#9c755f")  # fmt: skip
COLOUR_STEPS = 11
WIDTH, HEIGHT, LEFT, BOTTOM, TOP, RIGHT = 360, 230, 52, 40, 14, 12


def _fmt(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}g}"


def _interactions(report: Report) -> Any:
    return report.effects.interactions if report.effects is not None else None


def _pd_plots(report: Report) -> list[dict[str, Any]]:
    """Partial dependence (thick) and ICE lines (thin) of each kept curve, numbers as polylines."""
    sec = report.effects.partial_dependence if report.effects is not None else None
    if sec is None:
        return []
    pw, ph = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    plots = []
    for c in sec.curves:
        grid = [g for g in c.grid if g is not None]
        if len(grid) != len(c.grid) or not grid:
            continue
        ys = [v for line in (c.pd, *c.ice) for v in line if v is not None]
        ylo, yhi = min(ys), max(ys)
        pad = (yhi - ylo) * 0.05 or 1.0
        ylo, yhi = ylo - pad, yhi + pad
        k = len(grid)
        xlo, xhi = (-0.5, k - 0.5) if c.labels else (min(grid), max(grid))
        if xhi <= xlo:
            xlo, xhi = xlo - 1, xhi + 1

        def px(x: float, xlo: float = xlo, xhi: float = xhi) -> float:
            return round(LEFT + (x - xlo) / (xhi - xlo) * pw, 1)

        def py(y: float, ylo: float = ylo, yhi: float = yhi) -> float:
            return round(TOP + (yhi - y) / (yhi - ylo) * ph, 1)

        def line(values: tuple[float | None, ...], grid: list[float] = grid) -> str:
            return " ".join(f"{px(x)},{py(y)}" for x, y in zip(grid, values, strict=True)
                            if y is not None)  # fmt: skip

        xticks = ([{"x": px(i), "text": label} for i, label in enumerate(c.labels)] if c.labels
                  else [{"x": px(t), "text": _fmt(t)} for t in _ticks(xlo, xhi)])  # fmt: skip
        plots.append({
            "feature": c.feature, "pd": line(c.pd), "ice": [line(v) for v in c.ice],
            "xticks": xticks, "categorical": bool(c.labels),
            "yticks": [{"y": py(t), "text": _fmt(t)} for t in _ticks(ylo, yhi)],
            "width": WIDTH, "height": HEIGHT, "left": LEFT, "right": WIDTH - RIGHT,
            "bottom": HEIGHT - BOTTOM, "top": TOP,
        })
    return plots


def _heat(t: float) -> str:
    """White to deep purple for ``t`` in [0, 1]."""
    t = min(1.0, max(0.0, t)) ** 0.6
    a, b = (250, 250, 252), (84, 39, 143)
    mixed = (round(x + (y - x) * t) for x, y in zip(a, b, strict=True))
    return "#{:02x}{:02x}{:02x}".format(*mixed)


def _heatmap(report: Report) -> dict[str, Any]:
    sec = _interactions(report)
    assert sec is not None
    feats = list(sec.features[:HEATMAP_FEATURES])
    n = len(feats)
    off = [v for i, row in enumerate(sec.matrix) for j, v in enumerate(row) if i != j and v]
    top_off = max(off, default=0.0) or 1.0
    top_diag = max((sec.matrix[i][i] or 0.0 for i in range(n)), default=0.0) or 1.0
    longest = max((min(len(f), 24) for f in feats), default=4)
    left = 12 + 6.4 * longest
    cell = max(18, min(40, int(560 / max(1, n))))
    cells = []
    for i, fi in enumerate(feats):
        for j, fj in enumerate(feats):
            v = sec.matrix[i][j]
            colour = "#eeeeee" if v is None else _heat(v / (top_diag if i == j else top_off))
            what = "main effect" if i == j else "interaction"
            cells.append({
                "x": left + j * cell, "y": 8 + i * cell, "fill": colour, "diag": i == j,
                "title": f"{fi} × {fj}: mean |{what}| {_fmt(v)}" if i != j
                else f"{fi}: mean |main effect| {_fmt(v)}",
            })
    return {
        "cells": cells, "cell": cell, "left": left, "labels": feats,
        "width": left + n * cell + 8, "height": 8 + n * cell + 8 + 6.0 * longest,
    }


def _quantile_steps(values: list[float | None]) -> tuple[float, float]:
    raw = sorted(v for v in values if v is not None)
    if not raw:
        return 0.0, 0.0
    lo, hi = raw[int(0.05 * (len(raw) - 1))], raw[int(0.95 * (len(raw) - 1))]
    return (raw[0], raw[-1]) if hi <= lo else (lo, hi)


def _ticks(lo: float, hi: float, count: int = 4) -> list[float]:
    raw = (hi - lo) / max(1, count)
    mag = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step) * step
    return [round(first + i * step, 12) for i in range(int((hi - first) / step + 1e-9) + 1)]


def _dependence(report: Report) -> list[dict[str, Any]]:
    """One plot per top feature of ``report.local`` (first output, as the beeswarm)."""
    local = report.local
    if local is None:
        return []
    sec = _interactions(report)
    cats = dict(sec.categories) if sec is not None else {}
    partners = {f.feature: f.partner for f in sec.per_feature} if sec is not None else {}
    ranks = {r.feature: r.rank for r in report.importances
             if r.method == local.method and r.output == "all"}  # fmt: skip
    index = {f: i for i, f in enumerate(local.features)}
    chosen = sorted(local.features, key=lambda f: (ranks.get(f, math.inf), index[f]))
    plots = []
    pw, ph = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    for name in chosen[:DEPENDENCE_FEATURES]:
        i = index[name]
        ys = [row[i][0] for row in local.values]
        xs = [d[i] for d in local.data]
        labels = cats.get(name)
        pts = [(x, y, n) for n, (x, y) in enumerate(zip(xs, ys, strict=True))
               if x is not None and y is not None]  # fmt: skip
        if not pts:
            continue
        ylo, yhi = min(0.0, *(p[1] for p in pts)), max(0.0, *(p[1] for p in pts))
        pad = (yhi - ylo) * 0.05 or 1.0
        ylo, yhi = ylo - pad, yhi + pad
        if labels:
            k = max(1, len(labels))

            def px(x: float, n: int, k: int = k) -> float:
                jitter = ((n * 2654435761) % 1000 / 1000 - 0.5) * 0.6  # deterministic spread
                return LEFT + (x + 0.5 + jitter) / k * pw

            xticks = [{"x": round(LEFT + (c + 0.5) / k * pw, 1), "text": label}
                      for c, label in enumerate(labels)]  # fmt: skip
        else:
            xlo, xhi = min(p[0] for p in pts), max(p[0] for p in pts)
            if xhi <= xlo:
                xlo, xhi = xlo - 1, xhi + 1

            def px(x: float, n: int, xlo: float = xlo, xhi: float = xhi) -> float:
                return LEFT + (x - xlo) / (xhi - xlo) * pw

            xticks = [{"x": round(px(t, 0), 1), "text": _fmt(t)} for t in _ticks(xlo, xhi)]

        def py(y: float, ylo: float = ylo, yhi: float = yhi) -> float:
            return TOP + (yhi - y) / (yhi - ylo) * ph

        partner = partners.get(name)
        colour_of = _colours(local, index, partner, cats)
        points = [(round(px(x, n), 1), round(py(y), 1), colour_of(n)) for x, y, n in pts]
        plots.append({
            "feature": name, "partner": partner if partner in index else None,
            "categorical": bool(labels), "points": points, "xticks": xticks,
            "yticks": [{"y": round(py(t), 1), "text": _fmt(t)} for t in _ticks(ylo, yhi)],
            "zero": round(py(0.0), 1), "width": WIDTH, "height": HEIGHT, "left": LEFT,
            "right": WIDTH - RIGHT, "bottom": HEIGHT - BOTTOM, "top": TOP,
            "partner_labels": [(label, CATEGORY_COLOURS[c % len(CATEGORY_COLOURS)])
                               for c, label in enumerate(cats.get(partner or "", ()))][:8],
        })
    return plots


def _colours(local: Any, index: dict[str, int], partner: str | None,
             cats: dict[str, tuple[str, ...]]) -> Any:
    """Row -> CSS class: the partner's value on the low-high scale (``q0``-``q10``), its
    category (``c0``-``c7``), ``qn`` for a missing value, ``qg`` when there is no partner."""
    if partner is None or partner not in index:
        return lambda n: "qg"
    j = index[partner]
    values = [d[j] for d in local.data]
    if partner in cats:
        return lambda n: "qn" if values[n] is None else f"c{int(values[n]) % 8}"
    lo, hi = _quantile_steps(values)

    def step(n: int) -> str:
        v = values[n]
        if v is None:
            return "qn"
        if hi <= lo:
            return f"q{COLOUR_STEPS // 2}"
        return f"q{round(min(1.0, max(0.0, (v - lo) / (hi - lo))) * (COLOUR_STEPS - 1))}"

    return step


def context(report: Report) -> dict[str, Any] | None:
    """What ``report_interactions.html.j2`` draws; ``None`` when there is nothing to draw."""
    sec = _interactions(report)
    dependence = _dependence(report)
    pd_plots = _pd_plots(report)
    if sec is None and not dependence and not pd_plots:
        return None
    out: dict[str, Any] = {"section": sec, "dependence": dependence, "pd": pd_plots,
                           "category_colours": CATEGORY_COLOURS}  # fmt: skip
    if sec is not None:
        out["heatmap"] = _heatmap(report)
        top = max((p.mean_abs or 0.0 for p in sec.pairs), default=0.0) or 1.0
        out["pairs"] = [{"pair": p, "bar": round(120 * (p.mean_abs or 0.0) / top, 1)}
                        for p in sec.pairs[:PAIRS_SHOWN]]  # fmt: skip
        ranked = sorted(sec.per_feature,
                        key=lambda f: -((f.main_effect or 0.0) + (f.interaction or 0.0)))
        out["mass"] = [{"f": f, "bar": round(120 * (f.mass or 0.0), 1)}
                       for f in ranked[:MASS_FEATURES]]  # fmt: skip
    return out
