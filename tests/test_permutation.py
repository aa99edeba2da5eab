"""Permutation importance: the same numbers as scikit-learn's ``permutation_importance``.

xai draws the shuffles as scikit-learn does but runs each shuffled copy as its own prediction task
(so it can keep the predictions and run them on Dask); this pins the equality for every task, and
shows the comparison would catch a different draw.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.inspection import permutation_importance

from tests.conftest import SAMPLE_DATA
from xai_cli.load.models import load_model
from xai_cli.methods import REGISTRY, ExplainContext
from xai_cli.methods.permutation import score, shuffle_orders
from xai_cli.model.adapter import adapt
from xai_cli.run.engine import encode_target


class _Fitted:
    def fit(self, *_: Any) -> _Fitted:
        return self


def _context(model: Path, data: Path, target: str, rows: int, seed: int) -> ExplainContext:
    adapter = adapt(load_model(model).obj)
    frame = pd.read_csv(data).sample(rows, random_state=1)
    codes, adapter, _ = encode_target(adapter, frame.pop(target))
    return ExplainContext(adapter=adapter, X=frame, y=codes, seed=seed, params={"n_repeats": 4})


@pytest.mark.parametrize(
    ("model", "data", "target"),
    [
        ("adult_xgboost.joblib", "adult.csv", "income"),  # binary, pandas categories
        ("california_lightgbm.joblib", "california_housing.csv", "MedHouseVal"),  # regression
        ("adult_catboost.cbm", "adult.csv", "income"),  # a native file, categorical features
    ],
)
@pytest.mark.parametrize("seed", [0, 11])
def test_equals_scikit_learn_permutation_importance(
    sample_models: Path, model: str, data: str, target: str, seed: int
) -> None:
    ctx = _context(sample_models / model, SAMPLE_DATA / data, target, 400, seed)
    table = REGISTRY["permutation"].explain(ctx)
    adapter = ctx.adapter
    X = ctx.X.loc[:, list(adapter.feature_names)]
    want = permutation_importance(
        _Fitted(), X, ctx.y, scoring=lambda _e, Xp, y: score(adapter, Xp, y),
        n_repeats=4, random_state=seed,
    )  # fmt: skip
    np.testing.assert_allclose(table.column(), want.importances_mean, rtol=0, atol=1e-12)
    np.testing.assert_allclose(table.spread[:, 0], want.importances_std, rtol=0, atol=1e-12)
    assert np.abs(want.importances_mean).max() > 1e-3  # not trivially equal zeros


def test_a_different_shuffle_would_be_caught(sample_models: Path) -> None:
    orders = shuffle_orders(50, 3, seed=0)
    assert all(sorted(o) == list(range(50)) for o in orders)  # each a permutation of the rows
    assert not np.array_equal(orders[0], orders[1])
    assert not np.array_equal(orders[0], shuffle_orders(50, 3, seed=1)[0])
