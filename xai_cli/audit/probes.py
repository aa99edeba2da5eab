"""Computations that need the model and the rows: the noise floor and bootstrap stability.

**Noise floor, for a fixed, already-trained model** (evaluation_methods.md §7.3, "mode B"). The
shadow-feature and Boruta tests of §7.2 refit the model with random probe columns added; an audit
step must judge the model it is given, so nothing is refitted. A random probe column appended to
the data is a column the fixed model never reads: its held-out permutation importance is exactly
zero on every repeat. The probe's importance is therefore 0, and a feature is "no better than a
random probe" when its own held-out permutation importance cannot be told apart from 0.

Each of ``repeats`` rounds draws a bootstrap resample of the (held-out) rows and, for every feature,
a fresh permutation of that column, and records the score drop (ROC AUC for classifiers, R² for
regression, as :mod:`xai_cli.methods.permutation` scores). Resampling the rows as well as the
permutation makes the spread cover both sources of noise: which rows were audited and which
shuffle was drawn. A feature's interval is the percentile interval of its drops at the chosen
confidence; its **margin over the probe** is the interval's lower end minus the probe's 0. A
feature with margin <= 0 is ``noise``. A model that split on a pure-noise column while training
(overfitting) gives that column large native and SHAP importances but a margin near or below 0
on rows it was not trained on, which is what this check is for: run it on held-out rows.

**Stability**: each method is re-run on ``resamples`` bootstrap resamples of the rows; the Spearman
correlation of each resample's ranking with the ranking on all rows, and every feature's rank
interval across resamples, say how much the explanation depends on which rows were explained.
Methods that do not read the rows (a booster's own gain or split counts) come out identical on
every resample, which is reported as such.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from xai_cli.compare.agreement import ranks
from xai_cli.methods import ExplainContext, Explainer, MethodParams
from xai_cli.methods.permutation import metric_name, score, score_predictions, shuffled
from xai_cli.model.adapter import ModelAdapter
from xai_cli.results import POOLED, LocalAttribution

PROBE_IMPORTANCE = 0.0
"""Held-out permutation importance of a random probe column for a fixed model (never read)."""


@dataclass(frozen=True)
class FeatureFloor:
    """One feature's held-out permutation importance against the random probe."""

    feature: str
    mean: float
    lower: float
    upper: float
    share_positive: float

    @property
    def margin(self) -> float:
        """How far the interval's lower end is above the probe's importance."""
        return self.lower - PROBE_IMPORTANCE

    @property
    def above(self) -> bool:
        """Distinguishable from a random probe at the chosen confidence."""
        return self.margin > 0


@dataclass(frozen=True)
class NoiseFloor:
    """The noise-floor test of every feature of one model on one set of rows."""

    metric: str
    base_score: float
    repeats: int
    confidence: float
    rows: int
    seed: int
    features: tuple[FeatureFloor, ...]

    def of(self, feature: str) -> FeatureFloor:
        return next(f for f in self.features if f.feature == feature)


def _bootstrap(n: int, rng: np.random.Generator, y: np.ndarray | None, classifier: bool) -> Any:
    """Row indices of one bootstrap resample (stratified by class for classifiers, so every
    class stays present and ROC AUC stays defined)."""
    if not classifier or y is None:
        return rng.integers(0, n, n)
    parts = [rng.choice(np.flatnonzero(y == c), int((y == c).sum())) for c in np.unique(y)]
    return np.sort(np.concatenate(parts))


MAX_STACKED_ROWS = 200_000
"""Permuted copies are predicted in stacks of at most this many rows (one model call each)."""


