"""How the explanations changed between two saved reports (``xai diff`` and the drift rule).

Pure functions over two typed reports (:class:`xai_cli.report.Report`, read from ``report.json``
with :meth:`~xai_cli.report.Report.read`). Per method present in both: the
Spearman and Kendall correlation of the importances over the features both models have, the top-k
Jaccard overlap, the features entering and leaving the top-k, each feature's rank change, and the
features one model has and the other lacks. Only the pooled output (class ``all``) is compared.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import stats

from xai_cli.compare.agreement import jaccard

if TYPE_CHECKING:
    from xai_cli.report import Report


def ranking(report: Report, method: str) -> dict[str, tuple[int, float]]:
    """A method's pooled ``feature -> (rank, value)`` from a report."""
    return {r.feature: (r.rank, r.value or 0.0) for r in report.pooled(method)}


def top(rank_of: dict[str, tuple[int, float]], order: Sequence[str], k: int) -> list[str]:
    """The k best-ranked features (ties in the report's feature order)."""
    position = {f: i for i, f in enumerate(order)}
    return sorted(rank_of, key=lambda f: (rank_of[f][0], position.get(f, len(order))))[:k]


def _corr(fn: Any, a: list[float], b: list[float]) -> float | None:
    if len(a) < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return None  # undefined for a constant ranking
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = float(fn(a, b).statistic)
    return None if np.isnan(value) else round(value, 6)


def ok_methods(report: Report) -> list[str]:
    """Methods of a report that produced a table."""
    return [m.method for m in report.ok_methods()]


def compare_method(base: Report, new: Report, method: str, k: int) -> dict[str, Any]:
    """Every change of one method's pooled ranking from ``base`` to ``new``."""
    a, b = ranking(base, method), ranking(new, method)
    common = [f for f in new.features if f in a and f in b]
    top_a, top_b = top(a, base.features, k), top(b, new.features, k)
    changes = [
        {
            "feature": f,
            "rank_base": a[f][0] if f in a else None,
            "rank_new": b[f][0] if f in b else None,
            "change": (a[f][0] - b[f][0]) if f in a and f in b else None,
        }
        for f in dict.fromkeys([*base.features, *new.features])
    ]
    changes.sort(key=lambda c: (c["change"] is not None, -abs(c["change"] or 0), c["feature"]))
    return {
        "method": method,
        "status": "compared",
        "reason": None,
        "spearman": _corr(stats.spearmanr, [a[f][1] for f in common], [b[f][1] for f in common]),
        "kendall": _corr(stats.kendalltau, [a[f][1] for f in common], [b[f][1] for f in common]),
        "topk_jaccard": round(jaccard(top_a, top_b), 6),
        "top_base": top_a,
        "top_new": top_b,
        "entering": [f for f in top_b if f not in top_a],
        "leaving": [f for f in top_a if f not in top_b],
        "features_added": [f for f in new.features if f not in base.features],
        "features_removed": [f for f in base.features if f not in new.features],
        "common_features": len(common),
        "rank_changes": changes,
    }


def compare_reports(
    base: Report,
    new: Report,
    *,
    top_k: int | None = None,
    methods: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Per method, how ``new``'s explanations differ from ``base``'s.

    ``methods`` defaults to every method that ran in both; a named method missing from either
    report is listed with ``status: missing`` and why.
    """
    k = top_k or new.top_k
    in_base, in_new = ok_methods(base), ok_methods(new)
    names = list(methods) if methods else [m for m in in_new if m in in_base]
    entries = []
    for name in names:
        absent = [w for w, have in (("base", in_base), ("new", in_new)) if name not in have]
        if absent:
            entries.append(
                {
                    "method": name,
                    "status": "missing",
                    "reason": f"no '{name}' results in the {' and '.join(absent)} report",
                }
            )
        else:
            entries.append(compare_method(base, new, name, k))
    return {"top_k": k, "methods": entries}


def violations(
    entry: dict[str, Any], min_spearman: float | None, min_topk_jaccard: float | None
) -> tuple[list[str], list[str]]:
    """(broken thresholds, undefined metrics) of one compared method."""
    broken: list[str] = []
    undefined: list[str] = []
    for key, limit, label in (
        ("spearman", min_spearman, "Spearman"),
        ("topk_jaccard", min_topk_jaccard, "top-k Jaccard"),
    ):
        if limit is None:
            continue
        value = entry[key]
        if value is None:
            undefined.append(f"{label} undefined (a constant ranking)")
        elif value < limit:
            broken.append(f"{label} {value:.3f} < {limit:g}")
    return broken, undefined


def diff_document(
    base: Report,
    new: Report,
    *,
    base_path: str,
    new_path: str,
    top_k: int | None = None,
    methods: Sequence[str] | None = None,
    min_spearman: float | None = None,
    min_topk_jaccard: float | None = None,
) -> dict[str, Any]:
    """The ``xai diff`` document: the comparison plus one status per method.

    Without thresholds every compared method is ``PASS`` (the diff only reports); with them, a
    method below a threshold is ``FAIL``, and one whose metric is undefined, or that a named
    method is missing from, is ``ERROR``.
    """
    from xai_cli import SCHEMA_VERSION, __version__
    from xai_cli.audit.outcome import RuleResult, counts, exit_code

    comparison = compare_reports(base, new, top_k=top_k, methods=methods)
    results = []
    for entry in comparison["methods"]:
        name = entry["method"]
        if entry["status"] == "missing":
            results.append(RuleResult(name, "diff", "fail", "ERROR", entry["reason"], entry))
            continue
        broken, undefined = violations(entry, min_spearman, min_topk_jaccard)
        moves = (
            f"entering top {comparison['top_k']}: {', '.join(entry['entering']) or 'none'}; "
            f"leaving: {', '.join(entry['leaving']) or 'none'}"
        )
        rho = "undefined" if entry["spearman"] is None else f"{entry['spearman']:.3f}"
        summary = f"Spearman {rho}, top-{comparison['top_k']} Jaccard {entry['topk_jaccard']:.3f}"
        status = "ERROR" if undefined else "FAIL" if broken else "PASS"
        message = "; ".join(undefined + broken) if status != "PASS" else summary
        results.append(RuleResult(name, "diff", "fail", status, f"{message} ({moves})", entry))
    if not results:
        results.append(
            RuleResult("methods", "diff", "fail", "ERROR", "no method ran in both reports", {})
        )
    statuses = [r.status for r in results]

    def side(report: Report, path: str) -> dict[str, Any]:
        return {
            "path": path,
            "model_path": report.provenance.model_path,
            "model_sha256": report.provenance.model_sha256,
            "data_path": report.provenance.data_path,
            "methods": ok_methods(report),
        }

    return {
        "schema_version": SCHEMA_VERSION,
        "kind": "xai-diff",
        "tool": {"name": "xai-cli", "version": __version__},
        "base": side(base, base_path),
        "new": side(new, new_path),
        "top_k": comparison["top_k"],
        "thresholds": {"min_spearman": min_spearman, "min_topk_jaccard": min_topk_jaccard},
        "status": "ERROR" if "ERROR" in statuses else "FAIL" if "FAIL" in statuses else "PASS",
        "exit_code": exit_code(statuses),
        "summary": counts(statuses),
        "results": [r.to_dict() for r in results],
    }
