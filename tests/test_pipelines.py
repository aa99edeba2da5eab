"""Pipelines on raw data, linear models exactly, ensembles, and names as the model knows them.

Tiny models, trained once per module, explained in process through the object front door. The
planted signal: the label depends strongly on ``city`` (one-hot encoded), then ``num`` (scaled),
then ``pas`` (passed through); ``color`` and ``noise`` carry nothing.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.ensemble import (
    BaggingRegressor,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
    StackingClassifier,
    VotingClassifier,
)
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

import xai_cli as xai
from xai_cli.load.models import load_model
from xai_cli.methods import REGISTRY
from xai_cli.model.adapter import adapt
from xai_cli.model.names import match_names
from xai_cli.model.pipeline import GROUPED_UNIT

PLANTED = ["city", "num", "pas"]
RAW = ["city", "color", "num", "noise", "pas"]


def _data(n: int = 400, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({
        "city": rng.choice(["north", "south", "east"], n),
        "color": rng.choice(["red", "blue"], n),
        "num": rng.normal(size=n) * 10 + 50,
        "noise": rng.normal(size=n),
        "pas": rng.normal(size=n),
    })  # fmt: skip
    logit = 3.0 * (X.city == "north") + 0.08 * (X.num - 50) + 0.35 * X.pas - 1.0
    y = pd.Series((logit + rng.logistic(size=n) * 0.3 > 0).astype(int), name="label")
    return X, y


def _pipeline(final: object) -> Pipeline:
    pre = ColumnTransformer([
        ("onehot", OneHotEncoder(), ["city", "color"]),
        ("scale", StandardScaler(), ["num", "noise"]),
        ("keep", "passthrough", ["pas"]),
    ])  # fmt: skip
    return Pipeline([("pre", pre), ("model", final)])


FINALS = {
    "forest": lambda: RandomForestClassifier(n_estimators=30, max_depth=5, random_state=0),
    "hgb": lambda: HistGradientBoostingClassifier(max_iter=10, random_state=0),
    "logistic": lambda: LogisticRegression(max_iter=500),
}


FAST = {"forest": ("treeshap", "sklearn.impurity"), "logistic": ("linear.shap", "sklearn.coef")}
"""The fast-path methods each final estimator has (run on the encoded matrix)."""


@pytest.fixture(scope="module", autouse=True)
def _one_thread() -> Iterator[None]:
    """OpenMP models (HistGradientBoosting, LightGBM) on tiny data crawl with many threads on a
    busy machine; one thread is faster here and gives the same numbers."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield


@pytest.fixture(scope="module")
def fitted() -> dict[str, tuple[Pipeline, object, object]]:
    """Each pipeline with its raw-level and encoded-level explanations."""
    X, y = _data()
    return {name: _explained(name, make, X, y) for name, make in FINALS.items()}


def _explained(name: str, make: Callable[[], object], X: pd.DataFrame, y: pd.Series) -> tuple:
    """A fitted pipeline, its raw-level explanation and (with a fast path) its encoded one."""
    pipe = _pipeline(make()).fit(X, y)
    repeats = 1 if name == "hgb" else 3  # HistGradientBoosting predicts slowly
    raw = xai.explain(pipe, X, y, params={"permutation": {"n_repeats": repeats}})
    encoded = None
    if name in FAST:  # the encoded level of the fast-path methods, to compare with
        encoded = xai.explain(pipe, X, y, level="encoded", methods=",".join(FAST[name]))
    return pipe, raw, encoded


def _ok(explanation: object) -> dict[str, object]:
    return {o.method: o for o in explanation.result.outcomes if o.status == "ok"}


def _ranking(explanation: object, method: str) -> list[str]:
    table = _ok(explanation)[method].table
    return [table.features[i] for i in np.argsort(-table.column(), kind="stable")]


