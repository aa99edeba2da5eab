"""The pairwise interventional engine on deep trees, against brute force and shap.

* Deep models (depth 12, CatBoost 8) of XGBoost, LightGBM, CatBoost and random forests, in
  regression, binary and multiclass, with missing values: ``engine="pairwise"`` equals brute-force
  interventional Shapley values (every coalition ``S``, ``v(S) = mean_z f(x_S, z_~S)`` from the
  model's own raw predictions) and shap's interventional ``TreeExplainer`` given the same
  background (``maskers.Independent(bg, max_samples=len(bg))``, so shap does not subsample).
* Rows that sit exactly on split thresholds and categorical splits route as the library does.
* ``auto`` runs the pairwise walk on its own where the tables do not fit (no fallback to shap)
  and says why; it keeps the tables for shallow trees; a named engine that cannot run is an error.
* A perturbed value fails the comparison; 1 and 2 threads give bit-identical values.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.helpers_trees import Task, make_data
from tests.test_treeshap_deep import fit_deep, on_thresholds
from tests.test_treeshap_fast import categorical_data, with_missing
from xai_cli.errors import MethodError
from xai_cli.methods.base import ExplainContext
from xai_cli.methods.tables import pairwise, tableshap
from xai_cli.methods.treeshap import FAST_LIBRARY
from xai_cli.methods.treeshap_interventional import InterventionalTreeShap, background_sample
from xai_cli.model import parsers
from xai_cli.model.adapter import adapt
from xai_cli.results import LocalAttribution

shap = pytest.importorskip("shap")
xgb = pytest.importorskip("xgboost")
lgb = pytest.importorskip("lightgbm")

BACKGROUND = 12
BRUTE_ROWS = 3
EXPLAINED = 40
"""Rows explained (the background is sampled from them, as a run samples it from its data)."""
TASKS: tuple[Task, ...] = ("regression", "binary", "multiclass")
_MODELS: dict[tuple[str, Task], tuple[Any, pd.DataFrame]] = {}


def deep_model(library: str, task: Task) -> tuple[Any, pd.DataFrame]:
    """A deep model and its data (5 features and a constant), trained once per session."""
    key = (library, task)
    if key not in _MODELS:
        X, y = make_data(task, n=200, n_features=6)
        X = X if library == "catboost" else with_missing(X)
        _MODELS[key] = (fit_deep(library, task, X, y), X.iloc[:EXPLAINED])
    return _MODELS[key]


def explain(model: Any, X: pd.DataFrame, **params: Any) -> LocalAttribution:
    params.setdefault("background_rows", BACKGROUND)
    ctx = ExplainContext(adapter=adapt(model), X=X, y=None, seed=0, params=params)
    return InterventionalTreeShap().explain(ctx)


def brute_force(model: Any, rows: pd.DataFrame, background: pd.DataFrame) -> np.ndarray:
    """Interventional Shapley values by enumeration: ``v(S)`` is the mean over the background of
    the model's raw output on rows taking ``x`` on ``S`` and the background row elsewhere."""
    adapter = adapt(model)
    n = rows.shape[1]
    masks = np.array([[(s >> j) & 1 for j in range(n)] for s in range(1 << n)], dtype=bool)
    out = []
    for i in range(len(rows)):
        x = rows.iloc[i].to_numpy(dtype=object)
        bg = background.to_numpy(dtype=object)
        hybrid = np.where(masks[:, None, :], x[None, None, :], bg[None, :, :])
        frame = pd.DataFrame(hybrid.reshape(-1, n), columns=rows.columns).astype(
            rows.dtypes.to_dict()
        )
        v = adapter.predict_raw(frame).reshape(1 << n, len(background), -1).mean(axis=1)
        phi = np.zeros((n, v.shape[1]))
        for s in range(1 << n):
            size = bin(s).count("1")
            for j in range(n):
                if not (s >> j) & 1:
                    weight = math.factorial(size) * math.factorial(n - size - 1) / math.factorial(n)
                    phi[j] += weight * (v[s | (1 << j)] - v[s])
        out.append(phi)
    return np.array(out)


