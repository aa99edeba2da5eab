"""Permutation importance on tree ensembles without re-predicting every tree of every copy.

Shuffling column ``j`` changes a row's output only in the trees where the row's own path tests
``j``: a path that never tests ``j`` makes the same decisions whatever ``j`` holds, so it ends in
the same leaf. So each row's leaf in every tree is found once (``rows x trees``), and each shuffled
copy re-walks only the (row, tree) pairs whose leaf's root path tests ``j`` (about ``depth /
features`` of them), re-using the cached leaf everywhere else.

**Why the numbers are the library's own, bit for bit.** A row is routed by the same split rules
xai's TreeSHAP kernels use (:func:`xai_cli.methods.tables.kernels._goes_left`: float32 compares
for XGBoost, CatBoost and scikit-learn, LightGBM's float64 with its zero threshold) on the matrix
the library's parser encodes, and the leaf values are added *as the library adds them*: in tree
order, per output, in the library's precision (XGBoost: float32 from its base margin; LightGBM,
CatBoost, scikit-learn: float64), then the library's own finishing step (a forest's division by
its tree count, CatBoost's scale and bias, scikit-learn's loss link) and the same sigmoid or
softmax the adapter applies. Floating-point addition is not associative, so the order matters;
the order each library uses was checked against its own predictions. (float32 sums are computed
in float64 and rounded to float32 after each addition, which gives the float32 sum exactly:
:func:`_add`.) The reassembled margin is
therefore the same float as the library's, and the scores (and importances) are equal.

**And it is checked on every run**: the baseline scores of all rows, and a block of shuffled rows
for every column, are compared bit for bit with the library's own predictions before any copy is
trusted; any difference (a model or version that sums in another order, an objective with another
link, a parser gap) sends the run back to the library's predictions, with the reason in the
method's ``params["predictions"]``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numba import njit, prange

from xai_cli.methods.tables.kernels import _goes_left
from xai_cli.model.adapter import ModelAdapter
from xai_cli.model.forest import Forest, UnsupportedForest, build_forest

LEAF_CELLS = 32_000_000
"""Most (row, tree) leaf indices cached at once (128 MB of int32); beyond, rows go in chunks and
each column re-walks a chunk's trees (a prediction per column instead of one per copy)."""
CHECK_ROWS = 64
"""Rows per column of the shuffled block checked against the library before the run."""

XGB_IDENTITY = frozenset(
    {"reg:squarederror", "reg:absoluteerror", "reg:pseudohubererror", "reg:quantileerror"}
)
"""XGBoost objectives whose prediction is the margin (base score in the output space)."""
LGB_IDENTITY = frozenset(
    {"regression", "regression_l2", "l2", "mse", "mean_squared_error", "rmse", "regression_l1",
     "l1", "mae", "huber", "fair", "quantile", "mape"}
)  # fmt: skip
"""LightGBM objectives whose ``predict`` is the raw score."""
CATBOOST_IDENTITY = frozenset({"RMSE", "MAE", "Quantile", "MAPE", "Huber", "Expectile", "Lq"})
"""CatBoost losses whose ``predict`` is ``RawFormulaVal``."""


class NotReproduced(Exception):
    """The model's predictions cannot be reassembled here; the message says why."""


@dataclass(frozen=True)
class TreeSums:
    """A forest with everything needed to add its leaves as the library does.

    ``value`` holds the leaf values (float64 arrays, values float32 when ``f32``); ``start`` the
    per-output starting value (the base margin); ``f32``: the library adds in float32;
    ``finish`` turns the summed margins (rows x outputs) into the scores
    :meth:`ModelAdapter.predict_scores` returns."""

    forest: Forest
    encode: Callable[[pd.DataFrame], np.ndarray]
    value: np.ndarray
    start: np.ndarray
    finish: Callable[[np.ndarray], np.ndarray]
    f32: bool = False


