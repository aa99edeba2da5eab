"""HistGradientBoosting, multiclass GradientBoosting and IsolationForest through xai's own kernels.

* HistGradientBoosting with a categorical feature (strings, through the model's own
  OrdinalEncoder), missing values in a numeric and in the categorical column and a category never
  seen in training: ``treeshap.interventional`` equals interventional Shapley values enumerated by
  brute force over every feature subset, each coalition evaluated by **the model's own**
  ``decision_function``/``predict`` (so sklearn's routing, not xai's parse, is the reference), for
  regression, binary and multiclass; path-dependent ``treeshap`` equals path-dependent Shapley
  values enumerated over the predictor's node records (each node's direction decided by
  scikit-learn's own predictor) and adds up to the model's raw output.
* Without categorical features, both equal shap's ``TreeExplainer`` (shap ignores HGB's
  categorical splits, so that is where it is a reference).
* Multiclass GradientBoosting (which shap refuses) equals shap's TreeExplainer run per class on a
  transcription of that class's trees; IsolationForest equals shap's path-length values.
* Every comparison fails on perturbed values, and a corrupted parse is refused by the parity check.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import (
    ExtraTreesRegressor,
    GradientBoostingClassifier,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    IsolationForest,
)

from xai_cli.methods.base import ExplainContext
from xai_cli.methods.tables import tableshap
from xai_cli.methods.treeshap import FAST_LIBRARY, TreeShap
from xai_cli.methods.treeshap_interventional import InterventionalTreeShap
from xai_cli.model.adapter import adapt
from xai_cli.model.forest import UnsupportedForest
from xai_cli.results import LocalAttribution

shap = pytest.importorskip("shap")

TOLERANCE = 1e-9
TASKS = ("regression", "binary", "multiclass")


# ----- data and models (tiny, built once) ---------------------------------------------------------
def frame(n: int, seed: int) -> pd.DataFrame:
    """x0 numeric, c categorical strings (some missing), x2 numeric (some missing), k integer."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "x0": rng.normal(size=n),
            "c": pd.Categorical(rng.choice(["a", "b", "c", "d"], size=n), categories=list("abcdz")),
            "x2": rng.normal(size=n),
            "k": rng.integers(0, 5, size=n).astype(float),
        }
    )
    X.loc[::7, "x2"] = np.nan
    X.loc[::11, "c"] = np.nan
    return X


def target(X: pd.DataFrame, task: str) -> np.ndarray:
    signal = X.x0 + 1.5 * (X.c == "a") - (X.c == "d") + X.x2.fillna(-1.0) + 0.3 * X.k
    if task == "regression":
        return signal.to_numpy()
    if task == "binary":
        return (signal > 0.5).to_numpy().astype(int)
    return np.digitize(signal, [0.0, 1.0])


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Any:
    """scikit-learn's OpenMP start-up per call dominates on tiny models and a shared machine."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return frame(240, seed=0)


@pytest.fixture(scope="module")
def explained() -> pd.DataFrame:
    """Rows to explain: fresh ones, one with the unseen category 'z' and one all-missing."""
    X = frame(6, seed=1)
    X.loc[0, "c"] = "z"
    X.loc[1, ["c", "x2"]] = np.nan
    return X


def hgb(task: str, X: pd.DataFrame, categorical: Any = "from_dtype") -> Any:
    cls = HistGradientBoostingRegressor if task == "regression" else HistGradientBoostingClassifier
    model = cls(max_iter=8, max_depth=3, categorical_features=categorical, random_state=0)
    return model.fit(X, target(X, task))


@pytest.fixture(scope="module")
def hgb_models(data: pd.DataFrame) -> dict[str, Any]:
    return {task: hgb(task, data) for task in TASKS}


def numeric(X: pd.DataFrame) -> pd.DataFrame:
    return X.assign(c=X.c.cat.codes.astype(float).where(X.c.notna()))


def own_raw(model: Any, X: pd.DataFrame) -> np.ndarray:
    """The model's raw output from scikit-learn itself, (rows, outputs)."""
    out = model.decision_function(X) if hasattr(model, "decision_function") else model.predict(X)
    return np.asarray(out, dtype=float).reshape(len(X), -1)


