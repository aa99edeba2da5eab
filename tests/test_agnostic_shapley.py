"""Exact Shapley (``shapley.exact``) and the coalition engine, against known answers.

Closed forms on linear models, xai's and shap's interventional TreeSHAP on a small tree, Huang &
Marques-Silva's Boolean counterexamples (published fractions), groups as players, raw string
columns through a pipeline, and identical numbers for any thread count. Each check is shown to
fail on corrupted values.
"""

from __future__ import annotations

from fractions import Fraction
from itertools import product

import numpy as np
import pandas as pd
import pytest

from xai_cli.methods import REGISTRY
from xai_cli.methods.agnostic.coalition import Game, singletons
from xai_cli.methods.agnostic.common import background_sample
from xai_cli.methods.agnostic.exact import exact_shapley
from xai_cli.methods.base import ExplainContext
from xai_cli.model.adapter import adapt

COLUMNS = [f"x{i}" for i in range(5)]


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(200, 5)), columns=COLUMNS)
    y = 2 * X.x0 - X.x1 + 0.5 * X.x2 * X.x3 + 0.1 * rng.normal(size=200)
    return X, y.to_numpy()


def _ctx(model, X: pd.DataFrame, rows: int = 15, **params) -> ExplainContext:  # noqa: ANN001
    return ExplainContext(adapt(model), X.iloc[:rows], None, 3, params, background=X)


def test_exact_equals_the_linear_closed_form(data) -> None:
    """Interventional SHAP of a linear model is coef * (x - mean of the background)."""
    from sklearn.linear_model import LinearRegression

    X, y = data
    model = LinearRegression().fit(X, y)
    ctx = _ctx(model, X, background_rows=40)
    got = REGISTRY["shapley.exact"].explain(ctx)
    bg = background_sample(X, 40, 3)
    closed = model.coef_ * (ctx.X.to_numpy() - bg.to_numpy().mean(axis=0))
    np.testing.assert_allclose(got.values[:, :, 0], closed, atol=1e-10)
    np.testing.assert_allclose(got.base_values[:, 0], model.predict(bg).mean(), atol=1e-10)
    wrong = model.coef_ * (ctx.X.to_numpy() - X.to_numpy().mean(axis=0))  # wrong background
    assert not np.allclose(got.values[:, :, 0], wrong, atol=1e-6)


def test_exact_equals_the_logistic_closed_form_in_log_odds(data) -> None:
    """On a LogisticRegression's decision function (log-odds), the same closed form holds."""
    from sklearn.linear_model import LogisticRegression

    X, y = data
    model = LogisticRegression().fit(X, y > 0)
    bg = X.iloc[100:130]
    game = Game(lambda f: model.decision_function(f)[:, None], tuple(COLUMNS),
                singletons(COLUMNS), bg)  # fmt: skip
    got = exact_shapley(game, X.iloc[:10])[:, :, 0]
    closed = model.coef_[0] * (X.iloc[:10].to_numpy() - bg.to_numpy().mean(axis=0))
    np.testing.assert_allclose(got, closed, atol=1e-10)
    assert not np.allclose(got[:, ::-1], closed, atol=1e-6)  # features swapped: fails


def test_exact_equals_interventional_treeshap_xai_and_shap(data) -> None:
    import shap
    from sklearn.tree import DecisionTreeRegressor

    X, y = data
    model = DecisionTreeRegressor(max_depth=4, random_state=0).fit(X, y)
    params = {"background_rows": 30}
    ctx = _ctx(model, X, **params)
    exact = REGISTRY["shapley.exact"].explain(ctx).values
    tree = REGISTRY["treeshap.interventional"].explain(ctx).values
    np.testing.assert_allclose(exact, tree, rtol=1e-6, atol=1e-9)  # xai's kernels: float32 sums
    bg = background_sample(X, 30, 3)
    theirs = shap.TreeExplainer(model, data=bg, feature_perturbation="interventional")
    shap_values = theirs.shap_values(ctx.X)
    np.testing.assert_allclose(exact[:, :, 0], shap_values, rtol=1e-6, atol=1e-9)  # float32 splits
    other = REGISTRY["shapley.exact"].explain(_ctx(model, X, background_rows=31)).values
    assert not np.allclose(other, tree, atol=1e-6)  # another background: another answer


def _table_game(columns: list[str], domains: list[range], kappa) -> tuple[Game, pd.DataFrame]:  # noqa: ANN001
    grid = pd.DataFrame(list(product(*domains)), columns=columns)  # the uniform distribution

    def predict(frame: pd.DataFrame) -> np.ndarray:
        return np.array([kappa(*row) for row in frame.to_numpy()], dtype=float)[:, None]

    return Game(predict, tuple(columns), singletons(columns), grid), grid