@pytest.mark.parametrize("name", sorted(FINALS))
def test_pipeline_on_raw_strings_runs_every_method(name: str, fitted: dict) -> None:
    pipe, raw, _ = fitted[name]
    adapter = adapt(pipe)
    assert adapter.pipeline is not None and set(adapter.encoded_by_model) == {"city", "color"}
    view = adapter.pipeline
    applicable = [e.name for e in REGISTRY.values() if e.in_auto and (
        e.supports(adapter).ok or e.supports(view.final).ok)]  # fmt: skip
    ok = _ok(raw)
    failed = [o for o in raw.result.outcomes if o.status == "failed"]
    assert not failed, failed
    skipped = {o.method: o.reason for o in raw.result.outcomes if o.status == "skipped"}
    # every applicable method ran, or auto left it out with its reason (kernelshap when exact
    # Shapley values already cover every coalition; a method priced out of the time budget)
    assert set(ok) <= set(applicable)
    assert all(skipped.get(m) for m in set(applicable) - set(ok)), (applicable, skipped)
    assert "permutation" in ok  # model-agnostic on the raw columns, always
    for outcome in ok.values():
        assert outcome.table.features == tuple(RAW)
    assert raw.result.features == tuple(RAW)
    assert set(FAST.get(name, ())) <= set(ok)


@pytest.mark.parametrize("name", ["forest", "logistic"])
def test_regrouped_values_sum_the_encoded_ones_and_stay_additive(name: str, fitted: dict) -> None:
    pipe, raw, encoded = fitted[name]
    view = adapt(pipe).pipeline
    method = "treeshap" if name == "forest" else "linear.shap"
    grouped, fine = raw.local(method), encoded.local(method)
    assert fine.features == view.encoded_features and len(fine.features) == 8
    for i in range(len(RAW)):
        members = [j for j, g in enumerate(view.group) if g == i]
        np.testing.assert_allclose(
            grouped.values[:, i, :], fine.values[:, members, :].sum(axis=1), atol=1e-12
        )
    checks = {c.method: c for c in raw.result.comparison.additivity}
    assert checks[method].ok and checks[method].max_abs_error < 1e-6
    # a wrong map would not add up: move one encoded column to another raw column
    wrong = view.group.copy()
    wrong[0] = 4
    assert not np.allclose(grouped.values[:, 0, :], fine.values[:, wrong == 0, :].sum(axis=1))
    native = "sklearn.impurity" if name == "forest" else "sklearn.coef"
    table = _ok(raw)[native].table
    assert table.unit.endswith(GROUPED_UNIT)
    fine_table = _ok(encoded)[native].table
    np.testing.assert_allclose(table.column()[0], fine_table.column()[:3].sum())


@pytest.mark.parametrize("name", ["forest", "logistic"])
def test_regrouped_ranking_equals_permutation_on_raw_columns(name: str, fitted: dict) -> None:
    _, raw, _ = fitted[name]
    fast = "treeshap" if name == "forest" else "linear.shap"
    assert _ranking(raw, fast)[:3] == PLANTED
    assert _ranking(raw, "permutation")[:3] == PLANTED


def test_hgb_pipeline_runs_model_agnostic_methods_on_raw_columns(fitted: dict) -> None:
    pipe, raw, _ = fitted["hgb"]
    ok = _ok(raw)
    assert _ranking(raw, "permutation")[:3] == PLANTED
    view = adapt(pipe).pipeline
    if not REGISTRY["treeshap"].supports(view.final).ok:
        skipped = {o.method: o for o in raw.result.outcomes if o.status == "skipped"}
        assert "final estimator" in skipped["treeshap"].reason
        pytest.skip("HistGradientBoosting TreeSHAP comes with the hgb branch")
    assert _ranking(raw, "treeshap")[:3] == PLANTED and "treeshap" in ok


