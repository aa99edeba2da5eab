"""xai's table TreeSHAP (the default ``treeshap`` engine) against each library's own TreeSHAP.

* For XGBoost, LightGBM, CatBoost and random forests, in regression, binary and multiclass, the
  fast path runs (provenance says numba) and its values and base values equal the library's own
  within 1e-5 x the output range; so they do with categorical splits and missing values.
* The comparison is a real guard: the same values with one entry perturbed fail it.
* Where the fast path cannot run (CatBoost categorical features, paths too long for the tables,
  a parse that does not reproduce the model) the library's own values are returned and the
  provenance notes say why; ``engine="native"`` forces the library's own.
* ``n_jobs`` changes nothing: 1 and 2 threads give bit-identical values.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.helpers_trees import Task, make_data
from xai_cli.methods.base import ExplainContext
from xai_cli.methods.tables import tableshap
from xai_cli.methods.treeshap import COMPUTE, FAST_LIBRARY, TreeShap
from xai_cli.model import parsers
from xai_cli.model.adapter import ModelAdapter, adapt
from xai_cli.results import LocalAttribution

xgb = pytest.importorskip("xgboost")
lgb = pytest.importorskip("lightgbm")
catboost = pytest.importorskip("catboost")

TOLERANCE = 1e-5
TASKS: tuple[Task, ...] = ("regression", "binary", "multiclass")


# ----- the comparison -----------------------------------------------------------------------------
def relative_gap(
    local: LocalAttribution, own: tuple[np.ndarray, np.ndarray], raw: np.ndarray
) -> float:
    """Largest difference of values or base values from the library's own, over the range of the
    model's raw output (at least 1)."""
    scale = max(1.0, float(np.ptp(raw)))
    gap = max(np.abs(local.values - own[0]).max(), np.abs(local.base_values - own[1]).max())
    return float(gap) / scale


def assert_matches_own(ctx: ExplainContext, local: LocalAttribution) -> None:
    own = COMPUTE[ctx.adapter.family](ctx)
    assert local.values.shape == own[0].shape
    assert relative_gap(local, own, ctx.adapter.predict_raw(ctx.X)) <= TOLERANCE


def explain(model: Any, X: pd.DataFrame, **params: Any) -> tuple[ExplainContext, LocalAttribution]:
    ctx = ExplainContext(adapter=adapt(model), X=X, y=None, seed=0, params=params)
    return ctx, TreeShap().explain(ctx)


def with_missing(X: pd.DataFrame) -> pd.DataFrame:
    """Every 6th value of x0 missing and every 5th x1 exactly zero (LightGBM's zero rules)."""
    X = X.copy()
    X.loc[X.index[::6], "x0"] = np.nan
    X.loc[X.index[::5], "x1"] = 0.0
    return X


def fit(library: str, task: Task, X: pd.DataFrame, y: pd.Series) -> Any:
    """A small model of ``library`` for ``task`` (12 trees, depth <= 4)."""
    classifier = task != "regression"
    if library == "xgboost":
        cls = xgb.XGBClassifier if classifier else xgb.XGBRegressor
        return cls(n_estimators=12, max_depth=4, learning_rate=0.3, random_state=0).fit(X, y)
    if library == "lightgbm":
        cls = lgb.LGBMClassifier if classifier else lgb.LGBMRegressor
        model = cls(n_estimators=12, num_leaves=12, learning_rate=0.3, random_state=0, verbose=-1)
        return model.fit(X, y)
    if library == "catboost":
        cls = catboost.CatBoostClassifier if classifier else catboost.CatBoostRegressor
        extra = {"loss_function": "MultiClass"} if task == "multiclass" else {}
        model = cls(iterations=12, depth=4, random_seed=0, verbose=0, thread_count=1,
                    allow_writing_files=False, **extra)
        return model.fit(X, y)
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    cls = RandomForestClassifier if classifier else RandomForestRegressor
    return cls(n_estimators=8, max_depth=5, random_state=0).fit(X, y)


# ----- every family and task ----------------------------------------------------------------------
@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("library", ["xgboost", "lightgbm", "catboost", "random_forest"])
def test_fast_path_equals_library_own(library: str, task: Task) -> None:
    """Missing values included (random forests take NaN since scikit-learn 1.4)."""
    X, y = make_data(task)
    X = with_missing(X)
    ctx, local = explain(fit(library, task, X, y), X)
    assert local.library == FAST_LIBRARY, local.notes
    assert "exact path-dependent TreeSHAP" in local.notes[0]
    # CatBoost's symmetric trees have their own engine; the others the cost model's cheaper one
    if library == "catboost":
        assert local.notes[1].startswith("engine oblivious-tree tables")
    else:
        assert "the cheaper by the cost model" in local.notes[1], local.notes
    assert local.values.shape[2] == (3 if task == "multiclass" else 1)
    assert_matches_own(ctx, local)


