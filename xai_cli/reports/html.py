"""``report.html``: one self-contained page (inline CSS and SVG, no script, no network request).

Every number comes from the typed report (:class:`xai_cli.report.Report`); this module only arranges
it: it orders features, scales values to pixels, picks colours and lays out the beeswarm dots.
Every user-supplied string (feature, class and method names, paths, reasons, notes) goes through
Jinja2's autoescaping, and a Content-Security-Policy forbids scripts and remote loads, so a hostile
name is shown as text.
"""

from __future__ import annotations

import math
from statistics import median
from typing import TYPE_CHECKING, Any

import markupsafe

from xai_cli.reports import interactions_html
from xai_cli.reports.jinja import ENV
from xai_cli.reports.rows_html import metrics_view, rows_view
from xai_cli.reports.stability import GAP_TEXT, interval_gaps
from xai_cli.reports.validation import matrix

if TYPE_CHECKING:
    from xai_cli.report import AgreementEntry, RankIntervalEntry, Report

MAX_FEATURES = 20
"""Tables and plots show at most this many features (best mean rank first)."""
BEESWARM_FEATURES = 10
SPREAD_ROWS = 10
COLOUR_STEPS = 11
LOW, MID, HIGH = (30, 136, 229), (124, 82, 199), (255, 0, 82)


RGB = tuple[int, int, int]


def _wbr(text: str) -> markupsafe.Markup:
    """``text`` escaped, with line-break chances after ``.``, ``_`` and ``:`` (for headers)."""
    out = str(markupsafe.escape(text))  # entities contain none of . _ :
    for sep in ".:_":
        out = out.replace(sep, sep + "<wbr>")
    return markupsafe.Markup(out)


ENV.filters["wbr"] = _wbr


def _hex(c: RGB) -> str:
    return "#{:02x}{:02x}{:02x}".format(*c)


def _mix(a: RGB, b: RGB, t: float) -> RGB:
    t = min(1.0, max(0.0, t))
    return (
        round(a[0] + (b[0] - a[0]) * t),
        round(a[1] + (b[1] - a[1]) * t),
        round(a[2] + (b[2] - a[2]) * t),
    )


def _ink(c: RGB) -> str:
    """Black or white text, whichever reads better on background ``c``."""
    return "#111" if 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2] > 150 else "#fff"


def _fmt(value: float | None, digits: int = 3) -> str:
    """A short number for display; ``None`` (undefined) becomes an en dash."""
    return "–" if value is None else f"{value:.{digits}g}"


def _pct(share: float | None) -> str:
    return "–" if share is None else f"{share * 100:.1f}%"


def _nice_ticks(lo: float, hi: float, count: int = 6) -> list[float]:
    """Round tick values covering ``[lo, hi]``."""
    raw = (hi - lo) / max(1, count)
    mag = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step) * step
    return [round(first + i * step, 12) for i in range(int((hi - first) / step + 1e-9) + 1)]


def _importance_table(report: Report, methods: list[str]) -> dict[str, Any]:
    """Features (top ``MAX_FEATURES`` by mean pooled rank) by method: share, rank and bar width."""
    pooled = {(r.method, r.feature): r for r in report.importances if r.output == "all"}
    order = {f: i for i, f in enumerate(report.features)}

    def mean_rank(feature: str) -> float:
        ranks = [pooled[(m, feature)].rank for m in methods if (m, feature) in pooled]
        return sum(ranks) / len(ranks) if ranks else math.inf

    features = sorted(report.features, key=lambda f: (mean_rank(f), order[f]))[:MAX_FEATURES]
    top = (
        max(
            (
                abs(pooled[(m, f)].share or 0)
                for m in methods
                for f in features
                if (m, f) in pooled
            ),
            default=0,
        )
        or 1.0
    )
    consensus = set(report.consensus)
    rows = []
    for f in features:
        cells = []
        for m in methods:
            r = pooled.get((m, f))
            share = r.share if r else None
            cells.append(
                {
                    "share": _pct(share),
                    "rank": r.rank if r else "–",
                    "bar": 0 if share is None else round(44 * abs(share) / top, 1),
                    "negative": share is not None and share < 0,
                    "title": ""
                    if r is None
                    else f"{m}: value {_fmt(r.value, 4)}"
                    + ("" if r.spread is None else f" ± {_fmt(r.spread, 3)}")
                    + f", share {_pct(share)}, rank {r.rank}",
                }
            )
        mr = mean_rank(f)
        rows.append(
            {
                "feature": f,
                "mean_rank": "–" if math.isinf(mr) else f"{mr:.1f}",
                "consensus": f in consensus,
                "cells": cells,
            }
        )
    return {"rows": rows, "shown": len(features), "total": len(report.features)}


