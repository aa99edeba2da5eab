"""Leaks and identifiers, screened in every ``xai explain`` run without any configuration.

Three findings, each with its evidence (numbers a reader can check):

* **leak**: a feature that alone predicts the target almost perfectly: out-of-fold ROC AUC
  >= 0.99 (classifiers) or R^2 >= 0.98 (regression) of a depth-4 tree on that column alone
  (categories: their out-of-fold mean target), 3-fold cross-validation on the explained rows;
* **identifier**: a column that looks like a row id: unique on >= 99% of the rows, and named like
  an id (``id``, ``*_id``, ``index``, ``rownames``, ``Unnamed: 0``, ...) or monotone with the row
  order (|Spearman with the row position| >= 0.99);
* **importance_outlier**: a feature whose share under one method is >= 10% and at least 3x its
  share under every other method (needs three methods or more).
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from xai_cli.results import POOLED, Comparison, ImportanceRow

Kind = Literal["leak", "identifier", "importance_outlier"]
LEAK_AUC = 0.99
LEAK_R2 = 0.98
UNIQUE = 0.99
MONOTONE = 0.99
OUTLIER_SHARE = 0.10
OUTLIER_RATIO = 3.0
MAX_SCREENED = 50
"""Leak screening looks at the most important features first, at most this many."""
ID_NAME = re.compile(
    r"(^|[_\W])(id|idx|index|key|uuid|guid|rownames?|row_?(num|number|no|id)?|record)($|[_\W])"
    r"|^unnamed:?\s*0$",
    re.IGNORECASE,
)
CAMEL_ID = re.compile(r"[a-z0-9](Id|ID)$")
"""``customerId``, ``orderID`` (case-sensitive, so ``paid`` and ``valid`` are not ids)."""


def named_like_id(name: str) -> bool:
    """Whether a column name reads as an identifier."""
    return bool(ID_NAME.search(name) or CAMEL_ID.search(name))


@dataclass(frozen=True)
class Finding:
    """One warning about one feature, with the sentence and its numbers."""

    kind: Kind
    feature: str
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)


def _ordinal(ordinal: int) -> str:
    suffix = (
        "th" if 10 <= ordinal % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(ordinal % 10, "th")
    )
    return f"{ordinal}{suffix}"


def _pooled_rows(comparison: Comparison) -> dict[str, dict[str, ImportanceRow]]:
    out: dict[str, dict[str, ImportanceRow]] = {}
    for r in comparison.rows:
        if r.output == POOLED:
            out.setdefault(r.method, {})[r.feature] = r
    return out


def _where(feature: str, pooled: dict[str, dict[str, ImportanceRow]]) -> str:
    """'ranked 1st by permutation (36% share), 2nd by treeshap (20%)' for the top two methods."""
    rows = sorted(
        ((m, t[feature]) for m, t in pooled.items() if feature in t), key=lambda x: x[1].rank
    )
    parts = [f"{_ordinal(r.rank)} by {m} ({100 * r.share:.0f}%)" for m, r in rows[:3]]
    return ("ranked " + ", ".join(parts)) if parts else "not ranked"


def _column_scores(x: pd.Series, y: np.ndarray, classifier: bool, seed: int) -> float:
    """Out-of-fold score of predicting ``y`` from the one column ``x``."""
    from sklearn.metrics import r2_score, roc_auc_score
    from sklearn.model_selection import KFold, StratifiedKFold
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    n = len(x)
    classes = np.unique(y)
    numeric = pd.api.types.is_numeric_dtype(x) and not pd.api.types.is_bool_dtype(x)
    values = x.to_numpy(dtype=float, na_value=np.nan) if numeric else None
    if classifier:
        folds = StratifiedKFold(3, shuffle=True, random_state=seed).split(np.zeros(n), y)
        pred = np.zeros((n, len(classes)))
    else:
        folds = KFold(3, shuffle=True, random_state=seed).split(np.zeros(n))
        pred = np.zeros(n)
    onehot = (y[:, None] == classes[None, :]).astype(float) if classifier else None
    for train, test in folds:
        if numeric:
            assert values is not None
            fill = np.nanmedian(values[train]) if np.isfinite(values[train]).any() else 0.0
            v = np.where(np.isnan(values), fill, values)[:, None]
            model = (
                DecisionTreeClassifier(max_depth=4, random_state=seed)
                if classifier
                else DecisionTreeRegressor(max_depth=4, random_state=seed)
            )
            model.fit(v[train], y[train])
            if classifier:
                proba = model.predict_proba(v[test])
                cols = np.searchsorted(classes, model.classes_)
                pred[np.ix_(test, cols)] = proba
            else:
                pred[test] = model.predict(v[test])
        else:
            keys = x.astype(str).to_numpy()
            target = onehot if classifier else y.astype(float)[:, None]
            frame = pd.DataFrame(target[train], index=keys[train])
            means = frame.groupby(level=0).mean()
            prior = target[train].mean(axis=0)
            looked = means.reindex(keys[test]).to_numpy()
            looked = np.where(np.isnan(looked), prior, looked)
            pred[test] = looked if classifier else looked[:, 0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if not classifier:
            return float(r2_score(y, pred))
        if len(classes) == 2:
            return float(roc_auc_score(y, pred[:, 1]))
        return float(roc_auc_score(y, pred, multi_class="ovr"))


def leaks(
    X: pd.DataFrame, y: np.ndarray | None, classifier: bool, order: list[str], seed: int,
    pooled: dict[str, dict[str, ImportanceRow]],
) -> list[Finding]:  # fmt: skip
    """Features that alone predict ``y`` almost perfectly (``order``: most important first)."""
    if y is None or len(X) < 30 or (classifier and len(np.unique(y)) < 2):
        return []
    out = []
    limit = LEAK_AUC if classifier else LEAK_R2
    metric = "ROC AUC" if classifier else "R^2"
    for feature in order[:MAX_SCREENED]:
        try:
            score = _column_scores(X[feature], np.asarray(y), classifier, seed)
        except ValueError:
            continue
        if np.isfinite(score) and score >= limit:
            out.append(Finding(
                "leak", feature,
                f"{feature} alone predicts the target almost perfectly: out-of-fold {metric} "
                f"{score:.3f} (>= {limit}) from that column alone; {_where(feature, pooled)}. "
                "A column that is (or is computed from) the label leaks it: drop it and retrain",
                {"metric": metric, "score": round(score, 6), "threshold": limit},
            ))  # fmt: skip
    return out


def identifiers(X: pd.DataFrame, pooled: dict[str, dict[str, ImportanceRow]]) -> list[Finding]:
    """Columns that look like row ids (unique per row, and id-named or monotone in row order)."""
    out = []
    n = len(X)
    if n < 20:
        return out
    position = np.arange(n)
    for feature in X.columns:
        col = X[feature]
        present = col.dropna()
        if len(present) < 0.9 * n:
            continue
        unique = present.nunique() / len(present)
        if unique < UNIQUE:
            continue
        named = named_like_id(str(feature))
        numeric = pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)
        rho = None
        if numeric:
            from scipy import stats

            values = col.to_numpy(dtype=float, na_value=np.nan)
            ok = np.isfinite(values)
            if not named and not np.allclose(values[ok], np.round(values[ok])):
                continue  # a continuous measurement is unique per row by nature
            rho = float(stats.spearmanr(values[ok], position[ok]).statistic)
        monotone = rho is not None and abs(rho) >= MONOTONE
        if not (named or monotone):
            continue
        why = []
        if named:
            why.append("named like an id")
        if monotone:
            why.append(f"monotone with the row order (Spearman {rho:.3f})")
        out.append(Finding(
            "identifier", str(feature),
            f"{feature} looks like a row identifier: unique on {100 * unique:.1f}% of "
            f"{len(present)} rows, {' and '.join(why)}; {_where(str(feature), pooled)}. An id "
            "carries no meaning a model should learn: drop it and retrain",
            {"unique_fraction": round(unique, 6), "named_like_id": named,
             "spearman_with_row_order": None if rho is None else round(rho, 6)},
        ))  # fmt: skip
    return out


def outliers(pooled: dict[str, dict[str, ImportanceRow]]) -> list[Finding]:
    """A feature whose share under one method far exceeds its share under every other."""
    if len(pooled) < 3:
        return []
    out = []
    for method, table in pooled.items():
        for feature, row in table.items():
            share = abs(row.share)
            others = [(m, t[feature]) for m, t in pooled.items() if m != method and feature in t]
            if share < OUTLIER_SHARE or not others:
                continue
            top_other = max(abs(r.share) for _, r in others)
            if share < OUTLIER_RATIO * top_other:
                continue
            ranks = sorted(r.rank for _, r in others)
            out.append(Finding(
                "importance_outlier", feature,
                f"{method} gives {feature} {100 * share:.0f}% of its importance (rank "
                f"{row.rank}); the {len(others)} other methods give it at most "
                f"{100 * top_other:.1f}% (ranks {ranks[0]}-{ranks[-1]}): a property of how "
                f"{method} measures, not of what the model does, until a check says otherwise",
                {"method": method, "share": round(share, 6), "rank": row.rank,
                 "max_other_share": round(top_other, 6), "other_ranks": ranks},
            ))  # fmt: skip
    return out


def screen(
    X: pd.DataFrame, y: np.ndarray | None, classifier: bool, comparison: Comparison, seed: int
) -> tuple[Finding, ...]:
    """Every finding of one run (leaks first, then identifiers, then outliers)."""
    pooled = _pooled_rows(comparison)
    mean_rank: dict[str, float] = {}
    for table in pooled.values():
        for f, r in table.items():
            mean_rank[f] = mean_rank.get(f, 0.0) + r.rank / len(pooled)
    order = sorted(X.columns, key=lambda f: (mean_rank.get(str(f), 1e9), str(f)))
    found = leaks(X, y, classifier, [str(f) for f in order], seed, pooled)
    found += identifiers(X, pooled)
    found += outliers(pooled)
    return tuple(found)