# ----- the kernels ------------------------------------------------------------------------------
@njit(parallel=True, cache=True)
def leaf_matrix(
    tree_offsets: np.ndarray, left: np.ndarray, right: np.ndarray, feature: np.ndarray,
    threshold: np.ndarray, rule: np.ndarray, missing: np.ndarray, default_left: np.ndarray,
    cat_offsets: np.ndarray, cat_values: np.ndarray, X: np.ndarray,
) -> np.ndarray:  # fmt: skip
    """The leaf (global node index) each row of ``X`` reaches in each tree: trees x rows (a
    tree's leaves of consecutive rows are adjacent, as :func:`shuffled_sums` reads them)."""
    n_trees = len(tree_offsets) - 1
    out = np.empty((n_trees, X.shape[0]), dtype=np.int32)
    for i in prange(X.shape[0]):
        for t in range(n_trees):
            o = tree_offsets[t]
            node = o
            while left[node] >= 0:
                x = X[i, feature[node]]
                if _goes_left(x, node, threshold, rule, missing, default_left, cat_offsets,
                              cat_values):  # fmt: skip
                    node = o + left[node]
                else:
                    node = o + right[node]
            out[t, i] = node
    return out


@njit(cache=True)
def entry_nodes(
    tree_offsets: np.ndarray, left: np.ndarray, right: np.ndarray, feature: np.ndarray,
    threshold: np.ndarray, rule: np.ndarray, missing: np.ndarray, column: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """Per node: its topmost ancestor that splits on ``column`` (``-1``: its root path never
    tests ``column``), and the interval ``[low, high)`` of ``column`` values that take every
    split on ``column`` above it the way its path goes.

    A row whose cached leaf has an entry node made every decision above that node without reading
    ``column``, so a shuffled copy re-walks the tree from there, and only when the new value is
    outside the interval: inside it, each split on ``column`` goes the same way, so the leaf is
    the same. ``x <= t`` is ``x < nextafter(t, inf)`` exactly in float64, so both rules make
    half-open intervals; NaN is in no interval (it is always walked), and a path through a
    categorical or LightGBM zero-as-missing split on ``column`` gets an empty interval (always
    walked). Children come after their parent in storage order, so one pass fills it."""
    n = len(left)
    entry = np.full(n, -1, dtype=np.int64)
    low = np.full(n, -np.inf)
    high = np.full(n, np.inf)
    for t in range(len(tree_offsets) - 1):
        o = tree_offsets[t]
        for node in range(o, tree_offsets[t + 1]):
            if left[node] < 0:
                continue
            a, b, c = o + left[node], o + right[node], entry[node]
            low[a], high[a], low[b], high[b] = low[node], high[node], low[node], high[node]
            if feature[node] == column:
                c = node if c < 0 else c
                if rule[node] >= 2 or missing[node] == 2:
                    low[a], high[a], low[b], high[b] = np.inf, -np.inf, np.inf, -np.inf
                else:
                    cut = threshold[node] if rule[node] == 0 else np.nextafter(
                        threshold[node], np.inf)
                    high[a] = min(high[a], cut)
                    low[b] = max(low[b], cut)
            entry[a], entry[b] = c, c
    return entry, low, high


@njit(cache=True, inline="always")
def _add(total: float, leaf: float, f32: bool) -> float:
    """``total + leaf`` rounded as the library rounds it: float32 addition when ``f32``.

    Both are float32 values held in float64; their float64 sum rounded to float32 is their
    float32 sum, since float64's 53 bits are at least ``2 x 24 + 2`` (double rounding is then
    innocuous for addition: Figueroa, "When is double rounding innocuous?", 1995). One float64
    kernel thus serves every library (one compile, not one per dtype)."""
    s = total + leaf
    return np.float64(np.float32(s)) if f32 else s


@njit(cache=True)
def summed(leaves: np.ndarray, value: np.ndarray, tree_output: np.ndarray, start: np.ndarray,
           f32: bool, out: np.ndarray) -> None:  # fmt: skip
    """``out[i, k]``: ``start[k]`` plus row ``i``'s leaf values of output ``k``'s trees, added in
    tree order in the library's precision (:func:`_add`). Serial: it runs once per run, a few
    milliseconds, and a parallel kernel costs seconds more to compile."""
    for i in range(leaves.shape[1]):
        for k in range(out.shape[1]):
            out[i, k] = start[k]
        for t in range(leaves.shape[0]):
            k = tree_output[t]
            out[i, k] = _add(out[i, k], value[leaves[t, i]], f32)


BLOCK = 256
"""Rows a thread takes at once in :func:`shuffled_sums`: their sums stay in cache while every
tree's nodes are used for all of them, one tree after the other (as XGBoost blocks rows)."""


@njit(parallel=True, cache=True)
def shuffled_sums(
    tree_offsets: np.ndarray, tree_output: np.ndarray, left: np.ndarray, right: np.ndarray,
    feature: np.ndarray, threshold: np.ndarray, rule: np.ndarray, missing: np.ndarray,
    default_left: np.ndarray, cat_offsets: np.ndarray, cat_values: np.ndarray,
    value: np.ndarray, X: np.ndarray, leaves: np.ndarray, lo: int, column: int,
    moved: np.ndarray, entry: np.ndarray, low: np.ndarray, high: np.ndarray,
    start: np.ndarray, f32: bool, out: np.ndarray,
) -> None:  # fmt: skip
    """``out[r, i]``: the summed margins of row ``lo + i`` with ``column`` set to
    ``moved[r, i]`` (the value a shuffle brings to it). Only the trees whose cached leaf
    ``leaves[t, i]`` lies below a split on ``column``, and whose new value leaves that leaf's
    interval, are walked again, from that split (:func:`entry_nodes`); the others keep their
    leaf. Rows go in blocks of :data:`BLOCK`, trees in order within a block, so each row's sum
    is added in tree order, in the library's precision, as in :func:`summed`."""
    repeats, rows, outputs = out.shape[0], out.shape[1], out.shape[2]
    n_trees = leaves.shape[0]
    for block in prange((rows + BLOCK - 1) // BLOCK):
        i0 = block * BLOCK
        i1 = min(rows, i0 + BLOCK)
        for r in range(repeats):
            for i in range(i0, i1):
                for k in range(outputs):
                    out[r, i, k] = start[k]
        for t in range(n_trees):
            o = tree_offsets[t]
            k = tree_output[t]
            for i in range(i0, i1):
                leaf = leaves[t, i]
                first = entry[leaf]
                if first < 0:  # the path never tests the column: the same leaf in every copy
                    for r in range(repeats):
                        out[r, i, k] = _add(out[r, i, k], value[leaf], f32)
                    continue
                row = lo + i
                for r in range(repeats):
                    v = moved[r, i]
                    node = leaf
                    if not (low[leaf] <= v < high[leaf]):
                        node = first
                        while left[node] >= 0:
                            f = feature[node]
                            x = v if f == column else X[row, f]
                            if _goes_left(x, node, threshold, rule, missing, default_left,
                                          cat_offsets, cat_values):  # fmt: skip
                                node = o + left[node]
                            else:
                                node = o + right[node]
                    out[r, i, k] = _add(out[r, i, k], value[node], f32)


def _routing(forest: Forest) -> tuple[np.ndarray, ...]:
    return (forest.tree_offsets, forest.left, forest.right, forest.feature, forest.threshold,
            forest.rule, forest.missing, forest.default_left, forest.cat_offsets,
            forest.cat_values)  # fmt: skip


# ----- the library's accumulation, per family ---------------------------------------------------
def _sigmoid_scores(raw: np.ndarray) -> np.ndarray:
    """The adapter's binary scores from the margin (ModelAdapter.predict_scores)."""
    p = 1.0 / (1.0 + np.exp(-raw[:, 0]))
    return np.column_stack([1.0 - p, p])


def _softmax_scores(raw: np.ndarray) -> np.ndarray:
    """The adapter's multiclass scores from the margins (ModelAdapter.predict_scores)."""
    z = np.exp(raw - raw.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def _booster_finish(adapter: ModelAdapter, identity: frozenset[str]) -> Callable[..., Any]:
    if adapter.task == "binary":
        return _sigmoid_scores
    if adapter.task == "multiclass":
        return _softmax_scores
    if adapter.objective not in identity:
        raise NotReproduced(f"objective '{adapter.objective}' predicts through a link")
    return lambda raw: raw[:, 0]


def _xgboost(adapter: ModelAdapter) -> TreeSums:
    """XGBoost adds float32 leaf values to a float32 base margin in tree order (its CPU
    predictor); a binary:logistic base score is turned into a margin as ``-log(1/p - 1)`` in
    float32 (``ProbToMargin``), a multiclass one is stored as margins."""
    from xai_cli.model.parsers import parse_xgboost

    finish = _booster_finish(adapter, XGB_IDENTITY)
    parsed = parse_xgboost(adapter)
    config = json.loads(adapter.native.save_config())["learner"]
    text = str(config["learner_model_param"]["base_score"])
    base = np.atleast_1d(np.asarray(json.loads(text) if text.startswith("[") else float(text),
                                    dtype=np.float32))  # fmt: skip
    if adapter.objective == "binary:logistic":
        base = -np.log(np.float32(1.0) / base - np.float32(1.0))
    elif adapter.task == "binary":
        raise NotReproduced(f"objective '{adapter.objective}' has another base margin")
    start = np.broadcast_to(base, (parsed.forest.n_outputs,)).astype(np.float64)
    value = parsed.forest.value.astype(np.float32).astype(np.float64)  # exact: stored as float32
    return TreeSums(parsed.forest, parsed.encode, value, start, finish, f32=True)


def _lightgbm(adapter: ModelAdapter) -> TreeSums:
    """LightGBM adds its float64 leaf values from 0 in tree order (``GBDT::PredictRaw``; the
    average of boost_from_average is inside the first tree's leaves)."""
    from xai_cli.model.parsers import parse_lightgbm

    if "average_output" in adapter.native.model_to_string(num_iteration=1):
        raise NotReproduced("LightGBM random-forest mode averages its trees")
    finish = _booster_finish(adapter, LGB_IDENTITY)
    parsed = parse_lightgbm(adapter)
    start = np.zeros(parsed.forest.n_outputs)
    return TreeSums(parsed.forest, parsed.encode, parsed.forest.value, start, finish)


def _catboost(adapter: ModelAdapter) -> TreeSums:
    """CatBoost adds its float64 leaf values in tree order, then applies ``scale`` and ``bias``
    (``RawFormulaVal``); classifiers' probabilities are checked, not assumed."""
    from xai_cli.model.parsers import parse_catboost

    finish = _booster_finish(adapter, CATBOOST_IDENTITY)
    parsed = parse_catboost(adapter)
    scale, bias = adapter.native.get_scale_and_bias()
    bias_ = np.broadcast_to(np.asarray(bias, dtype=np.float64), (parsed.forest.n_outputs,))

    def done(raw: np.ndarray) -> np.ndarray:
        return finish(raw * scale + bias_ if scale != 1.0 else raw + bias_)

    start = np.zeros(parsed.forest.n_outputs)
    return TreeSums(parsed.forest, parsed.encode, parsed.forest.value, start, done)


def _sklearn_averaged(adapter: ModelAdapter) -> TreeSums:
    """Forests and single trees: scikit-learn adds each tree's prediction (a classifier's class
    fractions, every class, as stored since scikit-learn 1.4; older versions stored counts and
    normalised them) into zeros in tree order, then divides by the tree count
    (``ForestClassifier.predict_proba``, ``ForestRegressor.predict``)."""
    from xai_cli.model.parsers import _matrix, _sklearn_tree

    model = adapter.native
    estimators = list(model.estimators_) if hasattr(model, "estimators_") else [model]
    classes = len(model.classes_) if adapter.is_classifier else 1
    trees = []
    for est in estimators:
        raw = np.asarray(est.tree_.value, dtype=np.float64)[:, 0, :]
        if adapter.is_classifier:
            raw = raw[:, :classes]
            norm = raw.sum(axis=1, keepdims=True)
            if not np.allclose(norm, 1.0):  # counts (scikit-learn < 1.4): it normalised them
                raw = raw / np.where(norm == 0.0, 1.0, norm)
        for k in range(classes):
            trees.append((_sklearn_tree(est.tree_, raw[:, k]), 0, k))
    forest = build_forest(trees, len(adapter.feature_names), classes)
    count = float(len(estimators)) if hasattr(model, "estimators_") else 1.0

    def finish(raw: np.ndarray) -> np.ndarray:
        out = raw / count if count != 1.0 else raw
        return out if adapter.is_classifier else out[:, 0]

    return TreeSums(forest, lambda X: _matrix(adapter, X, {}, f32=True), forest.value,
                    np.zeros(classes), finish)  # fmt: skip


def _sklearn_boosted(adapter: ModelAdapter, X: pd.DataFrame) -> TreeSums:
    """Gradient boosting: the init estimator's raw prediction (a constant, read on one row)
    plus ``learning_rate x leaf`` per stage in order (``predict_stages``); HistGradientBoosting:
    ``_baseline_prediction`` plus each predictor's leaf in order. Then the model's own loss
    turns the raw score into probabilities or predictions."""
    from xai_cli.model.parsers import parse_sklearn

    model = adapter.native
    parsed = parse_sklearn(adapter)
    if adapter.model_class.startswith("Hist"):
        start = np.asarray(model._baseline_prediction, dtype=np.float64).reshape(-1)
    else:
        first = np.asarray(adapter.prepare(X.iloc[:1]), dtype=np.float32)
        start = np.asarray(model._raw_predict_init(first), dtype=np.float64).reshape(-1)
    loss = model._loss
    if adapter.is_classifier:
        def finish(raw: np.ndarray) -> np.ndarray:
            return np.asarray(loss.predict_proba(raw))
    else:
        def finish(raw: np.ndarray) -> np.ndarray:
            out = raw.ravel()
            return np.asarray(loss.link.inverse(out)) if adapter.model_class.startswith(
                "Hist") else out
    return TreeSums(parsed.forest, parsed.encode, parsed.forest.value, start, finish)


def tree_sums(adapter: ModelAdapter, X: pd.DataFrame) -> TreeSums:
    """The model as :class:`TreeSums`, or :class:`NotReproduced` with the reason."""
    try:
        if adapter.family == "xgboost":
            return _xgboost(adapter)
        if adapter.family == "lightgbm":
            return _lightgbm(adapter)
        if adapter.family == "catboost":
            return _catboost(adapter)
        if adapter.family == "sklearn_tree" and adapter.model_class != "IsolationForest":
            if "GradientBoosting" in adapter.model_class:
                return _sklearn_boosted(adapter, X)
            return _sklearn_averaged(adapter)
    except UnsupportedForest as exc:
        raise NotReproduced(str(exc)) from exc
    raise NotReproduced(f"{adapter.model_class} is not reassembled from its trees")


# ----- the permutation driver ------------------------------------------------------------------
class ShuffledScores:
    """The scores of every shuffled copy of a column, from cached leaves.

    Built by :func:`prepare`, which checks it against the library first."""

    def __init__(self, sums: TreeSums, X: pd.DataFrame, orders: list[np.ndarray]) -> None:
        self.sums = sums
        self.matrix = np.ascontiguousarray(sums.encode(X), dtype=np.float64)
        self.orders = np.stack(orders).astype(np.int64)
        forest = sums.forest
        self.chunk = max(1, LEAF_CELLS // max(forest.n_trees, 1))
        self._leaves: dict[int, np.ndarray] = {}
        self.cached = len(X) <= self.chunk

    def leaves(self, lo: int) -> np.ndarray:
        """The cached leaves of the chunk of rows starting at ``lo`` (kept when all rows fit)."""
        if lo in self._leaves:
            return self._leaves[lo]
        block = self.matrix[lo : lo + self.chunk]
        out = leaf_matrix(*_routing(self.sums.forest), block)
        if self.cached:
            self._leaves[lo] = out
        return out

    def baseline(self) -> np.ndarray:
        """The unshuffled rows' scores."""
        n, forest = len(self.matrix), self.sums.forest
        raw = np.empty((n, forest.n_outputs))
        for lo in range(0, n, self.chunk):
            summed(self.leaves(lo), self.sums.value, forest.tree_output, self.sums.start,
                   self.sums.f32, raw[lo : lo + self.chunk])  # fmt: skip
        return self.sums.finish(raw)

    def margins(self, column: int, repeats: slice, rows: int | None = None) -> np.ndarray:
        """Summed margins (repeats x rows x outputs) of the first ``rows`` rows (all: None)."""
        forest, sums = self.sums.forest, self.sums
        n = len(self.matrix) if rows is None else min(rows, len(self.matrix))
        orders = self.orders[repeats]
        entry, low, high = entry_nodes(forest.tree_offsets, forest.left, forest.right,
                                       forest.feature, forest.threshold, forest.rule,
                                       forest.missing, column)  # fmt: skip
        out = np.empty((len(orders), n, forest.n_outputs))
        for lo in range(0, n, self.chunk):
            hi = min(n, lo + self.chunk)
            leaves = self.leaves(lo)[:, : hi - lo]
            if not leaves.flags.c_contiguous:
                leaves = np.ascontiguousarray(leaves)
            moved = np.ascontiguousarray(self.matrix[:, column][orders[:, lo:hi]])
            # contiguous buffers: one compiled signature (a strided view would add another)
            block = out if hi - lo == n else np.empty((len(orders), hi - lo, forest.n_outputs))
            shuffled_sums(forest.tree_offsets, forest.tree_output, forest.left, forest.right,
                          forest.feature, forest.threshold, forest.rule, forest.missing,
                          forest.default_left, forest.cat_offsets, forest.cat_values,
                          sums.value, self.matrix, leaves, lo, column, moved, entry, low, high,
                          sums.start, sums.f32, block)  # fmt: skip
            if block is not out:
                out[:, lo:hi] = block
        return out

    def column_scores(self, column: int) -> list[np.ndarray]:
        """The scores of each shuffled copy of ``column``, in repeat order."""
        raw = self.margins(column, slice(None))
        return [self.sums.finish(raw[r]) for r in range(len(raw))]


def check_block(
    adapter: ModelAdapter, typed: pd.DataFrame, orders: list[np.ndarray], rows: int
) -> np.ndarray:
    """The library's scores of the first ``rows`` rows with each column in turn shuffled by the
    first repeat's order (columns stacked, in column order), in one call."""
    first = orders[0][:rows]
    same = np.arange(len(first))
    data = {
        name: typed[name].array.take(
            np.concatenate([first if j == k else same for j in range(typed.shape[1])])
        )
        for k, name in enumerate(typed.columns)
    }
    return adapter.predict_scores(pd.DataFrame(data, copy=False), typed=True)


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and bool(np.array_equal(a, b, equal_nan=True))


def prepare(
    adapter: ModelAdapter, X: pd.DataFrame, typed: pd.DataFrame, predictions: np.ndarray,
    orders: list[np.ndarray],
) -> ShuffledScores:  # fmt: skip
    """A checked :class:`ShuffledScores`, or :class:`NotReproduced` with the reason.

    ``predictions`` are the library's scores of ``X`` (the baseline the run makes anyway); they
    must equal the reassembled baseline bit for bit, and so must a block of
    :data:`CHECK_ROWS` shuffled rows per column (one library call)."""
    fast = ShuffledScores(tree_sums(adapter, X), X, orders)
    if not _same(fast.baseline(), predictions):
        raise NotReproduced("the reassembled baseline differs from the library's predictions")
    rows = min(CHECK_ROWS, len(X))
    want = check_block(adapter, typed, orders, rows)
    got = np.concatenate([
        fast.sums.finish(fast.margins(j, slice(0, 1), rows)[0])
        for j in range(X.shape[1])
    ])  # fmt: skip
    if not _same(got, want):
        raise NotReproduced("reassembled shuffled rows differ from the library's predictions")
    return fast