def test_pipelines_load_through_the_safe_loader(fitted: dict, tmp_path: Path) -> None:
    X, _ = _data(20)
    for name, (pipe, _, _) in fitted.items():
        path = tmp_path / f"{name}.joblib"
        joblib.dump(pipe, path)
        loaded = load_model(path)
        assert loaded.trusted is False
        np.testing.assert_array_equal(loaded.obj.predict(X), pipe.predict(X))


def test_untraceable_pipeline_falls_back_without_coercing_text() -> None:
    X, y = _data(150)
    pre = ColumnTransformer([("oh", OneHotEncoder(sparse_output=False), ["city", "color"]),
                             ("pca", PCA(2), ["num", "noise", "pas"])])  # fmt: skip
    pipe = Pipeline([("pre", pre), ("m", LogisticRegression())]).fit(X, y)
    adapter = adapt(pipe)
    assert adapter.pipeline is None and "PCA" in adapter.notes[0]
    r = xai.explain(pipe, X, y, params={"permutation": {"n_repeats": 2}})
    ok = _ok(r)  # model-agnostic methods only, on the raw columns; no fast path
    assert {"permutation", "shapley.exact"} <= set(ok)
    assert not {"linear.shap", "sklearn.coef"} & set(ok)
    assert all(o.table.features == tuple(X.columns) for o in ok.values())


# ----- linear models ----------------------------------------------------------------------------
def _brute_force_shapley(f, x: np.ndarray, background: np.ndarray) -> np.ndarray:
    """Interventional Shapley values of ``f`` at ``x``: v(S) = mean over the background of f with
    the features in S set to x's values, weighted over every subset."""
    n = len(x)

    def v(subset: tuple[int, ...]) -> float:
        z = background.copy()
        z[:, list(subset)] = x[list(subset)]
        return float(f(z).mean())

    phi = np.zeros(n)
    for j in range(n):
        others = [i for i in range(n) if i != j]
        for size in range(n):
            weight = math.factorial(size) * math.factorial(n - size - 1) / math.factorial(n)
            for s in itertools.combinations(others, size):
                phi[j] += weight * (v((*s, j)) - v(s))
    return phi


def test_linear_shap_is_the_closed_form_and_brute_force_shapley() -> None:
    rng = np.random.default_rng(1)
    X = pd.DataFrame(rng.normal(size=(60, 4)) * [1, 3, 0.5, 2], columns=list("abcd"))
    y = (X.a - 0.5 * X.b + X.c > 0).astype(int)
    model = LogisticRegression().fit(X, y)

    def decision(z: np.ndarray) -> np.ndarray:
        return model.decision_function(pd.DataFrame(z, columns=X.columns))

    local = xai.explain(model, X, y, methods="linear.shap").local("linear.shap")
    closed = (X.to_numpy() - X.to_numpy().mean(axis=0)) * model.coef_[0]
    np.testing.assert_allclose(local.values[:, :, 0], closed, atol=1e-12)
    for row in (0, 7):
        brute = _brute_force_shapley(decision, X.to_numpy()[row], X.to_numpy())
        np.testing.assert_allclose(local.values[row, :, 0], brute, atol=1e-9)
    assert local.unit == "mean_abs_shap:log_odds"
    # the check can fail: another model's values are not these
    other = LogisticRegression(C=0.01).fit(X.to_numpy(), y)
    brute = _brute_force_shapley(other.decision_function, X.to_numpy()[0], X.to_numpy())
    assert not np.allclose(local.values[0, :, 0], brute, atol=1e-3)


def test_multiclass_linear_shap_is_per_class_and_additive() -> None:
    rng = np.random.default_rng(2)
    X = pd.DataFrame(rng.normal(size=(90, 3)), columns=["p", "q", "r"])
    y = np.digitize(X.p + 0.3 * X.q, [-0.5, 0.5])
    model = LogisticRegression().fit(X, y)
    r = xai.explain(model, X, y, methods="linear.shap,sklearn.coef")
    local = r.local("linear.shap")
    assert local.values.shape == (90, 3, 3)
    assert all(c.ok for c in r.result.comparison.additivity)
    coef = _ok(r)["sklearn.coef"].table
    np.testing.assert_allclose(
        coef.values[:, 1:], (np.abs(model.coef_) * X.to_numpy().std(axis=0)).T, rtol=1e-12
    )
    from sklearn.svm import SVC

    ovo = SVC(kernel="linear").fit(X, y)  # 3 classes: 3 one-vs-one weight vectors, not per class
    assert "one-vs-one" in REGISTRY["linear.shap"].supports(adapt(ovo)).reason


