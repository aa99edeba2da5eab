"""Agreement between methods: shares, ranks, rank correlations, top-k overlap, consensus.

Pure functions over frozen results. Raw magnitudes of different units are never compared: shares
(value / sum of |values|) and ranks are.
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
from scipy import stats

from xai_cli.compare.bootstrap import RESAMPLES, resample_counts
from xai_cli.results import (
    POOLED,
    Additivity,
    AgreementRow,
    Comparison,
    ImportanceRow,
    ImportanceTable,
    LocalAttribution,
    RankInterval,
    RankSpread,
)


def shares(values: np.ndarray) -> np.ndarray:
    """Each value divided by the sum of absolute values (zeros when all are zero)."""
    total = float(np.abs(values).sum())
    return values / total if total > 0 else np.zeros_like(values, dtype=float)


def ranks(values: np.ndarray) -> np.ndarray:
    """Rank 1 for the largest value; ties share the best rank of their group."""
    return stats.rankdata(-np.asarray(values, dtype=float), method="min").astype(int)


def top_k(values: np.ndarray, features: tuple[str, ...], k: int) -> list[str]:
    """The k features with the largest values; ties broken by feature order, so it is stable."""
    order = np.argsort(-np.asarray(values, dtype=float), kind="stable")
    return [features[i] for i in order[: min(k, len(features))]]


def importance_rows(tables: tuple[ImportanceTable, ...]) -> tuple[ImportanceRow, ...]:
    """The tidy long table behind ``importances.csv``: one row per method, output and feature."""
    rows: list[ImportanceRow] = []
    for table in tables:
        for j, output in enumerate(table.outputs):
            column = table.values[:, j]
            column_shares, column_ranks = shares(column), ranks(column)
            for i, feature in enumerate(table.features):
                spread = None if table.spread is None else float(table.spread[i, j])
                rows.append(
                    ImportanceRow(
                        method=table.method,
                        output=output,
                        feature=feature,
                        value=float(column[i]),
                        share=float(column_shares[i]),
                        rank=int(column_ranks[i]),
                        spread=spread,
                    )
                )
    return tuple(rows)


def _correlation(fn: object, a: np.ndarray, b: np.ndarray) -> float | None:
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return None  # a constant ranking has no defined correlation
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = float(fn(a, b).statistic)  # type: ignore[operator]
    return None if np.isnan(value) else value


def jaccard(a: list[str], b: list[str]) -> float:
    """|A ∩ B| / |A ∪ B| of two feature lists (1.0 when both are empty)."""
    union = set(a) | set(b)
    return len(set(a) & set(b)) / len(union) if union else 1.0


def agreement(tables: tuple[ImportanceTable, ...], k: int) -> tuple[AgreementRow, ...]:
    """Spearman, Kendall and top-k Jaccard for every pair of methods, per shared output."""
    rows: list[AgreementRow] = []
    for a, b in itertools.combinations(tables, 2):
        for output in [o for o in a.outputs if o in b.outputs]:
            va, vb = a.column(output), b.column(output)
            rows.append(
                AgreementRow(
                    method_a=a.method,
                    method_b=b.method,
                    output=output,
                    spearman=_correlation(stats.spearmanr, va, vb),
                    kendall=_correlation(stats.kendalltau, va, vb),
                    topk_jaccard=jaccard(top_k(va, a.features, k), top_k(vb, b.features, k)),
                )
            )
    return tuple(rows)


def consensus(tables: tuple[ImportanceTable, ...], k: int) -> tuple[str, ...]:
    """Features in the pooled top-k of every method, in the first method's order."""
    if not tables:
        return ()
    tops = [top_k(t.column(POOLED), t.features, k) for t in tables]
    common = set.intersection(*(set(t) for t in tops))
    return tuple(f for f in tops[0] if f in common)


def rank_spread(tables: tuple[ImportanceTable, ...]) -> tuple[RankSpread, ...]:
    """Each feature's best and worst pooled rank across methods, widest spread first."""
    if not tables:
        return ()
    features = tables[0].features
    per_method = {t.method: ranks(t.column(POOLED)) for t in tables}
    spreads = [
        RankSpread(
            feature=f,
            best_rank=int(min(r[i] for r in per_method.values())),
            worst_rank=int(max(r[i] for r in per_method.values())),
            ranks={m: int(r[i]) for m, r in per_method.items()},
        )
        for i, f in enumerate(features)
    ]
    return tuple(sorted(spreads, key=lambda s: (-s.spread, s.best_rank, s.feature)))


def additivity(local: LocalAttribution, raw: np.ndarray, *, rtol: float = 1e-4) -> Additivity:
    """Sum of contributions plus base value against the raw prediction, per row and output.

    Tolerance is ``rtol`` times the larger of 1 and the range of the raw predictions.
    """
    reconstructed = local.values.sum(axis=1) + local.base_values
    errors = np.abs(reconstructed - np.asarray(raw, dtype=float).reshape(reconstructed.shape))
    scale = max(1.0, float(np.ptp(raw))) if raw.size else 1.0
    return Additivity(
        method=local.method,
        max_abs_error=float(errors.max()) if errors.size else 0.0,
        p99_abs_error=float(np.percentile(errors, 99)) if errors.size else 0.0,
        tolerance=rtol * scale,
        rows=int(local.values.shape[0]),
    )


def rank_intervals(
    local: LocalAttribution, *, resamples: int = RESAMPLES, seed: int = 0
) -> tuple[RankInterval, ...]:
    """Bootstrap 95% intervals of each feature's pooled rank by mean |attribution|.

    Rows are resampled with replacement
    (:func:`xai_cli.compare.bootstrap.resample_counts`), the pooled
    importance recomputed as a weighted mean, and features ranked as :func:`ranks` does. Cheap: no
    model call, only the kept per-row values.
    """
    pooled = np.abs(local.values).sum(axis=2)  # rows x features
    n = len(pooled)
    if n == 0:
        return ()
    boot = np.vstack([counts @ pooled / n for counts in resample_counts(n, resamples, seed)])
    if local.spread is not None:  # an estimator's own error widens the interval too
        se = np.sqrt((local.spread**2).sum(axis=(0, 2))) / n
        boot = boot + np.random.default_rng(seed).normal(size=boot.shape) * se
    return intervals_from_bootstrap(local.method, local.features, pooled.mean(axis=0), boot, n)


def intervals_from_bootstrap(
    method: str,
    features: tuple[str, ...],
    point: np.ndarray,
    boot: np.ndarray,
    rows: int,
) -> tuple[RankInterval, ...]:
    """Rank intervals from importances recomputed per resample (resamples x features): the
    2.5th and 97.5th percentiles of each feature's rank, around its rank by ``point``."""
    ranked = np.vstack([ranks(row) for row in boot])
    low = np.percentile(ranked, 2.5, axis=0, method="lower")
    high = np.percentile(ranked, 97.5, axis=0, method="higher")
    at = ranks(point)
    return tuple(
        RankInterval(method, f, int(at[i]), int(low[i]), int(high[i]), len(boot), rows)
        for i, f in enumerate(features)
    )


def compare(
    tables: tuple[ImportanceTable, ...],
    k: int,
    checks: tuple[Additivity, ...] = (),
    intervals: tuple[RankInterval, ...] = (),
) -> Comparison:
    """All comparisons of one run."""
    return Comparison(
        top_k=k,
        rows=importance_rows(tables),
        agreement=agreement(tables, k),
        consensus=consensus(tables, k),
        rank_spread=rank_spread(tables),
        additivity=checks,
        rank_intervals=intervals,
    )
