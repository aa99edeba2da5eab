"""The quadrature engine for deep trees against each library's own TreeSHAP and brute force.

* Deep models (depth 12, a few hundred rows) of XGBoost, LightGBM, CatBoost and random forests,
  in regression, binary and multiclass, with missing values: ``engine="quadrature"`` equals the
  library's own values within 1e-5 x the output range; ``auto`` chooses it by itself where the
  tables would be too large, and says why.
* Brute-force path-dependent Shapley values over every subset agree on a deep XGBoost model and
  a deep random forest.
* Rows that sit exactly on split thresholds route as each library does (XGBoost compares float32
  inputs, LightGBM float64), and categorical splits are followed.
* A perturbed value fails the comparison; 1 and 2 threads give bit-identical values.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.helpers_trees import (
    Task,
    brute_force_shapley,
    make_data,
    node_from_sklearn,
    node_from_xgb,
    xgb_trees,
)
from tests.test_treeshap_fast import (
    _replace,
    assert_matches_own,
    categorical_data,
    explain,
    relative_gap,
    with_missing,
)
from xai_cli.methods.tables import quadrature, tableshap
from xai_cli.methods.treeshap import COMPUTE, FAST_LIBRARY
from xai_cli.model import parsers
from xai_cli.model.adapter import adapt

xgb = pytest.importorskip("xgboost")
lgb = pytest.importorskip("lightgbm")
catboost = pytest.importorskip("catboost")

TASKS: tuple[Task, ...] = ("regression", "binary", "multiclass")
DEPTH = 12


def fit_deep(library: str, task: Task, X: pd.DataFrame, y: pd.Series) -> Any:
    """A small deep model: depth 12 (CatBoost 8), few trees, grown to the bottom."""
    classifier = task != "regression"
    if library == "xgboost":
        cls = xgb.XGBClassifier if classifier else xgb.XGBRegressor
        return cls(n_estimators=6, max_depth=DEPTH, min_child_weight=0, learning_rate=0.3,
                   random_state=0, n_jobs=1).fit(X, y)  # fmt: skip
    if library == "lightgbm":
        cls = lgb.LGBMClassifier if classifier else lgb.LGBMRegressor
        return cls(n_estimators=6, num_leaves=200, max_depth=DEPTH, min_child_samples=2,
                   learning_rate=0.3, random_state=0, verbose=-1, n_jobs=1).fit(X, y)  # fmt: skip
    if library == "catboost":
        cls = catboost.CatBoostClassifier if classifier else catboost.CatBoostRegressor
        extra = {"loss_function": "MultiClass"} if task == "multiclass" else {}
        return cls(iterations=4, depth=8, random_seed=0, verbose=0, thread_count=1,
                   allow_writing_files=False, **extra).fit(X, y)  # fmt: skip
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    cls = RandomForestClassifier if classifier else RandomForestRegressor
    return cls(n_estimators=6, max_depth=DEPTH, random_state=0, n_jobs=1).fit(X, y)


def data(task: Task, library: str) -> tuple[pd.DataFrame, pd.Series]:
    X, y = make_data(task, n=300, n_features=8)
    return (X if library == "catboost" else with_missing(X)), y


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("library", ["xgboost", "lightgbm", "catboost", "random_forest"])
def test_quadrature_equals_library_own_on_deep_trees(library: str, task: Task) -> None:
    X, y = data(task, library)
    model = fit_deep(library, task, X, y)
    ctx, local = explain(model, X, engine="quadrature")
    assert local.library == FAST_LIBRARY, local.notes
    assert local.notes[1].startswith("engine Gauss-Legendre quadrature")
    assert_matches_own(ctx, local)


def test_auto_chooses_quadrature_when_tables_are_too_large(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Tables past their size limit: auto takes the quadrature engine on its own (no fallback
    to XGBoost, no cliff) and the notes give the sizes."""
    X, y = data("regression", "xgboost")
    model = fit_deep("xgboost", "regression", X, y)
    monkeypatch.setattr(tableshap, "MAX_TABLE_ENTRIES", 100_000)
    ctx, local = explain(model, X)
    assert local.library == FAST_LIBRARY, local.notes
    note = local.notes[1]
    assert note.startswith("engine Gauss-Legendre quadrature (linear in depth), the per-leaf")
    assert "quadrature" in note and "us/row" in note
    assert_matches_own(ctx, local)