def _agreement(report: Report, methods: list[str]) -> dict[str, Any]:
    """Spearman and top-k Jaccard heatmaps (class ``all``) and the one-line summary."""
    pairs: dict[tuple[str, str], AgreementEntry] = {}
    for a in report.agreement:
        if a.output == "all":
            pairs[(a.method_a, a.method_b)] = pairs[(a.method_b, a.method_a)] = a
    n = len(methods)
    longest = max((len(m) for m in methods), default=4)
    left, top = 14 + 6.6 * longest, 14 + 4.9 * longest  # room for the (rotated) method names
    last = 4.7 * len(methods[-1]) + 6 if methods else 0
    cell = min(56, max(34, int((536 - left - last) / max(1, n - 0.5))))  # two maps side by side
    right = max(0.0, last - cell / 2)
    maps = []
    for key, title in (
        ("spearman", "Spearman rank correlation"),
        ("topk_jaccard", f"Top-{report.top_k} overlap (Jaccard)"),
    ):
        cells = []
        for i, mi in enumerate(methods):
            for j, mj in enumerate(methods):
                a = pairs.get((mi, mj))
                value = 1.0 if i == j else (getattr(a, key) if a else None)
                if value is None:
                    colour: RGB = (230, 230, 230)
                elif key == "spearman":
                    colour = _mix(
                        (247, 247, 247), (33, 102, 172) if value >= 0 else (178, 24, 43), abs(value)
                    )
                else:
                    colour = _mix((247, 247, 247), (27, 120, 55), value)
                tip = f"{mi} vs {mj}: " + (
                    "same method"
                    if i == j
                    else "no common output"
                    if not a
                    else f"Spearman {_fmt(a.spearman)}, Kendall "
                    f"{_fmt(a.kendall)}, top-{report.top_k} Jaccard "
                    f"{_fmt(a.topk_jaccard)}"
                )
                cells.append(
                    {
                        "x": left + j * cell,
                        "y": top + i * cell,
                        "fill": _hex(colour),
                        "ink": _ink(colour),
                        "text": "n/a" if value is None else f"{value:.2f}",
                        "title": tip,
                    }
                )
        maps.append(
            {
                "id": f"{key.replace('_', '-')}-heatmap",
                "title": title,
                "cells": cells,
                "cell": cell,
                "left": left,
                "top": top,
                "width": left + n * cell + right + 4,
                "height": top + n * cell + 8,
            }
        )
    values = [(a.spearman, a.method_a, a.method_b) for a in report.agreement if a.output == "all"]
    defined = sorted((v for v in values if v[0] is not None), key=lambda v: v[0])
    summary = None
    if defined:
        summary = {
            "lowest": f"{defined[0][0]:.2f}",
            "pair": defined[0][1:],
            "median": f"{median(v[0] for v in defined):.2f}",
            "pairs": len(values),
            "undefined": len(values) - len(defined),
        }
    return {"methods": methods, "maps": maps if n > 1 else [], "summary": summary}


