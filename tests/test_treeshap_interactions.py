"""``treeshap.interactions``: xai's interaction values equal XGBoost's ``pred_interactions`` (and
so shap's ``shap_interaction_values``, which XGBoost's follow) on binary, multiclass and
categorical models; each row of a matrix sums to the SHAP value; the checks fail on corrupted
values; the summary, the report section and its interaction mass are what the matrices say."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb

from xai_cli.methods.base import ExplainContext
from xai_cli.methods.treeshap_interactions import (
    InteractionAttribution,
    InteractionSummary,
    TreeShapInteractions,
)
from xai_cli.model.adapter import adapt
from xai_cli.report_interactions import from_summary

ROWS = 120


def _frame(seed: int, categorical: bool = False) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(ROWS, 5)), columns=[f"f{i}" for i in range(5)])
    X.iloc[::9, 3] = np.nan  # missing values follow each node's default direction
    if categorical:
        X["colour"] = pd.Categorical(rng.choice(["red", "green", "blue", "grey"], ROWS))
    return X


@pytest.fixture(scope="module")
def models() -> dict[str, tuple[Any, pd.DataFrame]]:
    """Tiny XGBoost models (seconds): binary, 3-class, and binary with a categorical feature."""
    out = {}
    X = _frame(0)
    y = ((X.f0 * X.f1 > 0) ^ (X.f2 > 0.5)).astype(int)
    out["binary"] = (xgb.XGBClassifier(n_estimators=25, max_depth=4, n_jobs=1).fit(X, y), X)
    X = _frame(1)
    y = np.digitize(X.f0 + X.f1 * X.f2, [-0.5, 0.5])
    out["multiclass"] = (xgb.XGBClassifier(n_estimators=12, max_depth=3, n_jobs=1).fit(X, y), X)
    X = _frame(2, categorical=True)
    y = ((X.colour == "red") & (X.f0 > 0) | (X.f1 * X.f4 > 0.3)).astype(int)
    model = xgb.XGBClassifier(n_estimators=20, max_depth=4, enable_categorical=True, n_jobs=1,
                              tree_method="hist", max_cat_to_onehot=1)  # fmt: skip
    out["categorical"] = (model.fit(X, y), X)
    return out


def _explain(model: Any, X: pd.DataFrame, **params: Any) -> InteractionAttribution:
    ctx = ExplainContext(adapter=adapt(model), X=X, y=None, seed=0,
                         params={"sample_rows": len(X), **params})  # fmt: skip
    out = TreeShapInteractions().explain(ctx)
    assert isinstance(out, InteractionAttribution) and out.interactions is not None
    return out


def _reference(model: Any, X: pd.DataFrame, kind: str) -> np.ndarray:
    """XGBoost's own values in xai's layout: rows x features x features x outputs (+ bias)."""
    booster, n = model.get_booster(), X.shape[1]
    raw = booster.predict(xgb.DMatrix(X, enable_categorical=True), **{kind: True})
    if kind == "pred_contribs":
        return np.asarray(raw).reshape(len(X), -1, n + 1).transpose(0, 2, 1)
    return np.asarray(raw).reshape(len(X), -1, n + 1, n + 1).transpose(0, 2, 3, 1)


def agrees(values: np.ndarray, reference: np.ndarray, output_range: float) -> bool:
    """The issue's criterion: every value within 1e-5 x the model's output range."""
    return bool(np.abs(values - reference).max() <= 1e-5 * output_range)


def rows_sum_to_shap(matrices: np.ndarray, shap_values: np.ndarray, output_range: float) -> bool:
    """Each row of each matrix sums to that feature's SHAP value."""
    return agrees(matrices.sum(axis=2), shap_values, output_range)


@pytest.mark.parametrize("kind", ["binary", "multiclass", "categorical"])
def test_interaction_values_equal_xgboosts_and_rows_sum_to_shap(
    kind: str, models: dict[str, tuple[Any, pd.DataFrame]]
) -> None:
    model, X = models[kind]
    out = _explain(model, X)
    n = X.shape[1]
    summary = out.interactions
    assert summary is not None and summary.sample.shape[0] == ROWS
    assert out.library == "numba"  # xai's kernels, not the fallback
    theirs = _reference(model, X, "pred_interactions")
    contribs = _reference(model, X, "pred_contribs")
    span = float(np.ptp(model.predict(X, output_margin=True)))
    mine = summary.sample
    assert agrees(mine, theirs[:, :n, :n], span)
    assert np.allclose(mine, mine.transpose(0, 2, 1, 3))  # phi_ij == phi_ji
    assert rows_sum_to_shap(mine, contribs[:, :n], span)
    assert agrees(out.values, contribs[:, :n], span)  # the local values are the row sums
    assert agrees(out.base_values, contribs[:, n], span)
    mean_abs = np.abs(theirs[:, :n, :n]).mean(axis=0)
    assert np.allclose(summary.mean_abs, mean_abs, atol=1e-5 * span)