def test_cost_model_takes_the_cheaper_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine follows the measured per-op costs: each wins when the other is made dear."""
    X, y = make_data("regression")
    model = xgb.XGBRegressor(n_estimators=10, max_depth=3, random_state=0).fit(X, y)
    monkeypatch.setattr(tableshap, "QUADRATURE_NS_PER_OP", 100.0)
    compiled = tableshap.compile_model(adapt(model))
    assert compiled.engine == tableshap.TABLES
    assert compiled.reason.startswith("the cheaper by the cost model: tables")
    monkeypatch.setattr(tableshap, "QUADRATURE_NS_PER_OP", 0.01)
    assert tableshap.compile_model(adapt(model)).engine == tableshap.QUADRATURE


def _brute(trees: list[Any], X: pd.DataFrame, rows: int) -> np.ndarray:
    x = X.to_numpy(dtype=np.float64)
    return np.array([brute_force_shapley(trees, x[i], X.shape[1]) for i in range(rows)])


def test_quadrature_equals_brute_force_on_deep_xgboost() -> None:
    X, y = make_data("regression", n=150, n_features=7)
    model = xgb.XGBRegressor(n_estimators=2, max_depth=DEPTH, min_child_weight=0,
                             random_state=0).fit(X, y)  # fmt: skip
    trees = [node_from_xgb(t, list(X.columns)) for t in xgb_trees(model.get_booster())]
    _, local = explain(model, X.iloc[:4], engine="quadrature")
    np.testing.assert_allclose(local.values[:, :, 0], _brute(trees, X, 4), atol=1e-6)


def test_quadrature_equals_brute_force_on_deep_random_forest() -> None:
    from sklearn.ensemble import RandomForestRegressor

    X, y = make_data("regression", n=150, n_features=7)
    model = RandomForestRegressor(n_estimators=2, max_depth=DEPTH, random_state=0).fit(X, y)
    trees = [node_from_sklearn(est.tree_) for est in model.estimators_]
    _, local = explain(model, X.iloc[:4], engine="quadrature")
    np.testing.assert_allclose(local.values[:, :, 0], _brute(trees, X, 4) / 2, atol=1e-9)


def on_thresholds(forest: Any, X: pd.DataFrame, rows: int = 60) -> pd.DataFrame:
    """Rows whose every feature sits exactly on some split threshold of that feature."""
    rng = np.random.default_rng(5)
    out = X.iloc[:rows].copy()
    split = forest.left >= 0
    for j, name in enumerate(X.columns):
        cuts = forest.threshold[split & (forest.feature == j)]
        if len(cuts):
            out[name] = rng.choice(cuts, size=rows).astype(X[name].dtype)
    return out


@pytest.mark.parametrize("library", ["xgboost", "lightgbm"])
def test_rows_on_split_thresholds_route_as_the_library(library: str) -> None:
    """XGBoost takes float32 inputs and ``x < t``; LightGBM float64 and ``x <= t``: a kernel
    that compared the other way would send these rows to the wrong leaf."""
    X, y = make_data("regression", n=400, n_features=8)
    if library == "xgboost":
        X = X.astype(np.float32)
    model = fit_deep(library, "regression", X, y)
    forest = parsers.PARSERS[library](adapt(model)).forest
    rows = on_thresholds(forest, X)
    ctx, local = explain(model, rows, engine="quadrature")
    assert local.library == FAST_LIBRARY, local.notes
    assert_matches_own(ctx, local)
    own = COMPUTE[library](ctx)
    assert np.abs(own[0]).sum() > 0


@pytest.mark.parametrize("library", ["xgboost", "lightgbm"])
def test_quadrature_follows_categorical_splits(library: str) -> None:
    X, y = categorical_data()
    if library == "xgboost":
        model = xgb.XGBClassifier(n_estimators=6, max_depth=10, enable_categorical=True,
                                  tree_method="hist", max_cat_to_onehot=1, random_state=0)
    else:
        model = lgb.LGBMClassifier(n_estimators=6, num_leaves=64, max_depth=10,
                                   min_data_per_group=5, cat_smooth=1, random_state=0,
                                   verbose=-1)  # fmt: skip
    model.fit(X, y)
    assert (parsers.PARSERS[library](adapt(model)).forest.rule >= 2).any()
    ctx, local = explain(model, X, engine="quadrature")
    assert local.library == FAST_LIBRARY, local.notes
    assert_matches_own(ctx, local)


def test_comparison_fails_on_perturbed_values() -> None:
    X, y = data("binary", "xgboost")
    model = fit_deep("xgboost", "binary", X, y)
    ctx, local = explain(model, X, engine="quadrature")
    own = COMPUTE["xgboost"](ctx)
    raw = ctx.adapter.predict_raw(ctx.X)
    assert relative_gap(local, own, raw) <= 1e-5
    values = local.values.copy()
    values[7, 2, 0] += 1e-4 * max(1.0, float(np.ptp(raw)))
    assert relative_gap(_replace(local, values=values), own, raw) > 1e-5


def test_quadrature_is_identical_for_any_thread_count() -> None:
    X, y = make_data("multiclass", n=500)
    model = fit_deep("random_forest", "multiclass", X, y)
    _, one = explain(model, X, engine="quadrature", n_jobs=1)
    _, two = explain(model, X, engine="quadrature", n_jobs=2)
    assert np.array_equal(one.values, two.values)


def test_tree_rules_are_exact_for_the_path_length() -> None:
    """``ceil(d / 2)`` Gauss-Legendre points integrate the degree ``d - 1`` polynomial of a path
    exactly: the Shapley weights ``s! (d-1-s)! / d!`` come out to rounding."""
    from math import factorial

    for d in (1, 2, 5, 12, 30):
        q, off, rule = quadrature.tree_rules(np.array([d]))
        t, w = rule[0, off[0] : off[0] + q[0]], rule[1, off[0] : off[0] + q[0]]
        for s in range(d):
            exact = factorial(s) * factorial(d - 1 - s) / factorial(d)
            assert np.dot(w, t**s * (1 - t) ** (d - 1 - s)) == pytest.approx(exact, rel=1e-12)