# ----- ensembles --------------------------------------------------------------------------------
def test_voting_and_bagging_combine_members_exactly() -> None:
    X, y = _data(200)
    Xn = X[["num", "noise", "pas"]]
    voting = VotingClassifier(
        [("rf", RandomForestClassifier(10, max_depth=3, random_state=0)),
         ("dt", DecisionTreeClassifier(max_depth=3))], voting="soft", weights=[2, 1],
    ).fit(Xn, y)  # fmt: skip
    target = Xn.num * 0.1 + Xn.pas
    bagging = BaggingRegressor(Ridge(), n_estimators=3, max_features=2, random_state=0)
    bagged_trees = BaggingRegressor(DecisionTreeRegressor(max_depth=3), n_estimators=3,
                                    random_state=0)  # fmt: skip
    for model, labels in ((voting, y), (bagging.fit(Xn, target), target),
                          (bagged_trees.fit(Xn, target), target)):  # fmt: skip
        r = xai.explain(model, Xn, labels, methods="ensemble.shap")
        check = r.result.comparison.additivity[0]
        assert check.ok and check.max_abs_error < 1e-9, model
        notes = _ok(r)["ensemble.shap"].provenance.notes
        assert "combined from" in notes[0]


def test_stacking_falls_to_model_agnostic_methods() -> None:
    X, y = _data(120)
    Xn = X[["num", "noise", "pas"]]
    model = StackingClassifier(
        [("lr", LogisticRegression()), ("dt", DecisionTreeClassifier(max_depth=2))], cv=2
    ).fit(Xn, y)
    adapter = adapt(model)
    assert "stacking feeds" in REGISTRY["ensemble.shap"].supports(adapter).reason
    soft_mixed = VotingClassifier(
        [("lr", LogisticRegression()), ("dt", DecisionTreeClassifier(max_depth=2))], voting="soft"
    ).fit(Xn, y)
    reason = REGISTRY["ensemble.shap"].supports(adapt(soft_mixed)).reason
    assert "not linear in the members' outputs" in reason
    r = xai.explain(model, Xn, y, params={"permutation": {"n_repeats": 1}})
    assert "permutation" in _ok(r)


# ----- names ------------------------------------------------------------------------------------
def test_lightgbm_sanitised_names_explain_with_the_data_names() -> None:
    import lightgbm as lgb

    rng = np.random.default_rng(0)
    data = pd.DataFrame(rng.normal(size=(300, 4)),
                        columns=["mean radius", "worst  area", "f[1]", "x<2"])  # fmt: skip
    y = (data["mean radius"] + 0.5 * data["f[1]"] > 0).astype(int)
    # LightGBM refuses brackets, so users replace them; LightGBM itself turns spaces into '_'
    trained = data.rename(columns={"f[1]": "f_1_", "x<2": "x_2"})
    model = lgb.LGBMClassifier(n_estimators=10, verbose=-1, n_jobs=1).fit(trained, y)
    assert model.booster_.feature_name()[:2] == ["mean_radius", "worst__area"]
    r = xai.explain(model, data, y, params={"permutation": {"n_repeats": 2}})
    assert r.result.features == tuple(data.columns)
    assert {"treeshap", "lightgbm.gain", "permutation"} <= set(_ok(r))
    assert _ranking(r, "treeshap")[0] == "mean radius"
    assert all(c.ok for c in r.result.comparison.additivity)
    assert any("matched one-to-one" in n for n in r.notes)


