"""One contract, run over every registered backend on every model family it supports.

Feature order preserved, shapes right, deterministic under a seed, CSV and Parquet (and a model
fitted on a DataFrame or on a bare array) agree, a planted signal ranks first, a constant column
scores zero.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest

from xai_cli.methods import REGISTRY
from xai_cli.methods.agnostic.budget import NAMES as AGNOSTIC
from xai_cli.results import POOLED, ExplainResult
from xai_cli.run.engine import ExplainRequest, explain

FEATURES = ["noise_a", "signal", "constant", "noise_b"]


def _data(task: str, n: int = 500) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(42)
    X = pd.DataFrame(
        {
            "noise_a": rng.normal(size=n),
            "signal": rng.normal(size=n),
            "constant": np.full(n, 1.5),
            "noise_b": rng.normal(size=n),
        }
    )
    latent = 3.0 * X["signal"] + 0.1 * rng.normal(size=n)
    y = (latent > 0).astype(int) if task == "binary" else latent
    return X, pd.Series(y, name="y")


def _xgboost(task: str) -> Any:
    import xgboost as xgb

    cls = xgb.XGBClassifier if task == "binary" else xgb.XGBRegressor
    return cls(n_estimators=30, max_depth=3, random_state=0)


def _lightgbm(task: str) -> Any:
    import lightgbm as lgb

    cls = lgb.LGBMClassifier if task == "binary" else lgb.LGBMRegressor
    return cls(n_estimators=30, num_leaves=8, random_state=0, verbose=-1)


def _catboost(task: str) -> Any:
    import catboost as cb

    cls = cb.CatBoostClassifier if task == "binary" else cb.CatBoostRegressor
    return cls(iterations=30, depth=3, random_seed=0, verbose=0, allow_writing_files=False)


def _forest(task: str) -> Any:
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    cls = RandomForestClassifier if task == "binary" else RandomForestRegressor
    return cls(n_estimators=30, max_depth=5, random_state=0)


FAMILIES: dict[str, Callable[[str], Any]] = {
    "xgboost": _xgboost,
    "lightgbm": _lightgbm,
    "catboost": _catboost,
    "sklearn_tree": _forest,
}


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], tuple[Path, Path]]:
    """A fitted model and its data file (CSV) for every family and task."""
    root = tmp_path_factory.mktemp("planted")
    out = {}
    for task in ("binary", "regression"):
        X, y = _data(task)
        data = root / f"{task}.csv"
        X.assign(y=y).to_csv(data, index=False)
        X.assign(y=y).to_parquet(root / f"{task}.parquet")
        for family, make in FAMILIES.items():
            model = root / f"{family}_{task}.joblib"
            joblib.dump(make(task).fit(X, y), model)
            out[(family, task)] = (model, data)
    return out


def _run(model: Path, data: Path, seed: int = 0) -> ExplainResult:
    return explain(ExplainRequest(str(model), str(data), target="y", seed=seed))


NOT_A_SIGNAL_MEASURE = {"xgboost.cover"}
"""Mean hessian cover per split says how many rows a feature's splits see, not how much the
feature matters: a noise feature split once near the root outranks the signal (observed)."""

CASES = [(f, t) for f in FAMILIES for t in ("binary", "regression")]


@pytest.mark.parametrize(("family", "task"), CASES)
def test_every_applicable_backend_keeps_the_contract(planted, family: str, task: str) -> None:
    model, data = planted[(family, task)]
    result = _run(model, data)
    ran = {o.method: o for o in result.outcomes if o.status == "ok"}
    expected = {
        name
        for name, e in REGISTRY.items()
        if e.supports(result_adapter(model)).ok and e.in_auto and name not in AGNOSTIC
    }  # tree models: auto leaves the model-agnostic methods to TreeSHAP (agnostic/budget.py)
    assert set(ran) == expected, {o.method: o.reason for o in result.outcomes}
    _check_contract(ran)


OPT_IN = [name for name, e in REGISTRY.items() if not e.in_auto]


@pytest.mark.parametrize(("family", "task"), CASES)
@pytest.mark.parametrize("method", OPT_IN)
def test_opt_in_backends_keep_the_contract(planted, method: str, family: str, task: str) -> None:
    """Backends ``auto`` leaves out keep the same contract when named."""
    model, data = planted[(family, task)]
    if not REGISTRY[method].supports(result_adapter(model)).ok:
        pytest.skip(f"{method} does not apply to {family}")
    result = explain(ExplainRequest(str(model), str(data), target="y", methods=(method,)))
    ran = {o.method: o for o in result.outcomes if o.status == "ok"}
    assert set(ran) == {method}, {o.method: o.reason for o in result.outcomes}
    _check_contract(ran)


def _check_contract(ran: dict[str, Any]) -> None:
    """Feature order, shapes, the planted signal first, the constant column exactly zero."""
    for name, outcome in ran.items():
        table = outcome.table
        assert table is not None
        assert table.features == tuple(FEATURES), name
        assert table.values.shape == (4, len(table.outputs)), name
        assert table.outputs[0] == POOLED
        column = table.column(POOLED)
        if name not in NOT_A_SIGNAL_MEASURE:
            assert int(np.argmax(column)) == FEATURES.index("signal"), (name, column)
        assert column[FEATURES.index("constant")] == 0.0, (name, column)
        if outcome.local is not None:
            assert outcome.local.values.shape == (500, 4, 1)
            assert np.all(outcome.local.values[:, FEATURES.index("constant"), :] == 0.0)


def result_adapter(model: Path):  # noqa: ANN201 - test helper
    from xai_cli.load.models import load_model
    from xai_cli.model.adapter import adapt

    return adapt(load_model(model).obj)


@pytest.mark.parametrize(("family", "task"), [("xgboost", "binary"), ("catboost", "regression")])
def test_deterministic_under_a_seed(planted, family: str, task: str) -> None:
    model, data = planted[(family, task)]
    first, second, other = _run(model, data, 7), _run(model, data, 7), _run(model, data, 8)
    for a, b in zip(first.tables, second.tables, strict=True):
        np.testing.assert_array_equal(a.values, b.values)
    perm = {t.method: t for t in other.tables}["permutation"]
    same_seed = {t.method: t for t in first.tables}["permutation"]
    assert not np.array_equal(perm.values, same_seed.values), "the seed must matter"


@pytest.mark.parametrize("family", list(FAMILIES))
def test_csv_and_parquet_agree(planted, family: str) -> None:
    model, data = planted[(family, "binary")]
    from_csv = _run(model, data)
    from_parquet = _run(model, data.with_suffix(".parquet"))
    for a, b in zip(from_csv.tables, from_parquet.tables, strict=True):
        np.testing.assert_allclose(a.values, b.values, rtol=1e-12, atol=1e-12)


def test_model_fitted_on_a_bare_array_matches_by_position(tmp_path: Path, planted) -> None:
    """A model without feature names gets generic names; columns are matched by position."""
    X, y = _data("regression")
    named, bare = tmp_path / "named.joblib", tmp_path / "bare.joblib"
    joblib.dump(_forest("regression").fit(X, y), named)
    joblib.dump(_forest("regression").fit(X.to_numpy(), y), bare)
    data = planted[("sklearn_tree", "regression")][1]
    with_names, without = _run(named, data), _run(bare, data)
    assert without.features == ("f0", "f1", "f2", "f3")
    for a, b in zip(with_names.tables, without.tables, strict=True):
        np.testing.assert_allclose(a.values, b.values)