def shap_independent(model: Any, rows: pd.DataFrame, background: pd.DataFrame) -> np.ndarray:
    masker = shap.maskers.Independent(background, max_samples=len(background))
    explainer = shap.TreeExplainer(model, masker, feature_perturbation="interventional")
    values = np.asarray(explainer.shap_values(rows, check_additivity=False))
    if values.ndim == 2:
        values = values[:, :, None]
    return values[:, :, 1:2] if values.shape[2] == 2 else values


def scale(model: Any, X: pd.DataFrame) -> float:
    return max(1.0, float(np.ptp(adapt(model).predict_raw(X))))


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("library", ["xgboost", "lightgbm", "catboost", "random_forest"])
def test_pairwise_equals_brute_force_on_deep_trees(library: str, task: Task) -> None:
    model, X = deep_model(library, task)
    local = explain(model, X, engine="pairwise")
    assert local.library == FAST_LIBRARY, local.notes
    assert local.notes[2].startswith("engine pairwise walk"), local.notes
    expected = brute_force(model, X.iloc[:BRUTE_ROWS], background_sample(X, BACKGROUND, 0))
    assert local.values[:BRUTE_ROWS].shape == expected.shape
    np.testing.assert_allclose(local.values[:BRUTE_ROWS], expected, atol=1e-5 * scale(model, X))


@pytest.mark.parametrize(
    ("library", "task"),
    [("xgboost", "multiclass"), ("lightgbm", "binary"), ("random_forest", "regression")],
)
def test_pairwise_equals_shap_interventional(library: str, task: Task) -> None:
    model, X = deep_model(library, task)
    local = explain(model, X, engine="pairwise")
    expected = shap_independent(model, X, background_sample(X, BACKGROUND, 0))
    np.testing.assert_allclose(local.values, expected, atol=1e-6 * scale(model, X))


@pytest.mark.parametrize("library", ["xgboost", "lightgbm"])
def test_rows_on_split_thresholds_route_as_the_library(library: str) -> None:
    """XGBoost compares float32 inputs with ``x < t``, LightGBM float64 with ``x <= t``: rows
    (and background rows) sitting on thresholds must take the library's side."""
    model, X = deep_model(library, "regression")
    rows = on_thresholds(parsers.PARSERS[library](adapt(model)).forest, X, rows=40)
    local = explain(model, rows, engine="pairwise")
    expected = brute_force(model, rows.iloc[:BRUTE_ROWS], background_sample(rows, BACKGROUND, 0))
    np.testing.assert_allclose(local.values[:BRUTE_ROWS], expected, atol=1e-5 * scale(model, X))


@pytest.mark.parametrize("library", ["xgboost", "lightgbm"])
def test_pairwise_follows_categorical_splits(library: str) -> None:
    X, y = categorical_data()
    if library == "xgboost":
        model = xgb.XGBClassifier(n_estimators=2, max_depth=10, enable_categorical=True,
                                  tree_method="hist", max_cat_to_onehot=1, random_state=0)
    else:
        model = lgb.LGBMClassifier(n_estimators=2, num_leaves=64, max_depth=10,
                                   min_data_per_group=5, cat_smooth=1, random_state=0,
                                   verbose=-1)  # fmt: skip
    model.fit(X, y)
    assert (parsers.PARSERS[library](adapt(model)).forest.rule >= 2).any()
    X = X.iloc[:80]
    local = explain(model, X, engine="pairwise")
    expected = brute_force(model, X.iloc[:BRUTE_ROWS], background_sample(X, BACKGROUND, 0))
    np.testing.assert_allclose(local.values[:BRUTE_ROWS], expected, atol=1e-5 * scale(model, X))


def test_auto_runs_the_pairwise_walk_where_tables_do_not_fit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Past the tables' size limit, auto computes with xai's pairwise engine (not shap), says
    why, and gives the tables' numbers; a request for the tables is an error, not a fallback."""
    model, X = deep_model("xgboost", "binary")
    tables = explain(model, X, engine="tables")
    monkeypatch.setattr(tableshap, "MAX_TABLE_ENTRIES", 100)
    local = explain(model, X)
    assert local.library == FAST_LIBRARY, local.notes
    assert local.notes[2].startswith("engine pairwise walk (Independent Tree SHAP, any depth), "
                                     "no tables: the per-leaf tables would hold"), local.notes
    np.testing.assert_allclose(local.values, tables.values, atol=1e-9)
    with pytest.raises(MethodError, match="engine=tables cannot explain"):
        explain(model, X, engine="tables")


