"""Faithfulness: prediction gap on each method's top-k features against random features (T13).

For every check row, the features a method ranks top-k for that row (per-row methods) or overall
(global methods) are perturbed (numeric: Gaussian noise of 0.1 x the column's std; other columns:
replaced by another row's value with probability sqrt(2/pi) x 0.1, as OpenXAI's PGI does), and the
mean absolute change of the raw output over ``perturbations`` draws is the row's prediction gap
(PGI). The same is done with k features drawn at random per row. A paired one-sided Wilcoxon test
over rows asks whether the method's features move the prediction more than random ones: PASS at
p < 0.01, WARN when the mean gap is larger but not significantly, FAIL otherwise.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pandas as pd
from scipy import stats

from xai_cli.results import MethodOutcome
from xai_cli.validate.checks import Check, judged, skip
from xai_cli.validate.context import Subject, row_scores

FAMILY = "faithfulness"
FLIP = float(np.sqrt(2 / np.pi) * 0.1)


def _perturbed_gap(subject: Subject, chosen: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Per-row mean |f(x') - f(x)| when the columns ``chosen[i]`` of row ``i`` are perturbed."""
    X, n, draws = subject.X, len(subject.X), subject.options.perturbations
    names = list(X.columns)
    copies = pd.concat([X] * draws, ignore_index=True)
    rows = np.tile(np.arange(n), draws)
    for j, name in enumerate(names):
        hit = chosen[rows, j]
        if not hit.any():
            continue
        col = copies[name]
        if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            std = float(np.nanstd(X[name].to_numpy(dtype=float)))
            noise = rng.normal(0.0, 0.1 * std, len(copies))
            values = col.to_numpy(dtype=float) + np.where(hit, noise, 0.0)
            copies[name] = values if pd.api.types.is_float_dtype(col) else values.round()
        else:
            swap = hit & (rng.random(len(copies)) < FLIP)
            donors = rng.integers(0, n, len(copies))
            replaced = col.copy()
            replaced[swap] = X[name].iloc[donors[swap]].to_numpy()
            copies[name] = replaced
    moved = np.asarray(subject.adapter.predict_raw(copies), dtype=float).reshape(len(copies), -1)
    gap = np.abs(moved - np.tile(subject.raw, (draws, 1))).sum(axis=1)
    return gap.reshape(draws, n).mean(axis=0)


def prediction_gap(subject: Subject, outcome: MethodOutcome) -> Check:
    """T13 for one method."""
    name, d = outcome.method, subject.X.shape[1]
    k = min(max(1, int(np.ceil(0.25 * d))), subject.top_k)
    if d < 2 or k >= d:
        return skip(FAMILY, "prediction_gap", name, f"needs more than k={k} features", "T13")
    local = outcome.local
    if local is not None and len(local.values) == len(subject.prepared.X):
        scores = np.abs(local.values[subject.rows]).sum(axis=2)
    else:
        scores = row_scores(outcome.table, len(subject.X))  # type: ignore[arg-type]
    rng = np.random.default_rng(subject.request.seed + 17)
    n = len(subject.X)
    noise = rng.random(scores.shape) * 1e-12  # ties broken at random, never by column order
    top = np.argsort(-(scores + noise * (scores.max() + 1)), axis=1, kind="stable")[:, :k]
    chosen = np.zeros((n, d), dtype=bool)
    chosen[np.arange(n)[:, None], top] = True
    random = np.zeros((n, d), dtype=bool)
    random[np.arange(n)[:, None], np.argsort(rng.random((n, d)), axis=1)[:, :k]] = True
    gap_m = _perturbed_gap(subject, chosen, rng)
    gap_r = _perturbed_gap(subject, random, rng)
    diff = gap_m - gap_r
    if np.allclose(diff, 0):
        p = 1.0
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            p = float(stats.wilcoxon(gap_m, gap_r, alternative="greater").pvalue)
    details = {"k": k, "pgi_method": float(gap_m.mean()), "pgi_random": float(gap_r.mean()),
               "rows": n, "perturbations": subject.options.perturbations}  # fmt: skip
    check = judged(
        FAMILY, "prediction_gap", name, p, 0.01, "<", test="T13",
        what=f"one-sided Wilcoxon p that top-{k} features move the output more than random "
        f"ones (mean gap {gap_m.mean():.3g} vs {gap_r.mean():.3g})",
        details=details,
    )  # fmt: skip
    if check.status == "FAIL" and gap_m.mean() > gap_r.mean():
        return dataclasses.replace(check, status="WARN")
    return check