# ----- references ---------------------------------------------------------------------------------
def brute_force_interventional(
    f: Callable[[pd.DataFrame], np.ndarray], X: pd.DataFrame, background: pd.DataFrame
) -> np.ndarray:
    """Interventional Shapley values (rows, features, outputs) by enumerating every subset S:
    v(S) = mean over background rows b of f(x_S, b_rest), each hybrid row scored by ``f``."""
    names = list(X.columns)
    d = len(names)
    subsets = [frozenset(s) for r in range(d + 1) for s in itertools.combinations(range(d), r)]
    bg = background.reset_index(drop=True)
    hybrids = []
    for i in range(len(X)):
        x = X.iloc[[i] * len(bg)].reset_index(drop=True)
        for s in subsets:
            h = bg.copy()
            for j in s:
                h[names[j]] = x[names[j]]
            hybrids.append(h)
    scores = f(pd.concat(hybrids, ignore_index=True))  # one call scores every coalition
    scores = scores.reshape(len(X), len(subsets), len(bg), -1).mean(axis=2)
    out = []
    for i in range(len(X)):
        v = dict(zip(subsets, scores[i], strict=True))
        phi = np.zeros((d, scores.shape[2]))
        for j in range(d):
            for s in subsets:
                if j not in s:
                    w = math.factorial(len(s)) * math.factorial(d - len(s) - 1) / math.factorial(d)
                    phi[j] += w * (v[s | {j}] - v[s])
        out.append(phi)
    return np.asarray(out)


def hgb_brute_force_path_dependent(model: Any, X: pd.DataFrame) -> np.ndarray:
    """Path-dependent Shapley values (rows, features, outputs) of a HistGradientBoosting model by
    enumerating every subset S over its predictor node records: a split on a feature in S follows
    the row, any other split averages its children by training count (``count``). Each node's
    direction for each row comes from **scikit-learn's own predictor** run on a one-split tree made
    of that node; the encoder's column order is found by shuffling one input column at a time."""
    from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor

    def encode(frame: pd.DataFrame) -> np.ndarray:
        pre = model._preprocessor
        return pre.transform(frame) if pre is not None else frame.to_numpy(dtype=float)

    encoded = encode(X)
    column = [-1] * X.shape[1]  # encoded column -> input column: the one whose shuffle moves it
    for c, name in enumerate(X.columns):
        moved = encode(X.assign(**{name: X[name].to_numpy()[::-1]}))
        same = (moved == encoded) | (np.isnan(moved) & np.isnan(encoded))
        for j in np.flatnonzero(~same.all(axis=0)):
            column[j] = c
    assert sorted(column) == list(range(X.shape[1]))
    known, f_idx_map = model._bin_mapper.make_known_categories_bitsets()
    d, k_out = X.shape[1], model.n_trees_per_iteration_
    subsets = [frozenset(s) for r in range(d + 1) for s in itertools.combinations(range(d), r)]
    v = np.zeros((len(X), len(subsets), k_out))
    for iteration in model._predictors:
        for k, predictor in enumerate(iteration):
            nodes = predictor.nodes
            left_of = {}
            for n in np.flatnonzero(~nodes["is_leaf"].astype(bool)):
                stump = np.zeros(3, dtype=nodes.dtype)
                stump[0] = nodes[n]
                stump[0]["left"], stump[0]["right"] = 1, 2
                stump[1]["is_leaf"] = stump[2]["is_leaf"] = 1
                stump[1]["value"], stump[2]["value"] = 0.0, 1.0
                one = TreePredictor(stump, predictor.binned_left_cat_bitsets,
                                    predictor.raw_left_cat_bitsets)
                left_of[n] = one.predict(encoded, known, f_idx_map, 1) == 0.0

            def value(n: int, i: int, s: frozenset[int], nodes: Any = nodes, left_of: Any = left_of
                      ) -> float:
                node = nodes[n]
                if node["is_leaf"]:
                    return float(node["value"])
                left, right = int(node["left"]), int(node["right"])
                if column[int(node["feature_idx"])] in s:
                    return value(left if left_of[n][i] else right, i, s)
                w = nodes["count"][[left, right]] / node["count"]
                return w[0] * value(left, i, s) + w[1] * value(right, i, s)

            for i in range(len(X)):
                for t, s in enumerate(subsets):
                    v[i, t, k] += value(0, i, s)
    phi = np.zeros((len(X), d, k_out))
    index = {s: t for t, s in enumerate(subsets)}
    for j in range(d):
        for s in subsets:
            if j not in s:
                w = math.factorial(len(s)) * math.factorial(d - len(s) - 1) / math.factorial(d)
                phi[:, j] += w * (v[:, index[s | {j}]] - v[:, index[s]])
    return phi


def gap(values: np.ndarray, reference: np.ndarray) -> float:
    """Largest absolute difference, after bringing both to (rows, features, outputs)."""
    reference = np.asarray(reference, dtype=float)
    if reference.ndim == 2:
        reference = reference[:, :, None]
    assert values.shape == reference.shape
    return float(np.abs(values - reference).max())


def shap_values(model: Any, X: Any, data: Any = None) -> np.ndarray:
    explainer = shap.TreeExplainer(
        model, data=data, feature_perturbation="interventional" if data is not None else "auto"
    )
    return np.asarray(explainer.shap_values(X, check_additivity=False), dtype=float)


