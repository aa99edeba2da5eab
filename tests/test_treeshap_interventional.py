"""``treeshap.interventional``: additivity, agreement with shap, seeded background, options.

* Local accuracy: contributions plus the base value (mean raw output over the background) rebuild
  the model's raw margin, through the engine's own additivity check, for every family.
* On small models the values equal shap's interventional ``TreeExplainer`` given the same
  background rows, raw and (binary) probability space; the comparison fails on shifted values.
* The background is a seeded sample: same seed, same values; another seed, other values.
* The method is opt-in (not run by ``auto``) and runs when named on the command line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest

from tests.helpers_trees import make_data, outcome, run_xai, write_csv
from tests.test_treeshap_fast import fit, with_missing
from xai_cli.compare.agreement import additivity
from xai_cli.methods.base import ExplainContext
from xai_cli.methods.treeshap import FAST_LIBRARY
from xai_cli.methods.treeshap_interventional import InterventionalTreeShap, background_sample
from xai_cli.model.adapter import adapt
from xai_cli.results import LocalAttribution
from xai_cli.run.engine import model_output

shap = pytest.importorskip("shap")

BACKGROUND = 60


def explain(model: Any, X: pd.DataFrame, seed: int = 0, **params: Any) -> LocalAttribution:
    params.setdefault("background_rows", BACKGROUND)
    ctx = ExplainContext(adapter=adapt(model), X=X, y=None, seed=seed, params=params)
    return InterventionalTreeShap().explain(ctx)


def shap_interventional(model: Any, X: pd.DataFrame, output: str = "raw") -> np.ndarray:
    """shap's values with the same background rows xai samples (seed 0)."""
    background = background_sample(X, BACKGROUND, 0)
    explainer = shap.TreeExplainer(
        model, background, feature_perturbation="interventional", model_output=output
    )
    values = np.asarray(explainer.shap_values(X, check_additivity=False))
    if values.ndim == 2:
        values = values[:, :, None]
    return values[:, :, 1:2] if values.shape[2] == 2 else values


@pytest.mark.parametrize(
    ("library", "task"),
    [
        ("xgboost", "regression"),
        ("xgboost", "multiclass"),
        ("lightgbm", "binary"),
        ("catboost", "regression"),
        ("catboost", "multiclass"),
        ("random_forest", "binary"),
    ],
)
def test_additive_against_the_model_raw_output(library: str, task: str) -> None:
    X, y = make_data(task)  # type: ignore[arg-type]
    if library != "catboost":
        X = with_missing(X)
    model = fit(library, task, X, y)  # type: ignore[arg-type]
    local = explain(model, X)
    assert local.library == FAST_LIBRARY, local.notes
    adapter = adapt(model)
    check = additivity(local, adapter.predict_raw(X))
    assert check.ok, check
    assert check.max_abs_error < 1e-5 * max(1.0, float(np.ptp(adapter.predict_raw(X))))
    shifted = additivity(local, adapter.predict_raw(X) + 0.01)
    assert not shifted.ok


@pytest.mark.parametrize(
    ("library", "task"),
    [("xgboost", "binary"), ("lightgbm", "regression"), ("random_forest", "binary")],
)
def test_equals_shap_interventional_tree_explainer(library: str, task: str) -> None:
    X, y = make_data(task, n=200)  # type: ignore[arg-type]
    model = fit(library, task, X, y)  # type: ignore[arg-type]
    local = explain(model, X)
    expected = shap_interventional(model, X)
    assert local.values.shape == expected.shape
    np.testing.assert_allclose(local.values, expected, atol=1e-6)
    assert np.abs(local.values + 1e-3 - expected).max() > 1e-6  # the comparison can fail


def test_probability_space_for_classifiers() -> None:
    """Binary XGBoost: values in probability space equal shap's and add up to the predicted
    probability (the engine picks the probability as the additivity target from the unit)."""
    X, y = make_data("binary", n=200)
    model = fit("xgboost", "binary", X, y)
    local = explain(model, X, output="probability")
    assert local.unit == "mean_abs_shap:probability"
    np.testing.assert_allclose(local.values, shap_interventional(model, X, "probability"),
                               atol=1e-6)
    adapter = adapt(model)
    target = model_output(adapter, local, X)
    np.testing.assert_allclose(target[:, 0], model.predict_proba(X)[:, 1], atol=1e-6)
    assert additivity(local, target).ok
    assert not additivity(local, adapter.predict_raw(X)).ok
    with pytest.raises(ValueError, match="classifier"):
        explain(fit("xgboost", "regression", *make_data("regression")), X, output="probability")


