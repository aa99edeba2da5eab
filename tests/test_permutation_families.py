"""Permutation importance equals scikit-learn's ``permutation_importance`` for every family and
task, with tiny models trained here.

xai reassembles tree ensembles' shuffled copies from cached leaves (the tree walk of
:mod:`xai_cli.methods.permutation_trees`, asserted taken where it applies) or predicts a column's
repeats in one stacked call from rows typed once; scikit-learn predicts each shuffled copy
separately. The reference below is scikit-learn's function driving the
adapter's own per-copy prediction, so equality shows the stacked path changes no number; a
different seed is shown to change them (the check can fail).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.inspection import permutation_importance

from tests.helpers_trees import Task, make_data
from tests.test_treeshap_fast import categorical_data
from xai_cli.methods import REGISTRY, ExplainContext
from xai_cli.methods.permutation import score
from xai_cli.model.adapter import adapt
from xai_cli.run.engine import encode_target

xgb = pytest.importorskip("xgboost")
lgb = pytest.importorskip("lightgbm")
catboost = pytest.importorskip("catboost")

REPEATS = 2


class _Fitted:
    def fit(self, *_: Any) -> _Fitted:
        return self


def model_for(family: str, task: Task) -> Any:
    classifier = task != "regression"
    if family == "xgboost":
        return (xgb.XGBClassifier if classifier else xgb.XGBRegressor)(
            n_estimators=8, max_depth=3, random_state=0, n_jobs=1
        )
    if family == "lightgbm":
        return (lgb.LGBMClassifier if classifier else lgb.LGBMRegressor)(
            n_estimators=8, num_leaves=8, random_state=0, verbose=-1, n_jobs=1
        )
    if family == "catboost":
        return (catboost.CatBoostClassifier if classifier else catboost.CatBoostRegressor)(
            iterations=8, depth=3, random_seed=0, verbose=0, thread_count=1,
            allow_writing_files=False,
        )  # fmt: skip
    if family == "random_forest":
        from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

        cls = RandomForestClassifier if classifier else RandomForestRegressor
        return cls(n_estimators=5, max_depth=4, random_state=0)
    if family == "gradient_boosting":
        from sklearn.ensemble import GradientBoostingClassifier

        return GradientBoostingClassifier(n_estimators=4, max_depth=2, random_state=0)
    from sklearn.linear_model import LinearRegression, LogisticRegression

    return LogisticRegression(max_iter=200) if classifier else LinearRegression()


def importances(model: Any, X: pd.DataFrame, y: pd.Series, seed: int) -> tuple[Any, Any]:
    adapter = adapt(model.fit(X, y))
    codes, adapter, _ = encode_target(adapter, y)
    ctx = ExplainContext(adapter=adapter, X=X, y=codes, seed=seed,
                         params={"n_repeats": REPEATS})  # fmt: skip
    table = REGISTRY["permutation"].explain(ctx)
    want = permutation_importance(
        _Fitted(), X.loc[:, list(adapter.feature_names)], codes,
        scoring=lambda _e, Xp, yy: score(adapter, Xp, yy), n_repeats=REPEATS, random_state=seed,
    )  # fmt: skip
    return table, want


CASES = [(f, t) for f in ("xgboost", "lightgbm", "catboost", "random_forest", "linear")
         for t in ("regression", "binary", "multiclass")]  # fmt: skip
CASES += [("gradient_boosting", "multiclass")]  # one tree per class and stage
# ExtraTrees and HistGradientBoosting: every shuffled copy is compared with the library's own
# prediction in test_permutation_trees.py (equal predictions give equal importances)
LIBRARY_PATH = {("catboost", "multiclass"), ("linear", "regression"), ("linear", "binary"),
                ("linear", "multiclass")}  # fmt: skip
"""Cases predicted by the library: CatBoost's own softmax is not numpy's (the tree walk's check
finds the difference and falls back); linear models have no trees."""


@pytest.mark.parametrize(("family", "task"), CASES)
def test_equals_scikit_learn_for_every_family_and_task(family: str, task: Task) -> None:
    X, y = make_data(task, n=200)
    table, want = importances(model_for(family, task), X, y, seed=3)
    np.testing.assert_array_equal(table.column(), want.importances_mean)
    np.testing.assert_array_equal(table.spread[:, 0], want.importances_std)
    assert np.abs(want.importances_mean).max() > 1e-3
    walked = table.params["predictions"] == "xai tree walk (checked)"
    assert walked == ((family, task) not in LIBRARY_PATH), table.params["predictions"]


@pytest.mark.parametrize("family", ["xgboost", "lightgbm"])
def test_equals_scikit_learn_with_categorical_columns(family: str) -> None:
    X, y = categorical_data()
    if family == "xgboost":
        model = xgb.XGBClassifier(n_estimators=6, max_depth=3, enable_categorical=True,
                                  tree_method="hist", random_state=0, n_jobs=1)  # fmt: skip
    else:
        model = lgb.LGBMClassifier(n_estimators=6, num_leaves=8, random_state=0, verbose=-1)
    table, want = importances(model, X, y, seed=0)
    np.testing.assert_array_equal(table.column(), want.importances_mean)
    assert table.params["predictions"] == "xai tree walk (checked)"


def test_a_different_seed_changes_the_numbers() -> None:
    X, y = make_data("binary", n=200)
    model = model_for("lightgbm", "binary").fit(X, y)
    adapter = adapt(model)
    codes, adapter, _ = encode_target(adapter, y)
    runs = [
        REGISTRY["permutation"].explain(
            ExplainContext(adapter=adapter, X=X, y=codes, seed=seed, params={"n_repeats": 2})
        ).column()
        for seed in (3, 4)
    ]
    assert not np.array_equal(runs[0], runs[1])


def test_regression_bootstrap_in_one_product_equals_the_per_metric_scores() -> None:
    """The R² bootstrap computed as one matrix product over every prediction equals the
    weighted R² of each prediction on its own (scikit-learn's r2 with sample weights, tested in
    test_bootstrap.py)."""
    from xai_cli.compare.bootstrap import WeightedScore, resample_counts
    from xai_cli.methods.permutation import bootstrap_importances

    rng = np.random.default_rng(0)
    y = rng.normal(size=120)
    made = [y + rng.normal(scale=s, size=120) for s in (0.1, 0.5, 0.6, 1.0, 1.2)]
    metrics = [WeightedScore("regression", y, p) for p in made]
    ones = np.ones((1, len(y)))
    full = np.array([m(ones)[0] for m in metrics])
    importances = (full[0] - full[1:]).reshape(2, 2)
    got = bootstrap_importances("regression", y, made, importances, seed=1)
    want = []
    for counts in resample_counts(len(y), seed=1):
        scored = np.stack([m(counts) for m in metrics], axis=1)
        want.append((scored[:, :1] - scored[:, 1:]).reshape(len(counts), 2, 2).mean(axis=2))
    assert got is not None
    np.testing.assert_allclose(got, np.vstack(want), rtol=0, atol=1e-12)
    assert not np.allclose(got, np.vstack(want)[::-1], atol=1e-6)  # the check can fail