def test_cost_model_keeps_tables_for_shallow_trees_and_walks_deep_ones() -> None:
    X, y = make_data("regression", n=400, n_features=8)
    shallow = xgb.XGBRegressor(n_estimators=10, max_depth=3, random_state=0).fit(X, y)
    note = explain(shallow, X, background_rows=100).notes[2]
    assert note.startswith("engine per-leaf pattern tables, the cheaper by the cost model"), note
    assert "pairwise" in note and "nodes visited per row, measured" in note
    from sklearn.ensemble import RandomForestRegressor

    X, y = make_data("regression", n=200, n_features=20)  # paths of ~10 distinct features
    deep = RandomForestRegressor(n_estimators=2, max_depth=12, random_state=0).fit(X, y)
    note = explain(deep, X.iloc[:20], background_rows=200).notes[2]
    assert note.startswith("engine pairwise walk (Independent Tree SHAP, any depth), the "
                           "cheaper by the cost model"), note


def test_comparison_fails_on_perturbed_values() -> None:
    model, X = deep_model("lightgbm", "regression")
    local = explain(model, X, engine="pairwise")
    expected = brute_force(model, X.iloc[:BRUTE_ROWS], background_sample(X, BACKGROUND, 0))
    tolerance = 1e-5 * scale(model, X)
    assert np.abs(local.values[:BRUTE_ROWS] - expected).max() <= tolerance
    perturbed = local.values[:BRUTE_ROWS].copy()
    perturbed[1, 2, 0] += 2 * tolerance
    assert np.abs(perturbed - expected).max() > tolerance


def test_pairwise_is_identical_for_any_thread_count_and_tree_chunk(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model, X = deep_model("xgboost", "multiclass")
    one = explain(model, X, engine="pairwise", n_jobs=1)
    two = explain(model, X, engine="pairwise", n_jobs=2)
    assert np.array_equal(one.values, two.values)
    monkeypatch.setattr(pairwise, "DIRECTION_WORDS", 1)  # one tree per kernel call
    assert np.array_equal(explain(model, X, engine="pairwise").values, two.values)


def test_duplicate_background_rows_are_merged_with_their_weight() -> None:
    rows = np.array([[1.0, np.nan], [1.0, np.nan], [2.0, 0.0], [1.0, np.nan]])
    distinct, share = pairwise.unique_background(rows)
    np.testing.assert_array_equal(distinct, rows[[0, 2]])
    np.testing.assert_allclose(share, [0.75, 0.25])


def test_paths_past_64_distinct_features_are_refused_with_the_reason() -> None:
    """A chain of 70 splits on 70 different features: the walk's 64-bit feature sets cannot hold
    the path, so compiling says so (auto then tries the tables, then shap, with the reason)."""
    from types import SimpleNamespace

    from xai_cli.model.forest import UnsupportedForest

    def chain(k: int) -> SimpleNamespace:
        n = 2 * k + 1  # node 2i splits on feature i: left a leaf, right the next split
        left = np.full(n, -1, dtype=np.int64)
        right = np.full(n, -1, dtype=np.int64)
        feature = np.full(n, -1, dtype=np.int64)
        for i in range(k):
            left[2 * i], right[2 * i], feature[2 * i] = 2 * i + 1, 2 * i + 2, i
        return SimpleNamespace(tree_offsets=np.array([0, n]), left=left, right=right,
                               feature=feature)  # fmt: skip

    assert pairwise.compile_forest(chain(64)).most == 64  # type: ignore[arg-type]
    with pytest.raises(UnsupportedForest, match="a path tests 70 distinct features"):
        pairwise.compile_forest(chain(70))  # type: ignore[arg-type]


def test_shapley_weights_are_the_closed_form() -> None:
    pos, neg = pairwise.shapley_weights(30)
    f = math.factorial
    for a, b in [(1, 0), (0, 1), (3, 4), (12, 1), (30, 30)]:
        if a:
            assert pos[a, b] == pytest.approx(f(a - 1) * f(b) / f(a + b), rel=1e-12)
        if b:
            assert neg[a, b] == pytest.approx(f(a) * f(b - 1) / f(a + b), rel=1e-12)
    assert pos[0, 3] == 0.0 and neg[3, 0] == 0.0