def _step(value: float | None, lo: float, hi: float) -> str:
    """Colour class of a feature value: ``0`` (low) to ``COLOUR_STEPS - 1`` (high), ``n`` = null."""
    if value is None:
        return "n"
    if hi <= lo:
        return str(COLOUR_STEPS // 2)
    return str(round(min(1.0, max(0.0, (value - lo) / (hi - lo))) * (COLOUR_STEPS - 1)))


CATEGORY_COLOURS = (
    "#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#edc948",
    "#76b7b2", "#e15759", "#9c755f", "#ff9da7", "#bab0ac",
)  # fmt: skip
"""Colours of a categorical feature's categories (Tableau 10); past ten they repeat, and a
category beyond the report's listed labels is drawn grey (``cx``)."""


def _category_class(value: float | None, codes: dict[float, int]) -> str:
    """The dot class of a categorical value: ``c<i>`` for its category, ``qn`` when missing."""
    if value is None:
        return "qn"
    index = codes.get(value)
    return "cx" if index is None else f"c{index % len(CATEGORY_COLOURS)}"


def _beeswarm(report: Report) -> dict[str, Any] | None:
    """Beeswarm dots for the top features of ``report.local`` (first output only, no randomness)."""
    local = report.local
    if local is None:
        return None
    feats, outputs, out = local.features, local.outputs, 0
    cols = [[row[i][out] for row in local.values] for i in range(len(feats))]
    shown_output = outputs[out] if len(outputs) > 1 else "all"
    ranks = {
        r.feature: r.rank
        for r in report.importances
        if r.method == local.method and r.output == shown_output
    }
    imp: dict[str, float] = {f: ranks[f] for f in feats if f in ranks}
    if len(imp) != len(feats):  # no matching table: order by mean |value| of the shown output
        means = [sum(abs(v) for v in c if v is not None) / max(1, len(c)) for c in cols]
        imp = {f: -means[i] for i, f in enumerate(feats)}
    chosen = sorted(range(len(feats)), key=lambda i: (imp[feats[i]], i))[:BEESWARM_FEATURES]
    shown = [v for i in chosen for v in cols[i] if v is not None]
    lo, hi = min(shown + [0.0]), max(shown + [0.0])
    pad = (hi - lo) * 0.04 or 1.0
    lo, hi = lo - pad, hi + pad
    width, left, right, row_h, top = 1000, 230, 80, 38, 10
    plot_w = width - left - right

    def px(v: float) -> float:
        return left + (v - lo) / (hi - lo) * plot_w

    categories = {c.feature: c for c in report.categories}
    r, points, labels, legends = 2.4, [], [], []
    for k, i in enumerate(chosen):
        cy0 = top + k * row_h + row_h / 2
        cat = categories.get(feats[i])
        labels.append({"y": cy0, "name": feats[i], "categorical": cat is not None})
        codes = {} if cat is None else {code: n for n, code in enumerate(cat.codes)}
        if cat is not None:
            legends.append({
                "feature": feats[i], "more": cat.more,
                "entries": [(f"c{n % len(CATEGORY_COLOURS)}", label)
                          for n, label in enumerate(cat.labels)],
            })  # fmt: skip
        raw = sorted(v for d in local.data if (v := d[i]) is not None)
        vlo = raw[int(0.05 * (len(raw) - 1))] if raw else 0.0
        vhi = raw[int(0.95 * (len(raw) - 1))] if raw else 0.0
        if vhi <= vlo and raw:
            vlo, vhi = raw[0], raw[-1]
        bins: dict[int, list[tuple[float, int]]] = {}
        for n, v in enumerate(cols[i]):
            if v is not None:
                bins.setdefault(round(px(v) / (r * 1.6)), []).append((px(v), n))
        for members in bins.values():
            layers = max(1, math.ceil((len(members) - 1) / 2))
            dy = min(r * 1.7, (row_h / 2 - r - 3) / layers)
            for j, (x, n) in enumerate(sorted(members)):
                offset = (j + 1) // 2 * dy * (1 if j % 2 else -1)
                value = local.data[n][i]
                colour = (
                    _category_class(value, codes) if cat is not None
                    else "q" + _step(value, vlo, vhi)
                )  # fmt: skip
                points.append((round(x, 1), round(cy0 + offset, 1), colour))
    height = top + len(chosen) * row_h
    palette = [
        _hex(_mix(LOW, MID, 2 * t) if t <= 0.5 else _mix(MID, HIGH, 2 * t - 1))
        for t in (s / (COLOUR_STEPS - 1) for s in range(COLOUR_STEPS))
    ]
    unit = local.unit.split(":", 1)[-1]
    return {
        "width": width,
        "height": height + 46,
        "plot_bottom": height,
        "left": left,
        "right_edge": left + plot_w,
        "zero": px(0.0),
        "labels": labels,
        "points": points,
        "ticks": [{"x": px(t), "text": _fmt(t)} for t in _nice_ticks(lo, hi)],
        "palette": palette,
        "category_colours": CATEGORY_COLOURS,
        "legends": legends,
        "unit": unit,
        "output": outputs[out],
        "outputs": len(outputs),
        "rows": local.rows,
        "rows_total": local.rows_total,
        "method": local.method,
        "shown": len(chosen),
        "total": len(report.features),
    }


def _rank_spread(report: Report, methods: list[str]) -> list[dict[str, Any]]:
    """The ``SPREAD_ROWS`` features whose rank varies most between methods, with strip positions."""
    n = max(2, len(report.features))

    def x(rank: int) -> float:
        return 8 + (rank - 1) / (n - 1) * 184

    return [
        {
            "entry": s,
            "x1": x(s.best_rank),
            "x2": x(s.worst_rank),
            "dots": [{"x": x(rk), "title": f"{m}: rank {rk}"} for m, rk in s.ranks.items()],
        }
        for s in [s for s in report.rank_spread if s.spread > 0][:SPREAD_ROWS]
    ]


def _rank_stability(report: Report, features: list[str]) -> dict[str, Any]:
    """Each shown feature's bootstrap rank interval per method, as text and a strip position."""
    by_method: dict[str, dict[str, RankIntervalEntry]] = {}
    for r in report.rank_intervals:
        by_method.setdefault(r.method, {})[r.feature] = r
    n = max(2, len(report.features))

    def x(rank: int) -> float:
        return round(4 + (rank - 1) / (n - 1) * 72, 1)

    rows = []
    for f in features:
        cells = []
        for intervals in by_method.values():
            r = intervals.get(f)
            cells.append(
                None
                if r is None
                else {
                    "rank": r.rank,
                    "range": f"{r.low}–{r.high}" if r.high != r.low else "stable",
                    "x": x(r.rank),
                    "x1": x(r.low),
                    "x2": x(r.high),
                    "wide": r.high - r.low >= 3,
                }
            )
        rows.append({"feature": f, "cells": cells})
    first = [next(iter(v.values())) for v in by_method.values()]
    return {
        "methods": [
            {"method": m, "resamples": r.resamples, "rows": r.rows}
            for m, r in zip(by_method, first, strict=True)
        ],
        "rows": rows,
        "gaps": [(GAP_TEXT[k], v) for k, v in interval_gaps(report).items() if v],
    }


def render(report: Report) -> str:
    """The whole report as one HTML page (the template reads the typed report as ``doc``)."""
    ok = report.ok_methods()
    names = [m.method for m in ok]
    table = _importance_table(report, names)
    context = {
        "table": table,
        "doc": report,
        "prov": report.provenance,
        "ok": ok,
        "not_ok": [m for m in report.methods if m.status != "ok"],
        "agreement": _agreement(report, names),
        "spread": _rank_spread(report, names),
        "stability": _rank_stability(report, [r["feature"] for r in table["rows"]]),
        "bees": _beeswarm(report),
        "spread_rows": SPREAD_ROWS,
        "fmt": _fmt,
        "rows_view": rows_view(report),
        "metrics_view": metrics_view(report),
        "interactions": interactions_html.context(report),
        "validation": report.validation,
        "validation_matrix": None if report.validation is None else matrix(report.validation),
    }
    return ENV.get_template("report.html.j2").render(**context)
