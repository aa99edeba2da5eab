"""xai's tree walk for permutation importance gives the library's own predictions, bit for bit.

Every shuffled copy of every column is compared with the library predicting the same stacked copy
(:func:`xai_cli.methods.permutation.predict_repeats`), on rows with missing values, categorical
splits and values sitting exactly on split thresholds (and one float step either side). A forest
perturbed by one float step in one leaf, one threshold or the accumulation precision fails the
run's check, and the run then falls back to the library's predictions with the same importances.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from tests.helpers_trees import make_data
from xai_cli.methods import REGISTRY, ExplainContext
from xai_cli.methods import permutation_trees as pt
from xai_cli.methods.permutation import predict_repeats, shuffle_orders
from xai_cli.model.adapter import adapt
from xai_cli.run.engine import encode_target

xgb = pytest.importorskip("xgboost")
lgb = pytest.importorskip("lightgbm")
catboost = pytest.importorskip("catboost")

ROWS = 160
REPEATS = 2


def on_thresholds(X: pd.DataFrame, model: Any, nan: bool) -> pd.DataFrame:
    """``X`` with some rows of each numeric column set exactly on one of the model's split
    thresholds for it, or one float step (of the dtype the library compares in) above or below,
    and (``nan``) a few NaNs."""
    adapter = adapt(model)
    forest = pt.tree_sums(adapter, X).forest
    X = X.copy()
    rng = np.random.default_rng(5)
    for j, name in enumerate(X.columns):
        if isinstance(X[name].dtype, pd.CategoricalDtype):
            continue
        split = (forest.feature == j) & (forest.left >= 0) & (forest.rule < 2)
        cuts = forest.threshold[split & (np.abs(forest.threshold) < 1e30)]  # not NaN-only splits
        if len(cuts) == 0:
            continue
        rows = rng.choice(len(X), size=24, replace=False)
        picked = rng.choice(cuts, size=24)
        step = np.where(np.arange(24) % 3 == 0, 0.0, np.where(np.arange(24) % 3 == 1, 1, -1))
        f32 = np.float32(picked)
        moved = np.where(step == 0, picked, np.nextafter(f32, f32 + step).astype(np.float64))
        X.loc[X.index[rows], name] = moved
        if nan:
            X.loc[X.index[rows[:3]], name] = np.nan
    return X


def fitted(kind: str, rows: int = ROWS) -> tuple[Any, pd.DataFrame, pd.Series]:
    """A small model of each family and routing style, with its rows (NaNs where it takes them)."""
    from sklearn.ensemble import (
        ExtraTreesRegressor,
        GradientBoostingClassifier,
        HistGradientBoostingClassifier,
        RandomForestClassifier,
    )

    task = {"lightgbm": "binary", "random_forest": "multiclass", "gradient_boosting": "binary",
            "hist_gradient_boosting": "binary"}.get(kind, "regression")  # fmt: skip
    X, y = make_data(task, n=rows, n_features=5)
    nan = X.copy()
    nan.iloc[::7, 1] = np.nan
    if kind == "xgboost":
        return xgb.XGBRegressor(n_estimators=6, max_depth=3, n_jobs=1).fit(nan, y), nan, y
    if kind == "lightgbm":
        model = lgb.LGBMClassifier(n_estimators=6, num_leaves=6, min_child_samples=5,
                                   verbose=-1, n_jobs=1)  # fmt: skip
        return model.fit(nan, y), nan, y
    if kind == "catboost":
        model = catboost.CatBoostRegressor(iterations=6, depth=3, verbose=0, thread_count=1,
                                           allow_writing_files=False)  # fmt: skip
        return model.fit(nan, y), nan, y
    if kind == "random_forest":
        model = RandomForestClassifier(n_estimators=4, max_depth=4, random_state=0)
        return model.fit(nan, y), nan, y
    if kind == "extra_trees":
        return ExtraTreesRegressor(n_estimators=4, max_depth=4, random_state=0).fit(X, y), X, y
    if kind == "gradient_boosting":
        return GradientBoostingClassifier(n_estimators=5, max_depth=2).fit(X, y), X, y
    from tests.test_treeshap_fast import categorical_data

    X, y = categorical_data()
    X = X.iloc[:ROWS]
    model = HistGradientBoostingClassifier(max_iter=4, categorical_features="from_dtype")
    with threadpool_limits(1):  # OpenMP on a busy machine: one thread is faster for 160 rows
        return model.fit(X, y.iloc[:ROWS]), X, y.iloc[:ROWS]


KINDS = ["xgboost", "lightgbm", "catboost", "random_forest", "extra_trees",
         "gradient_boosting", "hist_gradient_boosting"]  # fmt: skip


@pytest.mark.parametrize("kind", KINDS)
def test_every_shuffled_copy_is_the_library_prediction(kind: str) -> None:
    model, X, _ = fitted(kind)
    X = on_thresholds(X, model, nan=kind not in ("extra_trees", "gradient_boosting"))
    adapter = adapt(model)
    typed = adapter.typed_frame(X)
    orders = shuffle_orders(len(X), REPEATS, seed=1)
    # prepare raises NotReproduced when its own check finds a difference
    fast = pt.prepare(adapter, X, typed, adapter.predict_scores(X), orders)
    moved = 0
    for column in range(X.shape[1]):
        want = predict_repeats((column, orders), adapter, typed)
        got = fast.column_scores(column)
        for g, w in zip(got, want, strict=True):
            np.testing.assert_array_equal(g, w)
        moved += sum(not np.array_equal(g, got[0]) for g in got[1:])
    assert moved > 0  # the shuffles change the predictions: the comparison is not vacuous


def test_rows_in_blocks_and_chunks_give_the_library_numbers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Rows past one kernel block (:data:`BLOCK`, last block partial), and beyond
    :data:`LEAF_CELLS` re-walked per chunk of rows: every copy is still the library's."""
    model, X, _ = fitted("xgboost", rows=2 * pt.BLOCK + 77)
    adapter = adapt(model)
    orders = shuffle_orders(len(X), REPEATS, seed=2)
    typed = adapter.typed_frame(X)
    whole = pt.prepare(adapter, X, typed, adapter.predict_scores(X), orders)
    monkeypatch.setattr(pt, "LEAF_CELLS", 300 * whole.sums.forest.n_trees)  # chunks of 300 rows
    chunked = pt.prepare(adapter, X, typed, adapter.predict_scores(X), orders)
    assert chunked.chunk == 300 and not chunked.cached
    for column in range(X.shape[1]):
        want = predict_repeats((column, orders), adapter, typed)
        for fast in (whole, chunked):
            for got, expected in zip(fast.column_scores(column), want, strict=True):
                np.testing.assert_array_equal(got, expected)