def test_comparison_fails_when_values_are_perturbed() -> None:
    """The tolerance check is not vacuous: one value moved by 1e-3 x range fails it, and so does
    a base value moved by the same amount."""
    X, y = make_data("binary")
    ctx, local = explain(fit("xgboost", "binary", X, y), X)
    own = COMPUTE["xgboost"](ctx)
    raw = ctx.adapter.predict_raw(X)
    assert relative_gap(local, own, raw) <= TOLERANCE
    shift = 1e-3 * max(1.0, float(np.ptp(raw)))
    values = local.values.copy()
    values[3, 1, 0] += shift
    assert relative_gap(_replace(local, values=values), own, raw) > TOLERANCE
    base = local.base_values.copy()
    base[0, 0] -= shift
    assert relative_gap(_replace(local, base_values=base), own, raw) > TOLERANCE


def _replace(local: LocalAttribution, **changes: np.ndarray) -> LocalAttribution:
    from dataclasses import replace

    return replace(local, **changes)


# ----- categorical features -----------------------------------------------------------------------
def categorical_data(task: Task = "binary") -> tuple[pd.DataFrame, pd.Series]:
    """Numeric x0..x3 plus a 5-level category (with missing values) that carries signal."""
    X, _ = make_data(task, n=400, n_features=4, constant=False)
    rng = np.random.default_rng(3)
    levels = np.array(["a", "b", "c", "d", "e"])
    color = pd.Series(levels[rng.integers(0, 5, size=len(X))], dtype="object")
    color[::9] = None
    X["color"] = pd.Categorical(color, categories=list(levels))
    signal = X["x0"] + np.where(color.isin(["b", "d"]), 2.0, -1.0) + rng.normal(0, 0.3, len(X))
    if task == "regression":
        return X, pd.Series(signal)
    return X, pd.Series((signal > 0).astype(int))


@pytest.mark.parametrize("library", ["xgboost", "lightgbm"])
def test_fast_path_handles_categorical_splits(library: str) -> None:
    X, y = categorical_data()
    if library == "xgboost":
        model = xgb.XGBClassifier(n_estimators=10, max_depth=4, enable_categorical=True,
                                  tree_method="hist", max_cat_to_onehot=1, random_state=0)
    else:
        model = lgb.LGBMClassifier(n_estimators=10, num_leaves=8, min_data_per_group=5,
                                   cat_smooth=1, random_state=0, verbose=-1)
    model.fit(X, y)
    adapter = adapt(model)
    assert "color" in adapter.categorical_features
    forest = parsers.PARSERS[library](adapter).forest
    assert (forest.rule >= 2).any(), "the model should contain categorical splits"
    ctx, local = explain(model, X)
    assert local.library == FAST_LIBRARY, local.notes
    assert_matches_own(ctx, local)
    # a subset of the rows whose frame lacks some categories is re-coded like the library does
    subset = X[X["color"].isin(["a", "d"])].copy()
    subset["color"] = subset["color"].astype(str).astype("category")
    ctx, local = explain(model, subset)
    assert local.library == FAST_LIBRARY, local.notes
    assert_matches_own(ctx, local)


def test_catboost_categorical_falls_back_with_reason() -> None:
    X, y = categorical_data()
    X["color"] = X["color"].astype(object).where(X["color"].notna(), "nan").astype(str)
    model = catboost.CatBoostClassifier(iterations=10, depth=3, random_seed=0, verbose=0,
                                        cat_features=["color"], allow_writing_files=False)
    model.fit(X, y)
    ctx, local = explain(model, X)
    assert local.library == ""  # the engine then records catboost as the library
    assert any("fast path not used" in n and "CatBoost categorical" in n for n in local.notes)
    own = COMPUTE["catboost"](ctx)
    np.testing.assert_array_equal(local.values, own[0])