# ----- running xai ------------------------------------------------------------------------------
def treeshap(model: Any, X: pd.DataFrame, **params: Any) -> LocalAttribution:
    ctx = ExplainContext(adapter=adapt(model), X=X, y=None, seed=0, params=params)
    local = TreeShap().explain(ctx)
    assert local.library == FAST_LIBRARY, local.notes
    return local


def interventional(model: Any, X: pd.DataFrame, background: pd.DataFrame) -> LocalAttribution:
    ctx = ExplainContext(
        adapter=adapt(model), X=X, y=None, seed=0, params={}, background=background
    )
    local = InterventionalTreeShap().explain(ctx)
    assert local.library == FAST_LIBRARY, local.notes
    return local


# ----- HistGradientBoosting -----------------------------------------------------------------------
@pytest.mark.parametrize("task", TASKS)
def test_hgb_categorical_missing_equals_brute_force_interventional(
    task: str, hgb_models: dict[str, Any], data: pd.DataFrame, explained: pd.DataFrame
) -> None:
    model = hgb_models[task]
    assert adapt(model).categorical_features == ("c",)
    splits = np.concatenate([p.nodes[p.nodes["is_leaf"] == 0] for it in model._predictors
                             for p in it])
    assert splits["is_categorical"].any() and not splits["is_categorical"].all()
    background = data.iloc[:12]
    local = interventional(model, explained, background)
    reference = brute_force_interventional(lambda h: own_raw(model, h), explained, background)
    assert gap(local.values, reference) <= TOLERANCE
    assert np.allclose(local.base_values[0], own_raw(model, background).mean(axis=0))
    # the comparison is a real guard: one perturbed value fails it
    corrupted = local.values.copy()
    corrupted[2, 1, -1] += 1e-6
    assert gap(corrupted, reference) > TOLERANCE


@pytest.mark.parametrize("task", TASKS)
def test_hgb_path_dependent_equals_brute_force_and_adds_up(
    task: str, hgb_models: dict[str, Any], explained: pd.DataFrame
) -> None:
    model = hgb_models[task]
    local = treeshap(model, explained)
    raw = own_raw(model, explained)
    assert np.abs(local.values.sum(axis=1) + local.base_values - raw).max() <= TOLERANCE
    reference = hgb_brute_force_path_dependent(model, explained)
    assert gap(local.values, reference) <= TOLERANCE
    corrupted = local.values.copy()
    corrupted[1, 0, -1] += 1e-6
    assert gap(corrupted, reference) > TOLERANCE
    expected = "log_odds" if task == "binary" else "raw_class_score"
    assert local.unit == f"mean_abs_shap:{'value' if task == 'regression' else expected}"


@pytest.mark.parametrize("task", TASKS)
def test_hgb_numeric_equals_shap(task: str, data: pd.DataFrame, explained: pd.DataFrame) -> None:
    model = hgb(task, numeric(data), categorical=None)
    X = numeric(explained)
    local = treeshap(model, X)
    assert gap(local.values, shap_values(model, X)) <= TOLERANCE
    background = numeric(data).iloc[:20]
    inter = interventional(model, X, background)
    # shap sums its interventional values in float32 in places
    assert gap(inter.values, shap_values(model, X, background)) <= 1e-6
    corrupted = local.values.copy()
    corrupted[0, 0, 0] *= 1.0 + 1e-6
    assert gap(corrupted, shap_values(model, X)) > TOLERANCE


def test_a_corrupted_hgb_parse_is_refused(hgb_models: dict[str, Any], data: pd.DataFrame) -> None:
    adapter = adapt(hgb_models["binary"])
    compiled = tableshap.compile_model(adapter)
    matrix = tableshap.encode(compiled, data)
    raw = adapter.predict_raw(data)
    tableshap.model_offset(compiled, matrix, raw)  # the true parse passes
    leaf = np.flatnonzero(compiled.forest.left < 0)[3]
    compiled.forest.value[leaf] += 1e-3
    with pytest.raises(UnsupportedForest, match="do not reproduce"):
        tableshap.model_offset(compiled, matrix, raw)


def test_hgb_categories_never_fall_back_to_shap(
    hgb_models: dict[str, Any], explained: pd.DataFrame
) -> None:
    """shap's TreeExplainer would ignore the categorical splits: asked for it, xai refuses in one
    line naming why, for both kinds of TreeSHAP."""
    adapter = adapt(hgb_models["binary"])
    ctx = ExplainContext(adapter=adapter, X=explained, y=None, seed=0, params={"engine": "native"})
    with pytest.raises(UnsupportedForest, match="ignores HistGradientBoosting's categorical"):
        TreeShap().explain(ctx)
    ctx = ExplainContext(adapter=adapter, X=explained, y=None, seed=0,
                         params={"output": "probability"})
    with pytest.raises(UnsupportedForest, match="ignores HistGradientBoosting's categorical"):
        InterventionalTreeShap().explain(ctx)


