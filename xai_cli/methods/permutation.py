"""Permutation importance: scikit-learn's ``permutation_importance``, with its predictions kept.

The score drop when one column is shuffled, averaged over seeded repeats, with their standard
deviation as the spread. The metric suits the task: ROC AUC (binary), one-vs-rest ROC AUC
(multiclass), R² (regression). Works for any model through the adapter, so it needs no tree.

The shuffles are drawn exactly as scikit-learn's ``permutation_importance`` draws them (the tests
check that the importances are equal), but each shuffled copy is an independent prediction task:
they run in process, or on Dask with ``--engine dask`` (identical numbers), and the predictions
are kept for the bootstrap rank intervals, which scikit-learn's function cannot return. In
process, tree models get the repeats of a column as one stacked prediction built from the rows
typed once (no frame copy and type check per shuffled copy): a tree model predicts each row on
its own, so the numbers are the same, at fewer and larger calls.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from pydantic import Field

from xai_cli import progress
from xai_cli.compare.bootstrap import RESAMPLES, WeightedScore, resample_counts
from xai_cli.methods.base import SUPPORTED, ExplainContext, Support, Timer, read_params
from xai_cli.methods.params import MethodParams
from xai_cli.model.adapter import ModelAdapter
from xai_cli.results import POOLED, ImportanceTable


class PermutationParams(MethodParams):
    """Parameters of ``permutation``."""

    n_repeats: int = Field(
        5,
        ge=1,
        le=1000,
        description="Seeded shuffles per column; the spread is their standard deviation "
        "(cost grows with features x repeats).",
    )
    tree_walk: bool = Field(
        True,
        description="Tree ensembles: predict the shuffled copies by re-walking only the trees "
        "that split on the shuffled column, from each row's cached leaves, checked bit for bit "
        "against the library first (false: the library predicts every copy).",
    )
    bootstrap: bool = Field(
        True,
        description="Recompute the importances on bootstrap resamples of the rows for rank "
        "intervals (false: no intervals; the importances are the same, about 40% faster).",
    )


COST_ROWS = 256
"""Rows the a-priori cost model times one prediction on."""



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


MAX_KEPT_CELLS = 50_000_000
"""Predictions are kept for the bootstrap only up to this many numbers (400 MB); beyond that,
each is scored and dropped, and the method gets no rank interval."""


def shuffle_orders(rows: int, repeats: int, seed: int) -> list[np.ndarray]:
    """The row order of a shuffled column at each repeat, as ``permutation_importance`` draws
    them: one int seed drawn from ``seed``, the same sequence for every column, and each repeat
    reshuffling the already shuffled column."""
    from sklearn.utils import check_random_state

    column_seed = check_random_state(seed).randint(np.iinfo(np.int32).max + 1)
    rng = check_random_state(column_seed)
    shuffling, order, out = np.arange(rows), np.arange(rows), []
    for _ in range(repeats):
        rng.shuffle(shuffling)
        order = order[shuffling]
        out.append(order)
    return out


def predict_shuffled(
    task: tuple[int, np.ndarray], adapter: ModelAdapter, X: pd.DataFrame
) -> np.ndarray:
    """The model's scores on ``X`` with column ``task[0]`` put in row order ``task[1]``.

    One independent task, run in process or on a Dask worker (module level, so it pickles)."""
    return adapter.predict_scores(shuffled(X, *task))


def shuffled(X: pd.DataFrame, column: int, order: np.ndarray) -> pd.DataFrame:
    """A copy of ``X`` with the column at position ``column`` put in row order ``order``; the
    dtype is kept, so categories stay categories."""
    out = X.copy()
    values = X.iloc[order, column]
    values.index = X.index
    out[X.columns[column]] = values
    return out


BATCH_FAMILIES = ("xgboost", "lightgbm", "catboost", "sklearn_tree")
"""Families whose prediction of a row does not depend on the other rows of the call (trees
walked per row), so a column's repeats can be predicted in one stacked call with the same
numbers. Linear models are left out: BLAS may block a larger matrix differently."""
MAX_BATCH_CELLS = 20_000_000
"""Most values in one stacked frame of repeats (160 MB of float64); more repeats are split."""


def stacked(typed: pd.DataFrame, column: int, orders: list[np.ndarray]) -> pd.DataFrame:
    """The typed frame repeated once per order, its column ``column`` put in each row order:
    built column by column with ``take`` (dtypes kept, categories stay categories), not by
    copying a frame per repeat."""
    n = len(typed)
    same = np.tile(np.arange(n), len(orders))
    moved = np.concatenate(orders)
    data = {
        name: typed[name].array.take(moved if j == column else same)
        for j, name in enumerate(typed.columns)
    }
    return pd.DataFrame(data, copy=False)


def predict_repeats(
    task: tuple[int, list[np.ndarray]], adapter: ModelAdapter, typed: pd.DataFrame
) -> list[np.ndarray]:
    """The model's scores for each shuffle of one column, from one stacked prediction."""
    column, orders = task
    scores = adapter.predict_scores(stacked(typed, column, orders), typed=True)
    n = len(typed)
    return [scores[r * n : (r + 1) * n] for r in range(len(orders))]


