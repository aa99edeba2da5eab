"""LIME (seeded, batched Ridge, stability) and Integrated Gradients (completeness, gradients)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from xai_cli.methods import REGISTRY
from xai_cli.methods.agnostic.gradients import (
    _DERIVATIVE,
    BASELINES,
    converged_ig,
    integrated_gradients,
    logits_and_gradients,
)
from xai_cli.methods.agnostic.lime import weighted_ridge
from xai_cli.methods.base import ExplainContext
from xai_cli.model.adapter import adapt

COLUMNS = [f"x{i}" for i in range(6)]


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(200, 6)), columns=COLUMNS)
    return X, 3 * X.x0 - 2 * X.x1 + 0.3 * X.x2


def test_batched_ridge_equals_sklearn_ridge() -> None:
    from sklearn.linear_model import Ridge

    rng = np.random.default_rng(1)
    Z = (rng.random((3, 50, 4)) > 0.5).astype(float)
    y, w = rng.normal(size=(3, 50, 2)), rng.random((3, 50))
    coef, intercept = weighted_ridge(Z, y, w, alpha=1.0)
    for r in range(3):
        ridge = Ridge(alpha=1.0).fit(Z[r], y[r], sample_weight=w[r])
        np.testing.assert_allclose(coef[r], ridge.coef_.T, atol=1e-10)
        np.testing.assert_allclose(intercept[r], ridge.intercept_, atol=1e-10)
    other = weighted_ridge(Z, y, np.ones_like(w), alpha=1.0)[0]  # the weights matter
    assert not np.allclose(other, coef, atol=1e-6)


class _Noisy:
    """A regressor whose output is the clean linear signal plus large hash noise per row:
    a model LIME cannot explain stably."""

    def __init__(self, n_features: int) -> None:
        self.n_features_in_ = n_features

    def predict(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=float)
        clean = 3 * X[:, 0] - 2 * X[:, 1] + 0.3 * X[:, 2]
        noise = np.sin(X @ np.arange(1, X.shape[1] + 1) * 1e3)
        return clean + 8 * noise


def test_lime_is_seeded_and_less_stable_on_a_noisy_model(data) -> None:
    from sklearn.linear_model import LinearRegression

    X, y = data
    clean = adapt(LinearRegression().fit(X, y))
    noisy = clean.__class__(**{**clean.__dict__, "model": _Noisy(6), "native": _Noisy(6)})
    params = {"n_samples": 300, "top_k": 2}
    first = REGISTRY["lime"].explain(ExplainContext(clean, X.iloc[:20], None, 4, params))
    again = REGISTRY["lime"].explain(ExplainContext(clean, X.iloc[:20], None, 4, params))
    other = REGISTRY["lime"].explain(ExplainContext(clean, X.iloc[:20], None, 5, params))
    np.testing.assert_array_equal(first.values, again.values)
    assert not np.array_equal(first.values, other.values)
    shaky = REGISTRY["lime"].explain(ExplainContext(noisy, X.iloc[:20], None, 4, params))
    assert first.params["stability_topk_jaccard"] > shaky.params["stability_topk_jaccard"] + 0.2
    assert any("stability" in n for n in shaky.notes)
    top = np.argsort(-np.abs(first.values[:, :, 0]).mean(axis=0))[:2]
    assert set(top.tolist()) == {0, 1}  # the planted signal leads on the clean model


@pytest.fixture(scope="module")
def mlps(data) -> dict[str, object]:
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    X, y = data
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for act in _DERIVATIVE:
            out[act] = MLPRegressor(hidden_layer_sizes=(12, 6), activation=act, max_iter=80,
                                    random_state=0).fit(X, y)  # fmt: skip
        out["binary"] = MLPClassifier(hidden_layer_sizes=(8,), max_iter=80,
                                      random_state=0).fit(X, y > 0)  # fmt: skip
        three = np.digitize(y, [-2, 2])
        out["multiclass"] = MLPClassifier(hidden_layer_sizes=(8,), max_iter=80,
                                          random_state=0).fit(X, three)  # fmt: skip
    return out


def test_analytic_gradients_match_finite_differences(mlps, data) -> None:
    X = data[0].to_numpy()[:5]
    for name, model in mlps.items():
        _, grad = logits_and_gradients(model, X)
        eps = 1e-6
        for j in range(X.shape[1]):
            step = np.zeros_like(X)
            step[:, j] = eps
            up, _ = logits_and_gradients(model, X + step)
            down, _ = logits_and_gradients(model, X - step)
            np.testing.assert_allclose(grad[:, j, :], (up - down) / (2 * eps), atol=1e-5,
                                       err_msg=name)  # fmt: skip
    if "binary" in mlps:  # the logit is the log-odds of predict_proba
        model = mlps["binary"]
        logits, _ = logits_and_gradients(model, X)
        p = model.predict_proba(pd.DataFrame(X, columns=COLUMNS))[:, 1]
        np.testing.assert_allclose(logits[:, 0], np.log(p / (1 - p)), atol=1e-8)


def test_ig_completeness_within_1e_3_of_the_output_range_with_default_steps(mlps, data) -> None:
    X, _ = data
    for name, model in mlps.items():
        ctx = ExplainContext(adapt(model), X.iloc[:30], None, 0, {})
        got = REGISTRY["integrated_gradients"].explain(ctx)
        assert got.params["completeness_error"] <= 1e-3 * got.params["output_range"], name
        assert set(got.params["baseline_spearman"]) == {"zeros~mean", "zeros~background",
                                                        "mean~background"}  # fmt: skip
        assert got.spread is not None and got.spread_kind == "std_over_baselines"
        fx, _ = logits_and_gradients(model, X.iloc[:30].to_numpy())
        gap = got.values.sum(axis=1) + got.base_values - fx
        assert np.abs(gap).max() <= 1e-3 * got.params["output_range"], name
    assert tuple(BASELINES) == ("zeros", "mean", "background")


def test_ig_completeness_check_fails_on_a_wrong_derivative(mlps, data, monkeypatch) -> None:
    """With the tanh derivative replaced by 1, the attributions no longer add up."""
    import xai_cli.methods.agnostic.gradients as ig

    model, X = mlps["tanh"], data[0].to_numpy()[:10]
    base = X.mean(axis=0, keepdims=True)
    _, error, _, scale = converged_ig(model, X, base, 64)
    assert error <= 1e-3 * scale
    monkeypatch.setitem(ig._DERIVATIVE, "tanh", lambda h: np.ones_like(h))
    _, gaps = integrated_gradients(model, X, base, 256)
    assert np.abs(gaps).max() > 1e-2 * scale