def _perturbed(how: str) -> Any:
    real = pt.tree_sums

    def tree_sums(adapter: Any, X: pd.DataFrame) -> pt.TreeSums:
        sums = real(adapter, X)
        forest = sums.forest
        if how == "float64 sums":
            return pt.TreeSums(forest, sums.encode, sums.value, sums.start, sums.finish, f32=False)
        if how == "one leaf":
            value = sums.value.copy()
            leaf = int(np.flatnonzero(forest.left < 0)[3])
            value[leaf] = np.float64(np.nextafter(np.float32(value[leaf]), np.float32(np.inf)))
            return pt.TreeSums(forest, sums.encode, value, sums.start, sums.finish, sums.f32)
        # one threshold moved just past a row's value: that row routes the other way
        X_ = sums.encode(X)
        threshold = forest.threshold.copy()
        root = int(forest.tree_offsets[0])
        f = int(forest.feature[root])
        below = X_[:, f][X_[:, f] < threshold[root]].max()
        threshold[root] = below  # x < below is now false for that row
        moved = pt.Forest(**{**forest.__dict__, "threshold": threshold})
        return pt.TreeSums(moved, sums.encode, sums.value, sums.start, sums.finish, sums.f32)

    return tree_sums


@pytest.mark.parametrize("how", ["float64 sums", "one leaf", "one threshold"])
def test_a_perturbed_forest_fails_the_check_and_the_run_falls_back(
    how: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, X, y = fitted("xgboost")
    adapter = adapt(model)
    codes, adapter, _ = encode_target(adapter, y)
    ctx = ExplainContext(adapter=adapter, X=X, y=codes, seed=0, params={"n_repeats": REPEATS})
    walked = REGISTRY["permutation"].explain(ctx)
    assert walked.params["predictions"] == "xai tree walk (checked)"
    monkeypatch.setattr(pt, "tree_sums", _perturbed(how))
    orders = shuffle_orders(len(X), REPEATS, seed=0)
    with pytest.raises(pt.NotReproduced, match="differ"):
        pt.prepare(adapter, X, adapter.typed_frame(X), adapter.predict_scores(X), orders)
    fallback = REGISTRY["permutation"].explain(ctx)
    assert fallback.params["predictions"].startswith("library (")
    np.testing.assert_array_equal(fallback.column(), walked.column())


def test_the_library_path_stays_selectable() -> None:
    model, X, y = fitted("lightgbm")
    adapter = adapt(model)
    codes, adapter, _ = encode_target(adapter, y)
    runs = {
        walk: REGISTRY["permutation"].explain(ExplainContext(
            adapter=adapter, X=X, y=codes, seed=4,
            params={"n_repeats": REPEATS, "tree_walk": walk}))
        for walk in (True, False)
    }  # fmt: skip
    assert runs[False].params["predictions"] == "library"
    assert runs[True].params["predictions"] == "xai tree walk (checked)"
    np.testing.assert_array_equal(runs[True].column(), runs[False].column())
    np.testing.assert_array_equal(runs[True].bootstrap, runs[False].bootstrap)