def test_hgb_with_categories_loads_and_explains_from_csv(
    hgb_models: dict[str, Any], data: pd.DataFrame, tmp_path: Path, xai: Any
) -> None:
    """The default (safe) loader takes it, and the string column reaches the model's encoder."""
    joblib.dump(hgb_models["multiclass"], tmp_path / "hgb.joblib")
    data.to_csv(tmp_path / "data.csv", index=False)
    run = xai("explain", str(tmp_path / "hgb.joblib"), str(tmp_path / "data.csv"),
              "-m", "treeshap,treeshap.interventional", "--out", str(tmp_path / "out"))
    assert run.code == 0, run.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    methods = {m["method"]: m for m in report["methods"]}
    for name in ("treeshap", "treeshap.interventional"):
        assert methods[name]["status"] == "ok" and methods[name]["library"] == FAST_LIBRARY
    assert "c" in report["features"]


# ----- multiclass GradientBoosting, IsolationForest, ExtraTrees -----------------------------------
def _class_trees(model: Any, k: int) -> dict[str, Any]:
    """Class ``k``'s trees of a GradientBoostingClassifier as shap's dict model."""
    trees = []
    for est in model.estimators_[:, k]:
        t = est.tree_
        trees.append({
            "children_left": t.children_left, "children_right": t.children_right,
            "children_default": t.children_left, "features": t.feature,
            "thresholds": t.threshold, "values": t.value[:, 0, :1] * model.learning_rate,
            "node_sample_weight": t.weighted_n_node_samples,
        })
    return {"trees": trees, "base_offset": 0.0, "tree_output": "raw_value"}


def test_multiclass_gradient_boosting_equals_shap_per_class(data: pd.DataFrame) -> None:
    X = numeric(data).fillna(0.0)
    model = GradientBoostingClassifier(n_estimators=6, max_depth=3, random_state=0)
    model.fit(X, target(data, "multiclass"))
    local = treeshap(model, X.iloc[:30])
    reference = np.stack(
        [shap_values(_class_trees(model, k), X.iloc[:30].to_numpy()) for k in range(3)], axis=2
    )
    assert gap(local.values, reference) <= TOLERANCE
    rebuilt = local.values.sum(1) + local.base_values
    assert np.abs(rebuilt - own_raw(model, X.iloc[:30])).max() < 1e-9
    corrupted = local.values.copy()
    corrupted[3, 2, 1] -= 1e-6
    assert gap(corrupted, reference) > TOLERANCE
    # shap itself refuses it, and engine=native says so in one line naming the reason
    ctx = ExplainContext(adapter=adapt(model), X=X, y=None, seed=0, params={"engine": "native"})
    with pytest.raises(UnsupportedForest, match="does not support multiclass"):
        TreeShap().explain(ctx)


@pytest.mark.parametrize("max_features", [1.0, 2])
def test_isolation_forest_equals_shap(data: pd.DataFrame, max_features: float) -> None:
    X = numeric(data).fillna(0.0)
    model = IsolationForest(n_estimators=10, max_features=max_features, random_state=0).fit(X)
    local = treeshap(model, X.iloc[:40])
    explainer = shap.TreeExplainer(model)
    reference = explainer.shap_values(X.iloc[:40])
    assert gap(local.values, reference) <= 1e-9
    assert np.allclose(local.base_values[:, 0], explainer.expected_value)
    # the output is the mean path length: score_samples = -2 ** (-E[h(x)] / c(max_samples_))
    total = local.values.sum(axis=(1, 2)) + local.base_values[:, 0]
    c = 2 * (np.log(model.max_samples_ - 1) + np.euler_gamma) - 2 * (model.max_samples_ - 1) / (
        model.max_samples_
    )
    assert np.allclose(-(2.0 ** (-total / c)), model.score_samples(X.iloc[:40]), atol=1e-12)
    assert local.unit == "mean_abs_shap:path_length"
    corrupted = local.values.copy()
    corrupted[5, 0, 0] += 1e-6
    assert gap(corrupted, reference) > 1e-9


def test_extra_trees_still_equal_shap(data: pd.DataFrame) -> None:
    X = numeric(data).fillna(0.0)
    model = ExtraTreesRegressor(n_estimators=4, max_depth=4, random_state=0)
    model.fit(X, target(data, "regression"))
    local = treeshap(model, X.iloc[:30])
    assert gap(local.values, shap_values(model, X.iloc[:30])) <= 1e-9
