"""What a report says about the model and the data besides the methods: how good the model is on
the explained rows (scikit-learn's metrics) and the labels behind categorical features' codes.

A reader weighs an explanation by the model it explains: a model at chance level has nothing worth
explaining. Metrics are computed on the rows explained (the sample), with the labels given as
``--target``; none without a target.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd

from xai_cli.model.adapter import ModelAdapter
from xai_cli.report_rows import CategoryEntry, ClassMetric, ModelMetrics

MAX_CATEGORY_LABELS = 50
"""Labels kept per categorical feature (the first ones in code order); the rest are counted."""


def _n(value: float | None, digits: int = 6) -> float | None:
    if value is None:
        return None
    value = float(value)
    return float(f"{value:.{digits}g}") if math.isfinite(value) else None


def _auc(y_true: np.ndarray, score: np.ndarray) -> float | None:
    """ROC AUC, or ``None`` when only one class is present (it is undefined)."""
    from sklearn.metrics import roc_auc_score

    if len(np.unique(y_true)) < 2:
        return None
    return float(roc_auc_score(y_true, score))


def model_metrics(
    adapter: ModelAdapter, X: pd.DataFrame, y: np.ndarray | None
) -> ModelMetrics | None:
    """Accuracy, ROC AUC (one-vs-rest per class for multiclass) and log loss for classifiers;
    R², RMSE and MAE for regression; with the target's base rate. ``None`` without labels.

    ``y`` is the encoded target (class codes ``0..K-1`` in ``adapter.class_labels`` order, or
    floats); the scores are the model's probabilities (:meth:`ModelAdapter.predict_scores`).
    """
    from sklearn import metrics

    if y is None or len(y) == 0:
        return None
    scores = np.asarray(adapter.predict_scores(X), dtype=float)
    if not adapter.is_classifier:
        pred = scores.reshape(-1)
        return ModelMetrics(
            task=adapter.task,
            rows=len(y),
            r2=_n(metrics.r2_score(y, pred)) if len(y) > 1 else None,
            rmse=_n(math.sqrt(metrics.mean_squared_error(y, pred))),
            mae=_n(metrics.mean_absolute_error(y, pred)),
            base_rate=_n(float(np.mean(y))),
        )
    codes = np.asarray(y, dtype=int)
    k = len(adapter.class_labels)
    probs = scores.reshape(len(codes), -1)
    if probs.shape[1] == 1:  # a positive-class column only
        probs = np.column_stack([1.0 - probs[:, 0], probs[:, 0]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loss = metrics.log_loss(codes, np.clip(probs, 1e-15, 1.0), labels=list(range(k)))
    rates = np.bincount(codes, minlength=k) / len(codes)
    per_class = tuple(
        ClassMetric(
            output=label,
            base_rate=_n(rates[c]),
            roc_auc=_n(_auc((codes == c).astype(int), probs[:, c])),
        )
        for c, label in enumerate(adapter.class_labels)
    )
    if adapter.task == "binary":
        auc, base = per_class[1].roc_auc, rates[1]
    else:
        defined = [c.roc_auc for c in per_class if c.roc_auc is not None]
        auc, base = (float(np.mean(defined)) if defined else None), float(rates.max())
    return ModelMetrics(
        task=adapter.task,
        rows=len(codes),
        accuracy=_n(metrics.accuracy_score(codes, probs.argmax(axis=1))),
        roc_auc=_n(auc),
        log_loss=_n(loss),
        per_class=per_class,
        base_rate=_n(base),
    )


def is_categorical(adapter: ModelAdapter, column: pd.Series) -> bool:
    """Whether a feature is drawn as categories: the model says so, or its values are text,
    categories or booleans (which :func:`xai_cli.methods.base.numeric_view` turns into codes)."""
    numeric = pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)
    return column.name in adapter.categorical_features or not numeric


def category_entries(adapter: ModelAdapter, X: pd.DataFrame) -> tuple[CategoryEntry, ...]:
    """For each categorical feature, the number each category has in ``local.data`` and its label.

    Mirrors :func:`xai_cli.methods.base.numeric_view`: text, category and boolean columns become
    their category codes (``astype("category")``); a numeric column the model treats as
    categorical keeps its numbers, each labelled with itself.
    """
    out = []
    for name in X.columns:
        col = X[name]
        if not is_categorical(adapter, col):
            continue
        numeric = pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)
        if numeric:
            distinct = np.unique(col.dropna().to_numpy(dtype=float))
            codes = [float(v) for v in distinct]
            labels = [f"{v:.6g}" for v in distinct]
        else:
            cats = col.astype("category").cat.categories
            codes = [float(i) for i in range(len(cats))]
            labels = [str(c) for c in cats]
        out.append(
            CategoryEntry(
                feature=str(name),
                codes=tuple(codes[:MAX_CATEGORY_LABELS]),
                labels=tuple(labels[:MAX_CATEGORY_LABELS]),
                more=max(0, len(codes) - MAX_CATEGORY_LABELS),
            )
        )
    return tuple(out)
