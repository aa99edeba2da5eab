"""KernelSHAP against exact Shapley; occlusion by hand; the cost gate of ``auto``.

KernelSHAP's error must shrink with its budget and sit within its own reported standard error of
the exact values on a 10-feature MLP; efficiency must hold at any budget. Occlusion is computed by
hand on a tiny linear model, with and without a target.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from xai_cli.methods import REGISTRY
from xai_cli.methods.agnostic.budget import affordable
from xai_cli.methods.agnostic.coalition import Game, singletons
from xai_cli.methods.agnostic.exact import exact_shapley
from xai_cli.methods.agnostic.kernel import kernel_shap
from xai_cli.methods.base import ExplainContext
from xai_cli.model.adapter import adapt


@pytest.fixture(scope="module")
def mlp_game() -> tuple[Game, pd.DataFrame, np.ndarray]:
    """A 10-feature MLP regressor with interactions, 10 rows, 20 background rows, and its exact
    Shapley values."""
    from sklearn.neural_network import MLPRegressor

    rng = np.random.default_rng(0)
    columns = [f"x{i}" for i in range(10)]
    X = pd.DataFrame(rng.normal(size=(200, 10)), columns=columns)
    y = 2 * X.x0 + np.sin(2 * X.x1) + X.x2 * X.x3 - X.x4 + 0.5 * X.x5 * X.x6
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = MLPRegressor(hidden_layer_sizes=(16,), max_iter=150, random_state=0)
        model.fit(X.to_numpy(), y)
    game = Game(lambda f: model.predict(f.to_numpy())[:, None], tuple(columns),
                singletons(columns), X.iloc[150:170])  # fmt: skip
    rows = X.iloc[:10]
    return game, rows, exact_shapley(game, rows)


def test_kernelshap_error_shrinks_with_budget_and_sits_within_its_standard_error(mlp_game) -> None:
    game, rows, exact = mlp_game
    errors = []
    for budget in (64, 256, 1000):  # 1000 < 2**10 - 2: sampled, not the exact shortcut
        values, se, used = kernel_shap(game, rows, budget, 128, 0.0, seed=1)
        assert used == budget
        errors.append(float(np.sqrt(((values - exact) ** 2).mean())))
        # efficiency holds exactly at any budget (the constraint is solved in closed form)
        np.testing.assert_allclose(values.sum(axis=1), (exact.sum(axis=1)), atol=1e-10)
    assert errors[0] > errors[1] > errors[2], errors
    values, se, _ = kernel_shap(game, rows, 1000, 128, 0.0, seed=1)
    z = np.abs(values - exact) / se
    assert np.mean(z <= 2.0) >= 0.85, np.mean(z <= 2.0)  # ~95% for a calibrated error
    assert 0.5 <= float(np.sqrt((z**2).mean())) <= 1.6
    z_small = np.abs(values - exact) / (se / 5)  # an error bar 5x too narrow fails the check
    assert np.mean(z_small <= 2.0) < 0.85


def test_kernelshap_stop_rule_and_exact_shortcut(mlp_game) -> None:
    game, rows, exact = mlp_game
    values, se, used = kernel_shap(game, rows, 4000, 128, 0.05, seed=2)
    assert used < 4000  # converged before the budget
    spread = values.max(axis=1) - values.min(axis=1)
    assert (se.max(axis=1) <= 0.05 * spread).all()
    from sklearn.linear_model import LinearRegression

    X = rows.copy()
    ctx = ExplainContext(adapt(LinearRegression().fit(X.iloc[:, :4], X.x0)), X.iloc[:5, :4], None,
                         0, {"max_coalitions": 64}, background=X.iloc[:, :4])  # fmt: skip
    shortcut = REGISTRY["kernelshap"].explain(ctx)
    assert shortcut.params["exact"] is True and np.all(shortcut.spread == 0)


def test_kernelshap_identical_for_any_thread_count(mlp_game) -> None:
    game, rows, _ = mlp_game
    one = kernel_shap(game, rows, 256, 64, 0.0, seed=3)[0]
    threaded = Game(**{**game.__dict__, "n_jobs": 2, "block_rows": 300, "_base": []})
    np.testing.assert_array_equal(one, kernel_shap(threaded, rows, 256, 64, 0.0, seed=3)[0])


def test_occlusion_by_hand_on_a_tiny_linear_model() -> None:
    """f = 2 a - 3 b + 1; background rows (0, 0) and (1, 2): occlusion of a at x = (3, 1) is
    f(x) - mean(f(0, 1), f(1, 1)) = 2 * (3 - 0.5) = 5; of b: -3 * (1 - 1) = 0. With target 0,
    squared loss: L(x) = 4^2 = 16; a replaced: mean((-2)^2, 0^2) = 2, change 2 - 16 = -14;
    b replaced: mean(7^2, 1^2) = 25, change 25 - 16 = 9."""
    from sklearn.linear_model import LinearRegression

    model = LinearRegression()
    model.coef_, model.intercept_, model.n_features_in_ = np.array([2.0, -3.0]), 1.0, 2
    model.feature_names_in_ = np.array(["a", "b"], dtype=object)
    bg = pd.DataFrame({"a": [0.0, 1.0], "b": [0.0, 2.0]})
    x = pd.DataFrame({"a": [3.0], "b": [1.0]})
    ctx = ExplainContext(adapt(model), x, np.array([0.0]), 0, {}, background=bg)
    got = REGISTRY["occlusion"].explain(ctx)
    np.testing.assert_allclose(got.values[0, :, 0], [5.0, 0.0], atol=1e-12)
    assert got.params["loss_change"] == pytest.approx({"a": -14.0, "b": 9.0})
    assert not got.additive
    assert got.values[0, 0, 0] != pytest.approx(2 * (3 - 0.0))  # not the first background row


def test_auto_includes_affordable_methods_and_says_why_others_are_left_out() -> None:
    from sklearn.linear_model import LinearRegression

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(40, 16)), columns=[f"c{i}" for i in range(16)])
    adapter = adapt(LinearRegression().fit(X, X.c0))
    chosen = [(REGISTRY[n], "auto") for n in ("shapley.exact", "kernelshap", "occlusion")]

    def context(explainer):  # noqa: ANN001, ANN202
        return ExplainContext(adapter, X, None, 0, explainer.params())

    keep, skipped = affordable(chosen, context, None)
    assert [e.name for e, _ in keep] == ["kernelshap", "occlusion"]
    assert "16 players" in skipped[0].reason
    keep, skipped = affordable(chosen, context, 1e-6)  # a tiny time limit prices them out
    assert keep == [] and all("over auto's budget" in s.reason for s in skipped[1:])
    named = [(REGISTRY["shapley.exact"], "user")]
    assert affordable(named, context, 1e-6)[0] == named  # a named method is not gated here


def test_fewer_background_rows_per_coalition_stays_unbiased_and_calibrated(mlp_game) -> None:
    """Averaging each coalition over 5 of the 20 background rows: efficiency still exact, and
    the jackknife standard error still covers the error."""
    game, rows, exact = mlp_game
    values, se, _ = kernel_shap(game, rows, 2000, 128, 0.0, seed=4, per_coalition=5)
    np.testing.assert_allclose(values.sum(axis=1), exact.sum(axis=1), atol=1e-10)
    z = np.abs(values - exact) / se
    assert np.mean(z <= 2.0) >= 0.85 and 0.5 <= float(np.sqrt((z**2).mean())) <= 1.6


def test_standard_errors_become_the_table_spread_and_widen_rank_intervals() -> None:
    from xai_cli.compare.agreement import rank_intervals
    from xai_cli.results import LocalAttribution

    values = np.tile(np.array([1.0, 0.98, 0.5])[None, :, None], (50, 1, 1))
    common = {"method": "m", "unit": "u", "features": ("a", "b", "c"), "outputs": ("value",),
              "values": values, "base_values": np.zeros((50, 1)), "data": np.zeros((50, 3))}
    exact = LocalAttribution(**common)
    noisy = LocalAttribution(**common, spread=np.full(values.shape, 0.5))
    assert exact.to_global().spread is None
    table = noisy.to_global()
    assert table.spread_kind == "stderr"
    np.testing.assert_allclose(table.spread[:, 0], 0.5 / np.sqrt(50))
    narrow = {r.feature: (r.low, r.high) for r in rank_intervals(exact, seed=0)}
    wide = {r.feature: (r.low, r.high) for r in rank_intervals(noisy, seed=0)}
    assert narrow["a"] == (1, 1) and wide["a"] == (1, 2)  # a and b within their errors