def test_the_checks_fail_on_perturbed_values(models: dict[str, tuple[Any, pd.DataFrame]]) -> None:
    model, X = models["binary"]
    n = X.shape[1]
    mine = _explain(model, X).interactions.sample  # type: ignore[union-attr]
    theirs = _reference(model, X, "pred_interactions")[:, :n, :n]
    contribs = _reference(model, X, "pred_contribs")[:, :n]
    span = float(np.ptp(model.predict(X, output_margin=True)))
    assert agrees(mine, theirs, span) and rows_sum_to_shap(mine, contribs, span)
    bad = mine.copy()
    bad[7, 1, 2, 0] += 1e-3 * span  # one off-diagonal value
    assert not agrees(bad, theirs, span)
    assert not rows_sum_to_shap(bad, contribs, span)
    swapped = mine.copy()  # the main effect moved into an interaction keeps the row sum
    swapped[3, 0, 0, 0] -= 1e-3 * span
    swapped[3, 0, 1, 0] += 1e-3 * span
    assert rows_sum_to_shap(swapped, contribs, span) and not agrees(swapped, theirs, span)


def test_streamed_chunks_and_the_sample_match_one_pass(
    models: dict[str, tuple[Any, pd.DataFrame]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chunks of a few rows give the same mean |phi|, SHAP values and kept rows as one chunk."""
    from xai_cli.methods import treeshap_interactions as ti

    model, X = models["multiclass"]
    whole = _explain(model, X, sample_rows=10)
    monkeypatch.setattr(ti, "CHUNK_BYTES", 1)  # one block of rows per chunk
    monkeypatch.setattr(ti.tableshap, "BLOCK_ROWS", 16)
    chunked = _explain(model, X, sample_rows=10)
    a, b = whole.interactions, chunked.interactions
    assert a is not None and b is not None
    assert np.array_equal(a.sample_rows, b.sample_rows) and len(a.sample_rows) == 10
    assert np.allclose(a.mean_abs, b.mean_abs, rtol=1e-12, atol=1e-14)
    assert np.allclose(a.sample, b.sample, rtol=1e-12, atol=1e-14)
    assert np.allclose(whole.values, chunked.values, rtol=1e-12, atol=1e-14)


def test_summary_report_section_and_interaction_mass() -> None:
    """A hand-made summary: pair order, shares, mass and partners are what the matrix says."""
    features = ("a", "b", "c")
    mean_abs = np.array([[2.0, 1.0, 0.0], [1.0, 0.5, 0.25], [0.0, 0.25, 3.0]])[:, :, None]
    summary = InteractionSummary(features, ("all",), 10, mean_abs, np.array([0]),
                                 mean_abs[None], {"c": ("x", "y")})  # fmt: skip
    assert np.allclose(summary.mass()[:, 0], [1 / 3, 1.25 / 1.75, 0.25 / 3.25])
    sec = from_summary("treeshap.interactions", "mean_abs_shap:log_odds", summary)
    assert [(p.feature_a, p.feature_b) for p in sec.pairs] == [("a", "b"), ("b", "c")]
    assert sec.pairs[0].share == pytest.approx(2.0 / 8.0)
    by_name = {f.feature: f for f in sec.per_feature}
    assert by_name["b"].partner == "a" and by_name["b"].mass == pytest.approx(1.25 / 1.75)
    assert by_name["c"].main_effect == 3.0 and by_name["a"].interaction == 1.0
    assert sec.categories == {"c": ("x", "y")}


@pytest.mark.parametrize("kind", ["multiclass"])
def test_the_fallback_gives_the_same_layout_and_values(
    kind: str, models: dict[str, tuple[Any, pd.DataFrame]]
) -> None:
    """``engine=native`` (XGBoost's own, used where the kernels cannot run) is laid out the same."""
    model, X = models[kind]
    fast, native = _explain(model, X), _explain(model, X, engine="native")
    assert native.library == "xgboost"
    span = float(np.ptp(model.predict(X, output_margin=True)))
    assert fast.interactions is not None and native.interactions is not None
    assert agrees(native.interactions.sample, fast.interactions.sample, span)
    assert agrees(native.base_values, fast.base_values, span)
    assert agrees(native.values, fast.values, span)


@pytest.mark.parametrize("family", ["lightgbm", "sklearn_tree", "catboost"])
def test_other_families_equal_shaps_interaction_values(family: str) -> None:
    """LightGBM, scikit-learn and CatBoost trees against shap's ``shap_interaction_values``."""
    import shap

    rng = np.random.default_rng(5)
    X = pd.DataFrame(rng.normal(size=(80, 4)), columns=list("abcd"))
    y = X.a * X.b + X.c
    if family == "lightgbm":
        import lightgbm as lgb

        model: Any = lgb.LGBMRegressor(n_estimators=10, num_leaves=7, min_child_samples=5, n_jobs=1,
                                       verbose=-1)  # fmt: skip
    elif family == "catboost":
        import catboost as cb

        model = cb.CatBoostRegressor(iterations=10, depth=3, verbose=0, thread_count=1)
    else:
        from sklearn.ensemble import RandomForestRegressor

        model = RandomForestRegressor(n_estimators=5, max_depth=4, random_state=0)
    model.fit(X, y)
    out = _explain(model, X)
    assert out.library == "numba" and out.interactions is not None
    theirs = np.asarray(shap.TreeExplainer(model).shap_interaction_values(X))
    assert agrees(out.interactions.sample[..., 0], theirs, float(np.ptp(model.predict(X))))
