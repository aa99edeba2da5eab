"""Permutation importance with scikit-learn's ``permutation_importance``.

The score drop when one column is shuffled, averaged over seeded repeats, with their standard
deviation as the spread. The metric suits the task: ROC AUC (binary), one-vs-rest ROC AUC
(multiclass), R² (regression). Works for any model through the adapter, so it needs no tree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from xai_cli.adapters import ModelAdapter
from xai_cli.bootstrap import WeightedScore, resample_counts
from xai_cli.explainers.base import SUPPORTED, ExplainContext, Support
from xai_cli.results import POOLED, ImportanceTable

DEFAULT_REPEATS = 5


def metric_name(adapter: ModelAdapter) -> str:
    """The metric permutation importance scores with for this task."""
    return {"binary": "roc_auc", "multiclass": "roc_auc_ovr"}.get(adapter.task, "r2")


def score(adapter: ModelAdapter, X: pd.DataFrame, y: np.ndarray) -> float:
    """The model's score on labelled rows with the task's metric (higher is better)."""
    return score_predictions(adapter, adapter.predict_scores(X), y)


def score_predictions(adapter: ModelAdapter, predictions: np.ndarray, y: np.ndarray) -> float:
    """:func:`score` of predictions already made."""
    from sklearn.metrics import r2_score, roc_auc_score

    if adapter.is_classifier and len(np.unique(y)) < 2:
        return float("nan")  # ROC AUC needs both classes; sklearn would only warn
    if adapter.task == "binary":
        return float(roc_auc_score(y, predictions[:, 1]))
    if adapter.task == "multiclass":
        labels = np.arange(predictions.shape[1])
        return float(roc_auc_score(y, predictions, multi_class="ovr", labels=labels))
    return float(r2_score(y, predictions))


class _Fitted:
    """Stands in for the estimator: scikit-learn validates that it has ``fit``, and the scorer
    predicts through the adapter, so raw boosters and wrappers are treated alike."""

    def fit(self, *_: Any) -> _Fitted:
        return self


@dataclass(frozen=True)
class Permutation:
    """scikit-learn permutation importance over the adapter's predictions."""

    name: str = "permutation"
    library: str = "scikit-learn"
    needs_target: bool = True
    uses_rows: bool = True
    description: str = "scikit-learn permutation_importance, score drop (ROC AUC or R²)"

    def supports(self, adapter: ModelAdapter) -> Support:
        return SUPPORTED

    def estimate_seconds(
        self, ctx: ExplainContext, timer: Callable[[], float]
    ) -> tuple[float, str]:
        """This run's time from its parts, timed once each on all the rows: ``2 + F x R``
        predictions and scores (baseline, scikit-learn's baseline, each shuffled column and
        repeat) and the bootstrap, whose per-metric cost is timed on one metric."""
        assert ctx.y is not None
        repeats = int(ctx.params.get("n_repeats", DEFAULT_REPEATS))
        calls = 2 + len(ctx.adapter.feature_names) * repeats
        timings = []
        for _ in range(2):  # the faster of two: the first may pay one-time costs
            start = timer()
            predictions = ctx.adapter.predict_scores(ctx.X)
            score_predictions(ctx.adapter, predictions, ctx.y)
            timings.append(timer() - start)
        one_call = min(timings)
        start = timer()
        resamples = list(resample_counts(len(ctx.y), seed=ctx.seed))
        drawing = timer() - start  # done once per run
        start = timer()
        metric = WeightedScore(ctx.adapter.task, ctx.y, predictions)
        for counts in resamples:
            metric(counts)
        one_metric = timer() - start
        seconds = calls * one_call + drawing + (calls - 1) * one_metric
        return seconds, f"one prediction, score and bootstrap metric timed, x {calls} calls"

    def explain(self, ctx: ExplainContext) -> ImportanceTable:
        from sklearn.inspection import permutation_importance

        assert ctx.y is not None
        adapter = ctx.adapter
        repeats = int(ctx.params.get("n_repeats", DEFAULT_REPEATS))

        baseline = score(adapter, ctx.X, ctx.y)
        if not np.isfinite(baseline):
            raise ValueError(
                f"{metric_name(adapter)} is undefined on these labels (a class may be missing)"
            )

        made: list[np.ndarray] = []  # every scorer call's predictions, in call order

        def scorer(estimator: Any, X: pd.DataFrame, y: np.ndarray) -> float:
            made.append(adapter.predict_scores(X))
            return score_predictions(adapter, made[-1], y)

        result = permutation_importance(
            _Fitted(),
            ctx.X.loc[:, list(adapter.feature_names)],
            ctx.y,
            scoring=scorer,
            n_repeats=repeats,
            random_state=ctx.seed,
            n_jobs=1,
        )
        return ImportanceTable(
            method=self.name,
            unit=f"score_drop:{metric_name(adapter)}",
            features=adapter.feature_names,
            outputs=(POOLED,),
            values=np.asarray(result.importances_mean).reshape(-1, 1),
            spread=np.asarray(result.importances_std).reshape(-1, 1),
            spread_kind="std",
            params={
                "n_repeats": repeats,
                "metric": metric_name(adapter),
                "seed": ctx.seed,
                "rows": len(ctx.y),
            },
            bootstrap=bootstrap_importances(
                adapter.task, ctx.y, made, result.importances, ctx.seed
            ),
        )


def bootstrap_importances(
    task: str, y: np.ndarray, made: list[np.ndarray], importances: np.ndarray, seed: int
) -> np.ndarray | None:
    """Permutation importances recomputed on each bootstrap resample of the rows.

    ``made`` holds the predictions of scikit-learn's scorer calls: the baseline, then each
    feature's repeats in feature order (its serial call order). Rather than trust that order,
    the unweighted scores are first checked to reproduce scikit-learn's ``importances``
    (features x repeats); if they do not, no bootstrap is returned (no interval, not a wrong one).
    The same permuted predictions are reweighted per resample: the permutation randomness is
    averaged over the repeats, the row-sampling randomness is what the interval shows.
    """
    features, repeats = importances.shape
    if len(made) != 1 + features * repeats:
        return None
    metrics = [WeightedScore(task, y, p) for p in made]
    ones = np.ones((1, len(y)))
    check = np.array([m(ones)[0] for m in metrics])
    drops = (check[0] - check[1:]).reshape(features, repeats)
    if not np.allclose(drops, importances, rtol=1e-9, atol=1e-12, equal_nan=True):
        return None
    blocks = []
    for counts in resample_counts(len(y), seed=seed):
        scored = np.stack([m(counts) for m in metrics], axis=1)  # block x (1 + F x R)
        drop = scored[:, :1] - scored[:, 1:]
        blocks.append(drop.reshape(len(counts), features, repeats).mean(axis=2))
    boot = np.vstack(blocks)
    return boot if np.isfinite(boot).all() else None


EXPLAINERS = (Permutation(),)
