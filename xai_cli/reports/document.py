"""The report document: one JSON-safe dict that every renderer works from.

It holds every number a report shows, so renderers recompute nothing and a saved ``report.json``
is enough to re-render any format. Per-row SHAP values are kept for a bounded, seeded sample of
rows (for the beeswarm plot), not for every row.
"""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import Any

import numpy as np

from xai_cli import SCHEMA_VERSION, __version__
from xai_cli.results import ExplainResult, LocalAttribution

LOCAL_SAMPLE_ROWS = 1000
"""At most this many rows of per-row values go into the document."""

Document = dict[str, Any]


def _num(value: float | None, digits: int = 8) -> float | None:
    """A JSON-safe float: NaN and infinities become ``None``; rounded to significant digits."""
    if value is None or not math.isfinite(value):
        return None
    return float(f"{value:.{digits}g}")


def _matrix(array: np.ndarray, digits: int = 6) -> list[Any]:
    if array.ndim == 1:
        return [_num(float(v), digits) for v in array]
    return [_matrix(row, digits) for row in array]


def _local_section(local: LocalAttribution, seed: int) -> dict[str, Any]:
    n = local.values.shape[0]
    rows = np.arange(n)
    if n > LOCAL_SAMPLE_ROWS:
        rows = np.sort(np.random.default_rng(seed).choice(n, LOCAL_SAMPLE_ROWS, replace=False))
    return {
        "method": local.method,
        "unit": local.unit,
        "features": list(local.features),
        "outputs": list(local.outputs),
        "rows_total": int(n),
        "rows": int(len(rows)),
        "values": _matrix(local.values[rows]),
        "base_values": _matrix(local.base_values[rows]),
        "data": _matrix(local.data[rows]),
    }


def build_document(result: ExplainResult) -> Document:
    """Turn a run's result into the report document (schema ``SCHEMA_VERSION``)."""
    prov = result.provenance
    methods = []
    for outcome in result.outcomes:
        entry: dict[str, Any] = {
            "method": outcome.method,
            "status": outcome.status,
            "reason": outcome.reason,
            "unit": outcome.table.unit if outcome.table else None,
            "outputs": list(outcome.table.outputs) if outcome.table else [],
            "params": dict(outcome.table.params) if outcome.table else {},
            "spread_kind": outcome.table.spread_kind if outcome.table else None,
        }
        if outcome.provenance is not None:
            p = asdict(outcome.provenance)
            p["elapsed_s"] = round(p["elapsed_s"], 4)
            p["estimated_s"] = _num(p["estimated_s"], 4)
            p["notes"] = list(p["notes"])
            entry.update(p)
        methods.append(entry)
    comparison = result.comparison
    local = next((o.local for o in result.outcomes if o.local is not None), None)
    provenance = asdict(prov)
    provenance["notes"] = list(prov.notes)
    provenance["elapsed_s"] = round(prov.elapsed_s, 3)
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "xai-cli", "version": __version__},
        "provenance": provenance,
        "features": list(result.features),
        "outputs": list(result.outputs),
        "top_k": comparison.top_k,
        "methods": methods,
        "importances": [
            {
                "method": r.method,
                "class": r.output,
                "feature": r.feature,
                "value": _num(r.value),
                "share": _num(r.share),
                "rank": r.rank,
                "spread": _num(r.spread),
            }
            for r in comparison.rows
        ],
        "agreement": [
            {
                "method_a": a.method_a,
                "method_b": a.method_b,
                "class": a.output,
                "spearman": _num(a.spearman, 6),
                "kendall": _num(a.kendall, 6),
                "topk_jaccard": _num(a.topk_jaccard, 6),
            }
            for a in comparison.agreement
        ],
        "consensus": list(comparison.consensus),
        "rank_spread": [
            {
                "feature": s.feature,
                "best_rank": s.best_rank,
                "worst_rank": s.worst_rank,
                "spread": s.spread,
                "ranks": s.ranks,
            }
            for s in comparison.rank_spread
        ],
        "additivity": [
            {
                "method": a.method,
                "max_abs_error": _num(a.max_abs_error, 6),
                "p99_abs_error": _num(a.p99_abs_error, 6),
                "tolerance": _num(a.tolerance, 6),
                "rows": a.rows,
                "ok": a.ok,
            }
            for a in comparison.additivity
        ],
        "rank_intervals": [asdict(r) for r in comparison.rank_intervals],
        "local": _local_section(local, prov.seed) if local is not None else None,
    }


def interval_gaps(doc: Document) -> dict[str, list[str]]:
    """The methods that ran without rank intervals, grouped by why.

    ``model``: read from the model alone, so the row sample cannot change them; ``every_row``:
    streamed over every row, so there is no sampling error; ``none``: they use the sampled rows
    but cannot reweight them without rerunning (the audit ``stability`` rule reruns them).
    """
    covered = {r["method"] for r in doc.get("rank_intervals", [])}
    gaps: dict[str, list[str]] = {"model": [], "every_row": [], "none": []}
    for m in ok_methods(doc):
        if m["method"] in covered:
            continue
        if m.get("uses_rows") is False:
            gaps["model"].append(m["method"])
        elif (m.get("params") or {}).get("streamed"):
            gaps["every_row"].append(m["method"])
        else:
            gaps["none"].append(m["method"])
    return gaps


GAP_TEXT = {
    "model": "Not affected by the row sample (read from the model)",
    "every_row": "Explained every row, so no sampling error",
    "none": "No rank interval (needs a rerun per resample, as the xai audit stability rule does)",
}


def stability_lines(doc: Document) -> list[str]:
    """One sentence per method with rank intervals (the top-k features' 95% bootstrap ranks),
    then one per group of methods without intervals, saying why.

    Shared by the Markdown and terminal renderers; it only formats the document's numbers.
    """
    lines = []
    k = doc["top_k"]
    for method in dict.fromkeys(r["method"] for r in doc.get("rank_intervals", [])):
        rows = sorted(
            (r for r in doc["rank_intervals"] if r["method"] == method),
            key=lambda r: (r["rank"], r["feature"]),
        )[:k]
        cells = ", ".join(
            f"{r['feature']} {r['low']}" + (f"–{r['high']}" if r["high"] != r["low"] else "")
            for r in rows
        )
        lines.append(
            f"Rank intervals ({method}; 95%, {rows[0]['resamples']} bootstrap resamples of the "
            f"{rows[0]['rows']} explained rows): {cells}"
        )
    for key, methods in interval_gaps(doc).items():
        if methods:
            lines.append(f"{GAP_TEXT[key]}: {', '.join(methods)}")
    return lines


def ok_methods(doc: Document) -> list[dict[str, Any]]:
    """The methods that produced a table, in run order."""
    return [m for m in doc["methods"] if m["status"] == "ok"]


def top_features(doc: Document, method: str, k: int, output: str = "all") -> list[dict[str, Any]]:
    """A method's k highest-ranked importance rows for one output (rank order, then file order)."""
    rows = [r for r in doc["importances"] if r["method"] == method and r["class"] == output]
    return sorted(rows, key=lambda r: r["rank"])[:k]