def test_name_matching_is_one_to_one_only() -> None:
    assert match_names(["mean_radius"], ["mean radius", "id"]) == {
        "mean_radius": ("mean radius", "LightGBM stores spaces as '_'")
    }
    # two columns sanitise to the same stored name: ambiguous, so nothing is matched
    assert match_names(["a_b"], ["a[b", "a<b"]) == {}
    assert match_names(["zzz"], ["mean radius"]) == {}


def test_map_traces_drop_remainder_selectors_imputers_and_nested_pipelines(tmp_path: Path) -> None:
    from sklearn.feature_selection import SelectKBest, VarianceThreshold
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline

    X, y = _data(120)
    X.loc[::7, "noise"] = np.nan
    X["const"] = 1.0
    pre = ColumnTransformer([
        ("oh", OneHotEncoder(drop="first", sparse_output=False), ["city"]),
        ("gone", "drop", ["color"]),
        ("imp", make_pipeline(SimpleImputer(add_indicator=True), StandardScaler()), ["noise"]),
    ], remainder="passthrough")  # fmt: skip
    pipe = Pipeline([("pre", pre), ("sel", VarianceThreshold()), ("k", SelectKBest(k="all")),
                     ("m", LogisticRegression())]).fit(X, y)  # fmt: skip
    joblib.dump(pipe, tmp_path / "p.joblib")
    assert load_model(tmp_path / "p.joblib").trusted is False  # selectors pickle f_classif
    view = adapt(pipe).pipeline
    assert view is not None
    raw = list(view.raw_features)
    traced = [raw[g] for g in view.group]
    # city: 3 levels, first dropped -> 2; noise + its missing indicator; remainder num, pas; the
    # constant column is removed by the selector; color is dropped
    assert traced == ["city", "city", "noise", "noise", "num", "pas"]
    values = np.arange(6.0).reshape(1, 6, 1)
    summed = view.sum_groups(values)[0, :, 0]
    assert dict(zip(raw, summed, strict=True)) == {
        "city": 1.0, "color": 0.0, "num": 4.0, "noise": 5.0, "pas": 5.0, "const": 0.0
    }
    r = xai.explain(pipe, X, y, methods="linear.shap")
    assert r.local("linear.shap").values[:, raw.index("color"), :].max() == 0.0
    assert r.result.comparison.additivity[0].ok


def test_cli_level_methods_listing_and_stability_probe(fitted: dict, tmp_path: Path, xai) -> None:
    import json

    from xai_cli.audit.probes import stability

    pipe = fitted["logistic"][0]
    X, y = _data(150)
    model, data = tmp_path / "pipe.joblib", tmp_path / "raw.csv"
    joblib.dump(pipe, model)
    X.assign(label=y).to_csv(data, index=False)
    run = xai("explain", str(model), str(data), "--target", "label", "--level", "encoded",
              "-m", "linear.shap", "--out", str(tmp_path / "o"), "--format", "json",
              "--output-format", "none", "--no-estimate")  # fmt: skip
    assert run.code == 0, run.stderr
    doc = json.loads((tmp_path / "o" / "report.json").read_text())
    assert "onehot__city_north" in json.dumps(doc) and doc["methods"][0]["status"] == "ok"
    bad = xai("explain", str(model), str(data), "--level", "columns", "--out", str(tmp_path / "b"))
    assert bad.code == 2 and "unknown level 'columns'" in bad.stderr
    listed = xai("methods", str(model), "--output-format", "json")
    spaces = {m["method"]: m["space"] for m in json.loads(listed.stdout)["methods"]}
    assert spaces["linear.shap"] == "encoded" and spaces["permutation"] == "raw"
    assert spaces["treeshap"] is None
    adapter = adapt(pipe)
    probe = stability(adapter, X, y.to_numpy(), REGISTRY["linear.shap"], resamples=2)
    assert [f.feature for f in probe.features] == RAW