def test_background_is_seeded() -> None:
    X, y = make_data("regression", n=300)
    model = fit("lightgbm", "regression", X, y)
    first, again = explain(model, X, seed=1), explain(model, X, seed=1)
    other = explain(model, X, seed=2)
    np.testing.assert_array_equal(first.values, again.values)
    assert np.abs(first.values - other.values).max() > 1e-6
    assert "60 rows sampled from the data with seed 1" in first.notes[0]
    small = explain(model, X.iloc[:40])  # fewer rows than asked for: all of them
    assert "40 rows" in small.notes[0]


def test_a_given_background_pool_makes_a_subset_match_the_full_run() -> None:
    """What a time-estimate pilot relies on: a few rows explained against the full data's
    background get exactly the values they get in the full run."""
    X, y = make_data("regression", n=300)
    model = fit("lightgbm", "regression", X, y)
    full = explain(model, X)
    rows = X.iloc[[3, 50, 299]]
    ctx = ExplainContext(adapter=adapt(model), X=rows, y=None, seed=0,
                         params={"background_rows": BACKGROUND}, background=X)  # fmt: skip
    pilot = InterventionalTreeShap().explain(ctx)
    np.testing.assert_allclose(pilot.values, full.values[[3, 50, 299]], rtol=0, atol=1e-12)
    alone = explain(model, rows)  # without the pool, the background is the three rows
    assert not np.allclose(alone.values, pilot.values)


def test_n_jobs_gives_identical_values() -> None:
    X, y = make_data("multiclass", n=500)
    model = fit("xgboost", "multiclass", X, y)
    one, two = explain(model, X, n_jobs=1), explain(model, X, n_jobs=2)
    assert np.array_equal(one.values, two.values)


def test_opt_in_method_runs_from_the_cli(tmp_path: Path) -> None:
    """``auto`` leaves it out; ``-m treeshap.interventional`` runs it with the additivity check,
    and ``--n-jobs`` is accepted."""
    X, y = make_data("regression")
    model = fit("xgboost", "regression", X, y)
    model_path = tmp_path / "model.joblib"
    joblib.dump(model, model_path)
    data_path = write_csv(tmp_path, X, y)
    auto = run_xai(model_path, data_path, ("auto",))
    assert all(o.method != "treeshap.interventional" for o in auto.outcomes)
    result = run_xai(model_path, data_path, ("treeshap.interventional",))
    local = outcome(result, "treeshap.interventional").local
    assert local is not None and local.values.shape == (len(X), X.shape[1], 1)
    (check,) = result.comparison.additivity
    assert check.method == "treeshap.interventional" and check.ok
    from tests.conftest import run_xai as cli

    out = tmp_path / "report"
    args = ("explain", str(model_path), str(data_path), "-m", "treeshap.interventional,treeshap",
            "--target", "y", "--n-jobs", "2", "--output-format", "none", "-q", "-f", "json",
            "--out", str(out))
    run = cli(*args, "--param", "treeshap.interventional:background_rows=50")
    assert run.code == 0, run.stderr
    methods = {m["method"]: m for m in json.loads((out / "report.json").read_text())["methods"]}
    assert methods["treeshap.interventional"]["library"] == FAST_LIBRARY
    assert "background: 50 rows" in methods["treeshap.interventional"]["notes"][0]
    assert methods["treeshap"]["library"] == FAST_LIBRARY
    assert any("exact path-dependent TreeSHAP" in n for n in methods["treeshap"]["notes"])
    run = cli(*args, "--param", "treeshap:engine=native")
    assert run.code == 0, run.stderr
    methods = {m["method"]: m for m in json.loads((out / "report.json").read_text())["methods"]}
    assert methods["treeshap"]["library"] == "xgboost"
    bad = cli(*args, "--param", "treeshap.interventional=50")
    assert bad.code == 2 and "METHOD:KEY=VALUE" in bad.stderr