def _permuted_scores(
    adapter: ModelAdapter, X: pd.DataFrame, y: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """The score with each column permuted in turn (a fresh permutation per column).

    The permuted copies are stacked and predicted together: one model call per stack instead of
    one per column, which is what makes 30 repeats affordable.
    """
    n, features = len(X), list(adapter.feature_names)
    orders = [rng.permutation(n) for _ in features]
    per_stack = max(1, MAX_STACKED_ROWS // max(1, n))
    scores = np.empty(len(features))
    for start in range(0, len(features), per_stack):
        chunk = range(start, min(len(features), start + per_stack))
        copies = [shuffled(X, j, orders[j]) for j in chunk]  # X's columns are the features
        predictions = np.asarray(adapter.predict_scores(pd.concat(copies, ignore_index=True)))
        for i, j in enumerate(chunk):
            scores[j] = score_predictions(adapter, predictions[i * n : (i + 1) * n], y)
    return scores


def noise_floor(
    adapter: ModelAdapter,
    X: pd.DataFrame,
    y: np.ndarray,
    *,
    repeats: int = 30,
    confidence: float = 0.95,
    seed: int = 0,
) -> NoiseFloor:
    """Held-out permutation importance of every feature, with a bootstrap-and-permute interval,
    against a random probe (see the module docstring)."""
    rng = np.random.default_rng(seed)
    X = X.loc[:, list(adapter.feature_names)].reset_index(drop=True)
    n = len(X)
    drops = np.empty((repeats, len(adapter.feature_names)))
    for r in range(repeats):
        rows = _bootstrap(n, rng, y, adapter.is_classifier)
        Xb, yb = X.iloc[rows].reset_index(drop=True), y[rows]
        drops[r] = score(adapter, Xb, yb) - _permuted_scores(adapter, Xb, yb, rng)
    if not np.isfinite(drops).all():
        raise ValueError(f"{metric_name(adapter)} is undefined on these rows")
    tail = (1 - confidence) / 2
    lower, upper = np.quantile(drops, [tail, 1 - tail], axis=0)
    return NoiseFloor(
        metric=metric_name(adapter),
        base_score=score(adapter, X, y),
        repeats=repeats,
        confidence=confidence,
        rows=n,
        seed=seed,
        features=tuple(
            FeatureFloor(
                feature=f,
                mean=float(drops[:, j].mean()),
                lower=float(lower[j]),
                upper=float(upper[j]),
                share_positive=float((drops[:, j] > 0).mean()),
            )
            for j, f in enumerate(adapter.feature_names)
        ),
    )


@dataclass(frozen=True)
class FeatureRanks:
    """A feature's rank on all rows and its interval across bootstrap resamples."""

    feature: str
    rank: int
    low: int
    high: int


@dataclass(frozen=True)
class Stability:
    """How one method's ranking moves across bootstrap resamples of the rows."""

    method: str
    resamples: int
    rows: int
    spearman: tuple[float | None, ...]
    features: tuple[FeatureRanks, ...]
    identical: bool

    def defined(self) -> list[float]:
        return [s for s in self.spearman if s is not None]

    def quantile(self, q: float) -> float | None:
        values = self.defined()
        return float(np.quantile(values, q)) if values else None


def _pooled(explainer: Explainer, ctx: ExplainContext) -> np.ndarray:
    from xai_cli.run.routes import explain_routed

    output = explain_routed(explainer, ctx)  # a pipeline's fast path: encoded, summed back
    table = output.to_global() if isinstance(output, LocalAttribution) else output
    values = np.asarray(table.column(POOLED), dtype=float)
    if not np.isfinite(values).all():
        raise ValueError(f"{explainer.name} produced non-finite importances")
    return values


def _spearman(a: np.ndarray, b: np.ndarray) -> float | None:
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = float(stats.spearmanr(a, b).statistic)
    return None if np.isnan(value) else value


def stability(
    adapter: ModelAdapter,
    X: pd.DataFrame,
    y: np.ndarray | None,
    explainer: Explainer,
    *,
    params: MethodParams | Mapping[str, Any] | None = None,
    resamples: int = 20,
    seed: int = 0,
    interval: float = 0.95,
) -> Stability:
    """Re-run ``explainer`` on bootstrap resamples; compare each ranking with the full-rows one.

    Seeds are drawn up front (``seed`` for all rows, ``seed + 1 + b`` for resample ``b``), so the
    result does not depend on the order the resamples run in.
    """
    params = {} if params is None else params
    X = X.reset_index(drop=True)
    full = _pooled(explainer, ExplainContext(adapter, X, y, seed, params))
    rng = np.random.default_rng(seed)
    draws = [_bootstrap(len(X), rng, y, adapter.is_classifier) for _ in range(resamples)]
    vectors = []
    for b, rows in enumerate(draws):
        Xb = X.iloc[rows].reset_index(drop=True)
        yb = None if y is None else y[rows]
        vectors.append(_pooled(explainer, ExplainContext(adapter, Xb, yb, seed + 1 + b, params)))
    rank_matrix = np.array([ranks(v) for v in vectors])
    tail = (1 - interval) / 2
    low = np.quantile(rank_matrix, tail, axis=0, method="lower")
    high = np.quantile(rank_matrix, 1 - tail, axis=0, method="higher")
    full_ranks = ranks(full)
    return Stability(
        method=explainer.name,
        resamples=resamples,
        rows=len(X),
        spearman=tuple(_spearman(full, v) for v in vectors),
        features=tuple(
            FeatureRanks(f, int(full_ranks[i]), int(low[i]), int(high[i]))
            for i, f in enumerate(adapter.feature_names)
        ),
        identical=all(np.allclose(v, full, rtol=1e-12, atol=0) for v in vectors),
    )
