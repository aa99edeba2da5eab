"""Bootstrap over the explained rows: seeded resample weights and weighted scores.

Every method's rank interval uses the same resamples (same seed, same draw order), so the
intervals of two methods are paired: resample ``b`` is the same multiset of rows for both. A
resample is a vector of multinomial counts (how often each row was drawn), used as row weights,
so nothing is copied and the model is never called again.

The weighted scores equal scikit-learn's ``roc_auc_score`` and ``r2_score`` with
``sample_weight=counts`` (tested); they are vectorised over many resamples at once because
permutation importance needs ``resamples x (1 + features x repeats)`` of them.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

RESAMPLES = 200
"""Bootstrap resamples behind each rank interval."""

CHUNK_CELLS = 2_000_000
"""Resamples are weighted in blocks of at most this many (resample, row) cells, bounding memory."""


def resample_counts(n: int, resamples: int = RESAMPLES, seed: int = 0) -> Iterator[np.ndarray]:
    """Blocks of bootstrap counts (block rows x ``n``), ``resamples`` rows in all, seeded.

    Drawn one resample at a time from one generator, so block sizes never change the draws.
    """
    rng = np.random.default_rng(seed)
    uniform = np.full(n, 1.0 / n)
    block = max(1, CHUNK_CELLS // max(n, 1))
    for start in range(0, resamples, block):
        size = min(block, resamples - start)
        yield np.stack([rng.multinomial(n, uniform) for _ in range(size)]).astype(float)


def weighted_r2(y: np.ndarray, pred: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """R² of ``pred`` for each weight row (resamples x rows): 1 - SS_res / SS_tot."""
    total = weights.sum(axis=1)
    mean = weights @ y / total
    ss_tot = weights @ (y * y) - total * mean * mean
    ss_res = weights @ ((y - pred) ** 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        return 1.0 - ss_res / ss_tot


class WeightedAUC:
    """ROC AUC of one score vector against binary labels, for many row weightings.

    The rows are sorted once; each weighting then costs a gather and a cumulative sum. Tied
    scores count one half, as in scikit-learn.
    """

    def __init__(self, positive: np.ndarray, scores: np.ndarray) -> None:
        self.order = np.argsort(scores, kind="stable")
        ordered = np.asarray(scores)[self.order]
        self.starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
        self.positive = np.asarray(positive, dtype=bool)[self.order]

    def __call__(self, weights: np.ndarray) -> np.ndarray:
        w = weights[:, self.order]
        pos = np.add.reduceat(np.where(self.positive, w, 0.0), self.starts, axis=1)
        neg = np.add.reduceat(np.where(self.positive, 0.0, w), self.starts, axis=1)
        below = np.cumsum(neg, axis=1) - neg
        numerator = (pos * (below + 0.5 * neg)).sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            return numerator / (pos.sum(axis=1) * neg.sum(axis=1))


class WeightedScore:
    """The permutation metric of one prediction matrix for many row weightings.

    ``task`` is ``binary`` (ROC AUC of the positive class), ``multiclass`` (macro one-vs-rest
    ROC AUC) or anything else (R²); ``scores`` are class probabilities or predictions.
    """

    def __init__(self, task: str, y: np.ndarray, scores: np.ndarray) -> None:
        self.task = task
        self.y = np.asarray(y)
        self.scores = np.asarray(scores, dtype=float)
        if task == "binary":
            self.aucs = [WeightedAUC(self.y == 1, self.scores[:, 1])]
        elif task == "multiclass":
            self.aucs = [
                WeightedAUC(self.y == c, self.scores[:, c]) for c in range(scores.shape[1])
            ]
        else:
            self.aucs = []

    def __call__(self, weights: np.ndarray) -> np.ndarray:
        if not self.aucs:
            return weighted_r2(self.y.astype(float), self.scores.reshape(-1), weights)
        return np.mean([auc(weights) for auc in self.aucs], axis=0)
