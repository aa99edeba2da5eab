"""The CatBoost oblivious-tree engine (:mod:`xai_cli.methods.tables.oblivious`) against
CatBoost's own ``ShapValues``.

* Regression, binary and multiclass, with missing values, depth 6 (a level may reuse a feature):
  values and base values within 1e-5 x the output range of CatBoost's own, and the notes name
  the engine.
* Rows sitting exactly on a border (CatBoost's ``x > border`` goes right) and NaN rows route
  as CatBoost routes them.
* The same comparison fails on values perturbed by 1e-3 x range.
* The engine agrees with xai's generic table engine (``engine="tables"``), and its thread count
  does not change a value.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.helpers_trees import Task, make_data
from xai_cli.methods.base import ExplainContext
from xai_cli.methods.tables import oblivious
from xai_cli.methods.treeshap import COMPUTE, FAST_LIBRARY, TreeShap
from xai_cli.model.adapter import adapt
from xai_cli.results import LocalAttribution

catboost = pytest.importorskip("catboost")

TOLERANCE = 1e-5


def fit(task: Task) -> tuple[Any, pd.DataFrame]:
    """20 depth-6 trees on 300 rows with missing values in x0."""
    X, y = make_data(task)
    X.loc[X.index[::7], "x0"] = np.nan
    cls = catboost.CatBoostRegressor if task == "regression" else catboost.CatBoostClassifier
    extra = {"loss_function": "MultiClass"} if task == "multiclass" else {}
    model = cls(iterations=20, depth=6, random_seed=0, verbose=0, thread_count=1,
                allow_writing_files=False, **extra)
    return model.fit(X, y), X


@pytest.fixture(scope="module", params=["regression", "binary", "multiclass"])
def model(request: pytest.FixtureRequest) -> tuple[Any, pd.DataFrame]:
    return fit(request.param)


def explain(model: Any, X: pd.DataFrame, **params: Any) -> tuple[ExplainContext, LocalAttribution]:
    ctx = ExplainContext(adapter=adapt(model), X=X, y=None, seed=0, params=params)
    return ctx, TreeShap().explain(ctx)


def gap(local: LocalAttribution, own: tuple[np.ndarray, np.ndarray], raw: np.ndarray) -> float:
    """Largest difference from CatBoost's own values or base values over the output range."""
    scale = max(1.0, float(np.ptp(raw)))
    worst = max(np.abs(local.values - own[0]).max(), np.abs(local.base_values - own[1]).max())
    return float(worst) / scale


def border_rows(model: Any, X: pd.DataFrame) -> pd.DataFrame:
    """Rows whose every feature a tree tests sits exactly on one of its borders, plus NaN rows."""
    f = oblivious.parse(adapt(model))
    rows = X.iloc[: len(f.level_border)].copy().reset_index(drop=True)
    for i, (feat, border) in enumerate(zip(f.level_feature, f.level_border, strict=True)):
        rows.iat[i, int(feat)] = np.float32(border)
    rows.loc[rows.index[::3], "x1"] = np.nan
    return rows


def test_equals_catboost_own(model: tuple[Any, pd.DataFrame]) -> None:
    m, X = model
    X = pd.concat([X, border_rows(m, X)], ignore_index=True)
    ctx, local = explain(m, X)
    assert local.library == FAST_LIBRARY, local.notes
    assert local.notes[1].startswith("engine oblivious-tree tables")
    own = COMPUTE["catboost"](ctx)
    assert local.values.shape == own[0].shape
    raw = ctx.adapter.predict_raw(X)
    assert gap(local, own, raw) <= TOLERANCE
    # local accuracy: base + sum of values is the raw prediction
    total = local.base_values + local.values.sum(axis=1)
    np.testing.assert_allclose(total, raw, atol=1e-9 * max(1.0, float(np.ptp(raw))))


def test_border_rows_route_like_catboost(model: tuple[Any, pd.DataFrame]) -> None:
    """Exactly on a border goes left (``x > border`` is false); a float64 value just above the
    float32 border also goes left in CatBoost (it compares float32), and here."""
    m, X = model
    rows = border_rows(m, X)
    a = adapt(m)
    compiled = oblivious.compile_adapter(a)
    leaves = compiled.predict(oblivious.encode(a, rows))
    offset = a.predict_raw(rows) - leaves
    np.testing.assert_allclose(offset, np.broadcast_to(offset[0], offset.shape), atol=1e-9)
    nudged = rows.astype(np.float64)
    nudged.iloc[:, :5] = np.nextafter(nudged.iloc[:, :5].to_numpy(), np.inf)
    leaves = compiled.predict(oblivious.encode(a, nudged))
    np.testing.assert_allclose(a.predict_raw(nudged) - leaves, offset, atol=1e-9)


def test_comparison_fails_on_perturbed_values() -> None:
    m, X = fit("binary")
    ctx, local = explain(m, X)
    own = COMPUTE["catboost"](ctx)
    raw = ctx.adapter.predict_raw(X)
    assert gap(local, own, raw) <= TOLERANCE
    shift = 1e-3 * max(1.0, float(np.ptp(raw)))
    values = local.values.copy()
    values[5, 2, 0] += shift
    from dataclasses import replace

    assert gap(replace(local, values=values), own, raw) > TOLERANCE
    base = local.base_values.copy()
    base[0, 0] += shift
    assert gap(replace(local, base_values=base), own, raw) > TOLERANCE


@pytest.mark.parametrize("nan_mode", ["Min", "Max"])
def test_missing_values_route_by_nan_mode(nan_mode: str) -> None:
    """``nan_mode="Max"`` (saved as ``AsTrue``) sends NaN right, ``"Min"`` left; both engines
    follow it (before, the generic parse read only ``AsMaxValue`` and fell back on Max)."""
    X, y = make_data("regression")
    X.loc[X.index[::4], "x0"] = np.nan
    m = catboost.CatBoostRegressor(iterations=15, depth=5, nan_mode=nan_mode, random_seed=0,
                                   verbose=0, thread_count=1, allow_writing_files=False)
    m.fit(X, y)
    for engine in ("auto", "tables"):
        ctx, local = explain(m, X, engine=engine)
        assert local.library == FAST_LIBRARY, local.notes
        assert gap(local, COMPUTE["catboost"](ctx), ctx.adapter.predict_raw(X)) <= TOLERANCE


def test_agrees_with_generic_tables_and_thread_count() -> None:
    m, X = fit("multiclass")
    _, special = explain(m, X, n_jobs=1)
    _, two = explain(m, X, n_jobs=2)
    np.testing.assert_array_equal(special.values, two.values)
    _, generic = explain(m, X, engine="tables")
    assert generic.notes[1].startswith("engine per-leaf tables")
    np.testing.assert_allclose(special.values, generic.values, atol=1e-12)
    np.testing.assert_allclose(special.base_values, generic.base_values, atol=1e-12)


def test_estimate_times_the_oblivious_engine() -> None:
    """The time estimate of a CatBoost run times the engine the run will use."""
    import time

    m, X = fit("regression")
    ctx = ExplainContext(adapter=adapt(m), X=X, y=None, seed=0, params={})
    estimate = TreeShap().cost_model(ctx, 100_000, time.perf_counter)
    assert estimate is not None and estimate[0] > 0
    assert estimate[1].startswith("the oblivious-tree engine timed on")