@pytest.mark.parametrize("missing", ["zero_as_missing", "no_missing"])
def test_lightgbm_missing_value_rules(missing: str) -> None:
    """LightGBM's Zero (zero and NaN follow the default) and None (NaN read as 0) rules."""
    X, y = make_data("regression")
    X = with_missing(X)
    params = {"zero_as_missing": True} if missing == "zero_as_missing" else {"use_missing": False}
    model = lgb.LGBMRegressor(n_estimators=10, num_leaves=8, random_state=0, verbose=-1, **params)
    model.fit(X, y)
    forest = parsers.parse_lightgbm(adapt(model)).forest
    assert (forest.missing[forest.left >= 0] != 0).any()
    ctx, local = explain(model, X)
    assert local.library == FAST_LIBRARY, local.notes
    assert_matches_own(ctx, local)


# ----- fallbacks and options ----------------------------------------------------------------------
def test_paths_too_long_for_tables_take_the_quadrature_engine(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No cliff: past the tables' limit the quadrature engine runs, and the notes say why."""
    X, y = make_data("regression")
    model = fit("xgboost", "regression", X, y)
    monkeypatch.setattr(tableshap, "MAX_PATH_FEATURES", 2)
    ctx, local = explain(model, X)
    assert local.library == FAST_LIBRARY
    assert local.notes[1].startswith("engine Gauss-Legendre quadrature")
    assert "distinct features (tables need 2**d rows per leaf, limit 2)" in local.notes[1]
    assert_matches_own(ctx, local)


def test_a_parse_that_does_not_reproduce_the_model_falls_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The prediction check guards the fast path: a parser that shifts every threshold is
    caught, and the library's own values are used instead."""
    X, y = make_data("regression")
    model = fit("xgboost", "regression", X, y)
    original = parsers.PARSERS["xgboost"]

    def broken(adapter: ModelAdapter) -> parsers.ParsedModel:
        parsed = original(adapter)
        parsed.forest.threshold[:] += 0.5
        return parsed

    monkeypatch.setitem(parsers.PARSERS, "xgboost", broken)
    ctx, local = explain(model, X)
    assert local.library == ""
    assert any("do not reproduce the model's own predictions" in n for n in local.notes)
    assert_matches_own(ctx, local)


def test_engine_native_uses_the_library_own() -> None:
    X, y = make_data("binary")
    ctx, local = explain(fit("lightgbm", "binary", X, y), X, engine="native")
    assert local.library == ""
    assert local.notes == ("engine=native: computed by lightgbm's own TreeSHAP",)
    np.testing.assert_array_equal(local.values, COMPUTE["lightgbm"](ctx)[0])
    with pytest.raises(ValueError, match="engine"):
        explain(fit("lightgbm", "binary", X, y), X, engine="fastest")


@pytest.mark.parametrize("library", ["xgboost", "random_forest"])
def test_n_jobs_gives_identical_values(library: str) -> None:
    """Rows are summed in the same order whatever the thread count: bit-identical results."""
    X, y = make_data("multiclass", n=700)
    model = fit(library, "multiclass", X, y)
    _, one = explain(model, X, n_jobs=1)
    _, two = explain(model, X, n_jobs=2)
    assert one.library == two.library == FAST_LIBRARY
    assert np.array_equal(one.values, two.values)
    assert np.array_equal(one.base_values, two.base_values)


def _other_models() -> dict[str, Any]:
    from sklearn.ensemble import (
        ExtraTreesRegressor,
        GradientBoostingClassifier,
        GradientBoostingRegressor,
    )
    from sklearn.tree import DecisionTreeClassifier

    return {
        "decision_tree_classifier": DecisionTreeClassifier(max_depth=4, random_state=0),
        "extra_trees_regressor": ExtraTreesRegressor(n_estimators=6, max_depth=5, random_state=0),
        "gradient_boosting_classifier": GradientBoostingClassifier(
            n_estimators=8, max_depth=3, random_state=0
        ),
        "gradient_boosting_regressor": GradientBoostingRegressor(
            n_estimators=8, max_depth=3, random_state=0
        ),
        "xgboost_random_forest": xgb.XGBRFRegressor(n_estimators=4, max_depth=4, random_state=0),
    }


@pytest.mark.parametrize("name", list(_other_models()))
def test_other_tree_models_take_the_fast_path(name: str) -> None:
    """Single trees, extra trees, scikit-learn gradient boosting (with its init estimator in the
    offset) and XGBoost random forests (several trees per round)."""
    model = _other_models()[name]
    task: Task = "binary" if "classifier" in name else "regression"
    X, y = make_data(task)
    ctx, local = explain(model.fit(X, y), X)
    assert local.library == FAST_LIBRARY, local.notes
    assert_matches_own(ctx, local)
