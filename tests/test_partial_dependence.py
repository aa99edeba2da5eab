"""``partial_dependence``: curves from the model's own predictions, checked in closed form on a
linear model (the partial dependence is the line ``b + w_j g + sum_k w_k mean(x_k)``, each ICE
line is the row's prediction with ``x_j = g``, the importance is ``|w_j| std(grid)``); the check
fails on a corrupted curve; categorical features get their categories as the grid."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

from xai_cli.methods.base import ExplainContext
from xai_cli.methods.partial_dependence import PartialDependence, PartialDependenceTable
from xai_cli.model.adapter import adapt


@pytest.fixture(scope="module")
def linear() -> tuple[LinearRegression, pd.DataFrame, PartialDependenceTable]:
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(300, 3)), columns=["a", "b", "c"])
    model = LinearRegression().fit(X, 3 * X.a - 2 * X.b + 0.5 * X.c + rng.normal(size=300))
    ctx = ExplainContext(adapter=adapt(model), X=X, y=None, seed=0,
                         params={"rows": 120, "grid": 7, "ice_rows": 5})  # fmt: skip
    table = PartialDependence().explain(ctx)
    assert isinstance(table, PartialDependenceTable)
    return model, X, table


def closed_form_pd(model: LinearRegression, rows: pd.DataFrame, j: int, grid: np.ndarray) -> Any:
    means = rows.mean().to_numpy()
    rest = model.intercept_ + sum(model.coef_[k] * means[k] for k in range(3) if k != j)
    return rest + model.coef_[j] * grid


def test_linear_model_curves_are_the_closed_form(linear) -> None:  # noqa: ANN001
    model, X, table = linear
    take = np.sort(np.random.default_rng(0).choice(len(X), 120, replace=False))
    rows = X.iloc[take].reset_index(drop=True)
    for j, curve in enumerate(table.curves):
        grid = np.asarray(curve.grid)
        assert len(grid) == 7
        assert np.allclose(curve.pd, closed_form_pd(model, rows, j, grid))
        assert not np.allclose(np.asarray(curve.pd) + 1e-3, closed_form_pd(model, rows, j, grid))
        for r, line in enumerate(curve.ice):  # row r of the sample with x_j = g
            expect = rows.iloc[[r] * 7].assign(**{X.columns[j]: grid})
            assert np.allclose(line, model.predict(expect))
        assert table.values[j, 0] == pytest.approx(abs(model.coef_[j]) * grid.std())
    assert table.values[:, 0].argmax() == 0  # a, the largest coefficient x spread


def test_categorical_grid_is_the_categories() -> None:
    from sklearn.ensemble import RandomForestRegressor

    rng = np.random.default_rng(1)
    X = pd.DataFrame({"x": rng.normal(size=200), "k": rng.integers(0, 3, 200)})
    y = X.x + (X.k == 2) * 3.0
    model = RandomForestRegressor(n_estimators=5, random_state=0).fit(X, y)
    frame = X.assign(k=X.k.astype(str))  # a text column of codes
    from xai_cli.methods.partial_dependence import _grid

    grid, labels, categorical = _grid(frame.k, 20)
    assert categorical and sorted(labels) == ["0", "1", "2"]
    ctx = ExplainContext(adapter=adapt(model), X=X, y=None, seed=0)
    table = PartialDependence().explain(ctx)
    assert table.values[1, 0] > table.values[0, 0] / 10  # k matters
    assert table.curves[0].labels == ()  # x is numeric