def _repeat_groups(orders: list[np.ndarray], cells: int) -> list[list[np.ndarray]]:
    """The repeats in groups whose stacked frames stay under :data:`MAX_BATCH_CELLS`."""
    size = max(1, MAX_BATCH_CELLS // max(cells, 1))
    return [orders[i : i + size] for i in range(0, len(orders), size)]


def _tree_walk(
    wanted: bool, adapter: ModelAdapter, X: pd.DataFrame, typed: pd.DataFrame,
    predictions: np.ndarray, orders: list[np.ndarray],
) -> tuple[Any, str]:  # fmt: skip
    """xai's checked tree walk (:mod:`xai_cli.methods.permutation_trees`) when the model allows
    it, and how the copies are predicted (with the reason when it falls back)."""
    if not wanted:
        return None, "library"
    from xai_cli.methods.permutation_trees import NotReproduced, prepare

    try:
        return prepare(adapter, X, typed, predictions, orders), "xai tree walk (checked)"
    except NotReproduced as exc:
        return None, f"library ({exc})"


def _in_process(fn: Callable[..., Any], items: list[Any], **shared: Any) -> list[Any]:
    return [fn(item, **shared) for item in items]


@dataclass(frozen=True)
class Permutation:
    """Permutation importance over the adapter's predictions, shuffled as scikit-learn does."""

    name: str = "permutation"
    library: str = "scikit-learn"
    needs_target: bool = True
    uses_rows: bool = True
    description: str = "permutation importance as scikit-learn draws it, score drop (ROC AUC or R²)"
    params: ClassVar[type[PermutationParams]] = PermutationParams
    in_auto: ClassVar[bool] = True
    row_wise: ClassVar[bool] = False  # a score over all rows: not per row
    distributes: ClassVar[bool] = True  # its prediction tasks run on Dask with --engine dask

    def supports(self, adapter: ModelAdapter) -> Support:
        return SUPPORTED

    def cost_model(
        self, ctx: ExplainContext, rows: int, timer: Timer
    ) -> tuple[float, str]:
        """A cheap a-priori time for the estimate: one prediction on at most
        :data:`COST_ROWS` rows (the faster of two) scaled to ``rows`` rows and ``1 + F x R``
        calls. A small batch's per-call overhead is scaled up with it, so this errs long."""
        params_ = read_params(ctx, self.params, self.name)
        repeats = params_.n_repeats
        calls = 1 + len(ctx.adapter.feature_names) * repeats
        batch = ctx.X.iloc[:COST_ROWS]
        timings = []
        for _ in range(2):
            start = timer()
            ctx.adapter.predict_scores(batch)
            timings.append(timer() - start)
        seconds = min(timings) / max(len(batch), 1) * rows * calls
        return seconds, f"one prediction on {len(batch)} rows timed, x {calls} calls"

    def estimate_seconds(
        self, ctx: ExplainContext, rows: int, timer: Timer
    ) -> tuple[float, str]:
        """This run's time from its parts, timed on all the rows: ``1 + F x R`` predictions and
        scores (the baseline, then each shuffled column and repeat) and the bootstrap, whose
        per-metric cost is timed on one metric (only when the run keeps the predictions for it:
        wide data does not, see :data:`MAX_KEPT_CELLS`)."""
        assert ctx.y is not None
        params_ = read_params(ctx, self.params, self.name)
        repeats = params_.n_repeats
        calls = 1 + len(ctx.adapter.feature_names) * repeats
        timings = []
        for _ in range(2):  # the faster of two: the first may pay one-time costs
            start = timer()
            predictions = ctx.adapter.predict_scores(ctx.X)
            score_predictions(ctx.adapter, predictions, ctx.y)
            timings.append(timer() - start)
        one_call = min(timings)
        if predictions.size * calls > MAX_KEPT_CELLS:  # no bootstrap: see explain()
            return calls * one_call, f"one prediction and score timed, x {calls} calls"
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
        assert ctx.y is not None
        adapter = ctx.adapter
        params_ = read_params(ctx, self.params, self.name)
        repeats = params_.n_repeats
        X = ctx.X.loc[:, list(adapter.feature_names)]
        predictions = adapter.predict_scores(X)
        baseline = score_predictions(adapter, predictions, ctx.y)
        if not np.isfinite(baseline):
            raise ValueError(
                f"{metric_name(adapter)} is undefined on these labels (a class may be missing)"
            )
        orders = shuffle_orders(len(X), repeats, ctx.seed)
        keep = params_.bootstrap and (
            predictions.size * (1 + X.shape[1] * repeats) <= MAX_KEPT_CELLS
        )
        run = ctx.task_map or _in_process
        made, scores = [predictions], []
        batched = ctx.task_map is None and adapter.family in BATCH_FAMILIES
        typed = adapter.typed_frame(X) if batched else X  # typed once, not once per copy
        groups = _repeat_groups(orders, X.size)
        walk, how = _tree_walk(params_.tree_walk and batched, adapter, X, typed, predictions,
                               orders)  # fmt: skip
        for column in range(X.shape[1]):  # a column at a time: memory stays bounded
            if walk is not None:
                batch = walk.column_scores(column)
            elif batched:
                batch = [p for g in groups for p in predict_repeats((column, g), adapter, typed)]
            else:
                batch = run(predict_shuffled, [(column, o) for o in orders], adapter=adapter, X=X)
            scores.extend(score_predictions(adapter, p, ctx.y) for p in batch)
            made.extend(batch if keep else [])
            progress.advance((column + 1) * repeats, X.shape[1] * repeats, "shuffled copies")
        importances = (baseline - np.array(scores)).reshape(X.shape[1], repeats)
        params: dict[str, Any] = {"n_repeats": repeats, "metric": metric_name(adapter),
                                  "seed": ctx.seed, "rows": len(ctx.y)}  # fmt: skip
        params["predictions"] = "dask" if ctx.task_map is not None else how
        return ImportanceTable(
            method=self.name,
            unit=f"score_drop:{metric_name(adapter)}",
            features=adapter.feature_names,
            outputs=(POOLED,),
            values=importances.mean(axis=1).reshape(-1, 1),
            spread=importances.std(axis=1).reshape(-1, 1),
            spread_kind="std",
            params=params,
            bootstrap=(
                bootstrap_importances(adapter.task, ctx.y, made, importances, ctx.seed)
                if keep
                else None
            ),
        )


def bootstrap_importances(
    task: str, y: np.ndarray, made: list[np.ndarray], importances: np.ndarray, seed: int
) -> np.ndarray | None:
    """Permutation importances recomputed on each bootstrap resample of the rows.

    ``made`` holds the predictions: the baseline, then each feature's repeats in feature order.
    The weighted metric at unit weights is first checked to reproduce ``importances`` (features x
    repeats), which scikit-learn's metric computed; if it does not, no bootstrap is returned (no
    interval rather than a wrong one).
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
    residuals = None
    if task not in ("binary", "multiclass"):  # R²: every prediction's squared errors at once
        yf = np.asarray(y, dtype=float)
        residuals = (yf[:, None] - np.column_stack([p.reshape(-1) for p in made])) ** 2
    progress.advance(0, RESAMPLES, "bootstrap resamples")
    for counts in resample_counts(len(y), seed=seed):
        if residuals is not None:  # one matrix product instead of 1 + F x R of them
            yf = np.asarray(y, dtype=float)
            total = counts.sum(axis=1)
            mean = counts @ yf / total
            ss_tot = counts @ (yf * yf) - total * mean * mean
            with np.errstate(divide="ignore", invalid="ignore"):
                scored = 1.0 - (counts @ residuals) / ss_tot[:, None]
        else:
            scored = np.stack([m(counts) for m in metrics], axis=1)  # block x (1 + F x R)
        drop = scored[:, :1] - scored[:, 1:]
        blocks.append(drop.reshape(len(counts), features, repeats).mean(axis=2))
        progress.advance(sum(len(b) for b in blocks), RESAMPLES, "bootstrap resamples")
    boot = np.vstack(blocks)
    return boot if np.isfinite(boot).all() else None


EXPLAINERS = (Permutation(),)