H1 = {(0, 0, 1): 4, (0, 1, 1): 7}
"""Huang & Marques-Silva (CACM 2024, Fig. 1a): kappa = 1 when x1 = 1; else 4 or 7 at x3 = 1."""

BOOLEAN_CASES = [
    # (name, domains, kappa, instance, published Shapley values)
    ("H1", [range(2), range(2), range(3)],
     lambda a, b, c: 1 if a == 1 else H1.get((a, b, c), 0), (1, 1, 2),
     [Fraction(0), Fraction(1, 12), Fraction(-1, 2)]),
    ("H2 NOR", [range(2)] * 3, lambda a, b, c: int(not (a or b or c)), (0, 0, 1),
     [Fraction(1, 12), Fraction(1, 12), Fraction(-7, 24)]),
    ("H3", [range(2)] * 3,
     lambda a, b, c: int((not a and b and c) or (a and not b and not c)), (0, 0, 0),
     [Fraction(-1, 4), Fraction(0), Fraction(0)]),
    ("H4", [range(2)] * 4, lambda a, b, c, d: int((not a) and (b + c + d == 1)), (0, 0, 0, 0),
     [Fraction(11, 64), Fraction(-23, 192), Fraction(-23, 192), Fraction(-23, 192)]),
]  # fmt: skip


@pytest.mark.parametrize(("name", "domains", "kappa", "instance", "published"), BOOLEAN_CASES,
                         ids=[c[0] for c in BOOLEAN_CASES])  # fmt: skip
def test_boolean_counterexamples_reproduce_the_published_values(
    name: str, domains, kappa, instance, published  # noqa: ANN001
) -> None:
    """Irrelevant features get non-zero Shapley values under the uniform distribution (H1: x2
    and x3 never change the prediction at v = (1, 1, 2), yet get 1/12 and -1/2)."""
    columns = [f"x{i + 1}" for i in range(len(domains))]
    game, _ = _table_game(columns, domains, kappa)
    got = exact_shapley(game, pd.DataFrame([instance], columns=columns))[0, :, 0]
    np.testing.assert_allclose(got, [float(p) for p in published], atol=1e-12)
    corrupted = [float(p) for p in published]
    corrupted[0] += 1 / 24
    assert not np.allclose(got, corrupted, atol=1e-6)


def test_groups_play_as_one_and_sum_the_members_on_an_additive_model(data) -> None:
    from sklearn.linear_model import LinearRegression

    X, y = data
    model = LinearRegression().fit(X, y)
    single = REGISTRY["shapley.exact"].explain(_ctx(model, X, background_rows=25)).values
    grouped = REGISTRY["shapley.exact"].explain(
        _ctx(model, X, background_rows=25, groups="x0+x3,x1+x4")
    )
    assert grouped.features == ("x0+x3", "x1+x4", "x2")
    expect = np.stack([single[:, 0] + single[:, 3], single[:, 1] + single[:, 4], single[:, 2]], 1)
    np.testing.assert_allclose(grouped.values, expect, atol=1e-10)
    assert not np.allclose(grouped.values[:, 0], single[:, 0], atol=1e-6)


def test_raw_string_columns_through_a_pipeline_and_any_thread_count() -> None:
    """Masked frames keep strings as strings (a OneHotEncoder pipeline takes them); values add up
    to f(x) minus the base value; 1 and 2 threads give identical numbers."""
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    rng = np.random.default_rng(1)
    X = pd.DataFrame({"city": rng.choice(["oslo", "rome", "lima"], 120),
                      "age": rng.normal(40, 10, 120), "n": rng.integers(0, 5, 120)})  # fmt: skip
    y = (X.city == "rome") ^ (X.age > 40)
    model = make_pipeline(
        make_column_transformer((OneHotEncoder(), ["city"]), remainder="passthrough"),
        LogisticRegression(),
    ).fit(X, y)
    columns = tuple(X.columns)

    def predict(frame: pd.DataFrame) -> np.ndarray:
        assert pd.api.types.is_string_dtype(frame["city"])  # strings stay strings
        return model.predict_proba(frame)[:, 1:]

    game = Game(predict, columns, singletons(columns), X.iloc[:20], block_rows=64)
    one = exact_shapley(game, X.iloc[:6])
    two = exact_shapley(Game(**{**game.__dict__, "n_jobs": 2, "_base": []}), X.iloc[:6])
    np.testing.assert_array_equal(one, two)
    reconstructed = one.sum(axis=1) + game.base_value()
    np.testing.assert_allclose(reconstructed, predict(X.iloc[:6]), atol=1e-12)
    assert not np.allclose(reconstructed + 1e-3, predict(X.iloc[:6]), atol=1e-6)
