"""Exactness tests for ``treeshap``: additivity, agreement with shap, brute-force Shapley, dummies.

* Local accuracy (T07): for XGBoost, LightGBM, CatBoost and random forests, in every task, the
  contributions plus the base value rebuild the model's raw prediction, computed here
  independently, and xai's own additivity check says so. The check itself must fail on a
  corrupted prediction.
* XGBoost values equal ``shap.TreeExplainer`` (binary and multiclass; shap's (n, F, K) layout).
* Exact Shapley: on tiny trees the path-dependent value function is evaluated by hand and every
  subset enumerated (shared/reference/native_importances.md §4); xai must match to 1e-5, and a
  wrong cover convention must not.
* Dummy (T04): a feature no tree splits on gets exactly 0 for every row; a planted signal ranks
  first in every method ``auto`` runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest

from tests.helpers_trees import (
    CONSTANT,
    FEATURES,
    Node,
    Task,
    brute_force_shapley,
    make_data,
    node_from_sklearn,
    node_from_xgb,
    outcome,
    path_dependent_value,
    read_back,
    run_xai,
    tree_predict,
    write_csv,
    xgb_split_nodes,
    xgb_trees,
)
from xai_cli.compare.agreement import additivity
from xai_cli.results import LocalAttribution

xgb = pytest.importorskip("xgboost")
lgb = pytest.importorskip("lightgbm")
catboost = pytest.importorskip("catboost")

LIBRARIES = ("xgboost", "lightgbm", "catboost", "random_forest")
TASKS: tuple[Task, ...] = ("regression", "binary", "multiclass")


# ----- building tiny models ---------------------------------------------------------------------
def build(
    library: str, task: Task, X: pd.DataFrame, y: pd.Series, tmp_path: Path
) -> tuple[Any, Path, Callable[[pd.DataFrame], np.ndarray]]:
    """Fit a 3-tree model, save it in a format xai loads (native or joblib), and return it with
    an independent raw-prediction function (rows x outputs) in the space TreeSHAP sums to."""
    classifier = task != "regression"
    if library == "xgboost":
        cls = xgb.XGBClassifier if classifier else xgb.XGBRegressor
        model = cls(n_estimators=3, max_depth=3, learning_rate=0.5, random_state=0).fit(X, y)
        booster = model.get_booster()
        if task == "binary":  # the scikit-learn wrapper, pickled
            path = tmp_path / "model.joblib"
            joblib.dump(model, path)
        else:  # the native formats, which load as a bare Booster
            path = tmp_path / ("model.ubj" if task == "regression" else "model.json")
            booster.save_model(str(path))

        def raw(frame: pd.DataFrame) -> np.ndarray:
            return booster.predict(xgb.DMatrix(frame), output_margin=True).reshape(len(frame), -1)

        return model, path, raw
    if library == "lightgbm":
        cls = lgb.LGBMClassifier if classifier else lgb.LGBMRegressor
        model = cls(n_estimators=3, num_leaves=6, learning_rate=0.5, random_state=0, verbose=-1)
        model.fit(X, y)
        path = tmp_path / ("model.txt" if task == "regression" else "model.joblib")
        if task == "regression":
            model.booster_.save_model(str(path))
        else:
            joblib.dump(model, path)

        def raw(frame: pd.DataFrame) -> np.ndarray:
            return np.asarray(model.booster_.predict(frame, raw_score=True)).reshape(len(frame), -1)

        return model, path, raw
    if library == "catboost":
        cls = catboost.CatBoostClassifier if classifier else catboost.CatBoostRegressor
        extra = {"loss_function": "MultiClass"} if task == "multiclass" else {}
        model = cls(
            iterations=3,
            depth=3,
            learning_rate=0.5,
            random_seed=0,
            verbose=0,
            allow_writing_files=False,
            thread_count=1,
            **extra,
        )
        model.fit(X, y)
        path = tmp_path / "model.cbm"
        model.save_model(str(path))

        def raw(frame: pd.DataFrame) -> np.ndarray:
            out = model.predict(frame, prediction_type="RawFormulaVal")
            return np.asarray(out, dtype=float).reshape(len(frame), -1)

        return model, path, raw
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    rf_cls = RandomForestClassifier if classifier else RandomForestRegressor
    model = rf_cls(n_estimators=3, max_depth=3, random_state=0).fit(X, y)
    path = tmp_path / "forest.joblib"
    joblib.dump(model, path)

    def raw(frame: pd.DataFrame) -> np.ndarray:
        if not classifier:
            return model.predict(frame).reshape(len(frame), -1)
        proba = model.predict_proba(frame)
        return proba[:, 1:] if task == "binary" else proba

    return model, path, raw


def treeshap_local(result: Any) -> LocalAttribution:
    """The per-row TreeSHAP attribution of a run."""
    local = outcome(result, "treeshap").local
    assert local is not None
    return local


# ----- additivity (T07) ---------------------------------------------------------------------------
@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("library", LIBRARIES)
def test_additivity_against_independent_raw_prediction(
    tmp_path: Path, library: str, task: Task
) -> None:
    """sum_j phi_j + base equals the raw prediction (margin, raw class score, probability for
    forests) computed here without xai, and xai's additivity check reports ok."""
    X, y = make_data(task)
    _, model_path, raw = build(library, task, X, y, tmp_path)
    data_path = write_csv(tmp_path, X, y)
    result = run_xai(model_path, data_path, ("treeshap",))
    local = treeshap_local(result)
    n_outputs = 3 if task == "multiclass" else 1
    assert local.values.shape == (len(X), len(FEATURES), n_outputs)
    assert local.base_values.shape == (len(X), n_outputs)
    expected = raw(read_back(data_path))
    np.testing.assert_allclose(local.values.sum(axis=1) + local.base_values, expected, atol=1e-5)
    (check,) = result.comparison.additivity
    assert check.method == "treeshap"
    assert check.ok
    assert check.max_abs_error < 1e-5
    assert check.rows == len(X)


def test_gradient_boosting_classifier_treeshap_is_additive(tmp_path: Path) -> None:
    """A binary scikit-learn GradientBoostingClassifier (a supported tree family): TreeSHAP runs
    and its values rebuild the model's log-odds (``decision_function``)."""
    from sklearn.ensemble import GradientBoostingClassifier

    X, y = make_data("binary")
    model = GradientBoostingClassifier(n_estimators=3, max_depth=2, random_state=0).fit(X, y)
    model_path = tmp_path / "gbc.joblib"
    joblib.dump(model, model_path)
    data_path = write_csv(tmp_path, X, y)
    result = run_xai(model_path, data_path, ("treeshap",))
    local = treeshap_local(result)
    rebuilt = local.values.sum(axis=1)[:, 0] + local.base_values[:, 0]
    np.testing.assert_allclose(rebuilt, model.decision_function(read_back(data_path)), atol=1e-6)
    assert result.comparison.additivity[0].ok


@pytest.mark.parametrize("library", ["xgboost", "lightgbm"])
def test_treeshap_uses_the_early_stopped_trees(tmp_path: Path, library: str) -> None:
    """A booster with 6 rounds whose best iteration keeps 3: the values rebuild the prediction of
    the first 3 rounds (what the model predicts with), not of all 6."""
    X, y = make_data("regression")
    data_path = write_csv(tmp_path, X, y)
    rows = read_back(data_path)
    if library == "xgboost":
        booster = xgb.train({"max_depth": 2, "eta": 0.5, "seed": 0}, xgb.DMatrix(X, label=y), 6)
        booster.set_attr(best_iteration="2")
        model_path = tmp_path / "model.ubj"
        booster.save_model(str(model_path))
        dm = xgb.DMatrix(rows)
        used = booster.predict(dm, output_margin=True, iteration_range=(0, 3))
        every = booster.predict(dm, output_margin=True, iteration_range=(0, 6))
    else:
        params = {"num_leaves": 4, "learning_rate": 0.5, "verbose": -1, "seed": 0}
        booster = lgb.train(params, lgb.Dataset(X, y), num_boost_round=6)
        booster.best_iteration = 3
        model_path = tmp_path / "model.joblib"
        joblib.dump(booster, model_path)
        used = booster.predict(rows, raw_score=True, num_iteration=3)
        every = booster.predict(rows, raw_score=True, num_iteration=-1)
    result = run_xai(model_path, data_path, ("treeshap",))
    local = treeshap_local(result)
    rebuilt = local.values.sum(axis=1)[:, 0] + local.base_values[:, 0]
    np.testing.assert_allclose(rebuilt, used, atol=1e-5)
    assert np.abs(rebuilt - every).max() > 1e-2
    assert result.comparison.additivity[0].ok


def test_additivity_check_fails_on_corrupted_prediction(tmp_path: Path) -> None:
    """``xai_cli.compare.agreement.additivity`` is a real guard: the true raw prediction
    passes, the same prediction shifted by 0.1 (or one row off by 0.01) does not."""
    X, y = make_data("binary")
    _, model_path, raw = build("xgboost", "binary", X, y, tmp_path)
    data_path = write_csv(tmp_path, X, y)
    local = treeshap_local(run_xai(model_path, data_path, ("treeshap",)))
    truth = raw(read_back(data_path))
    assert additivity(local, truth).ok
    shifted = additivity(local, truth + 0.1)
    assert not shifted.ok
    assert shifted.max_abs_error == pytest.approx(0.1, abs=1e-5)
    one_row = truth.copy()
    one_row[7, 0] += 0.01
    assert not additivity(local, one_row).ok


# ----- agreement with shap ------------------------------------------------------------------------
@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_xgboost_treeshap_equals_shap_tree_explainer(tmp_path: Path, task: Task) -> None:
    """xai's (rows, features, outputs) values and base equal shap.TreeExplainer's path-dependent
    values; shap returns (n, F) for binary and (n, F, K) for multiclass."""
    shap = pytest.importorskip("shap")
    X, y = make_data(task)
    model, model_path, _ = build("xgboost", task, X, y, tmp_path)
    data_path = write_csv(tmp_path, X, y)
    local = treeshap_local(run_xai(model_path, data_path, ("treeshap",)))
    explainer = shap.TreeExplainer(model)
    expected = np.asarray(explainer.shap_values(read_back(data_path)))
    expected_base = np.atleast_1d(np.asarray(explainer.expected_value, dtype=float))
    if task == "binary":
        assert expected.shape == (len(X), len(FEATURES))
        expected = expected[:, :, None]
    else:
        assert expected.shape == (len(X), len(FEATURES), 3)
    np.testing.assert_allclose(local.values, expected, atol=1e-5)
    np.testing.assert_allclose(local.base_values, np.tile(expected_base, (len(X), 1)), atol=1e-5)


# ----- exact Shapley by brute force ---------------------------------------------------------------
N_SMALL = 4
EXPLAINED_ROWS = 25


def _with_uniform_cover(node: Node) -> Node:
    """The same tree with every cover set to 1: a wrong cover convention, for sensitivity."""
    if node.feature < 0:
        return replace(node, cover=1.0)
    assert node.left is not None and node.right is not None
    return replace(
        node, cover=1.0, left=_with_uniform_cover(node.left), right=_with_uniform_cover(node.right)
    )


def _scaled(node: Node, factor: float) -> Node:
    """The same tree with every leaf value multiplied by ``factor`` (forest averaging)."""
    if node.feature < 0:
        return replace(node, value=node.value * factor)
    assert node.left is not None and node.right is not None
    return replace(node, left=_scaled(node.left, factor), right=_scaled(node.right, factor))


def _check_brute_force(
    trees: list[Node], local: LocalAttribution, rows: pd.DataFrame, raw: np.ndarray
) -> None:
    """Brute-force phi for each row equals xai's values, and the base equals the model's offset
    (raw prediction minus the trees' leaves) plus the sum of the trees' v(empty set)."""
    names = list(rows.columns)
    v_empty = sum(path_dependent_value(t, np.zeros(len(names)), frozenset()) for t in trees)
    for i in range(EXPLAINED_ROWS):
        x = rows.iloc[i].to_numpy(dtype=float)
        phi = brute_force_shapley(trees, x, len(names))
        np.testing.assert_allclose(local.values[i, :, 0], phi, atol=1e-5, err_msg=f"row {i}")
        offset = raw[i] - sum(tree_predict(t, x) for t in trees)
        assert local.base_values[i, 0] == pytest.approx(offset + v_empty, abs=1e-5)


@pytest.mark.parametrize("task", ["regression", "binary"])
def test_xgboost_treeshap_equals_brute_force_shapley(tmp_path: Path, task: Task) -> None:
    """3 trees of depth 3 on 4 features; cover = hessian sum from the dump (for the logistic
    model this is sum p(1-p), not a row count); splits compared in float32 as x < condition.
    The same enumeration with uniform covers does not match, so the check is sensitive."""
    X, y = make_data(task, n_features=N_SMALL, constant=False)
    model, model_path, raw_fn = build("xgboost", task, X, y, tmp_path)
    data_path = write_csv(tmp_path, X, y)
    local = treeshap_local(run_xai(model_path, data_path, ("treeshap",)))
    rows = read_back(data_path)
    trees = [node_from_xgb(t, list(X.columns)) for t in xgb_trees(model.get_booster())]
    assert len(trees) == 3
    _check_brute_force(trees, local, rows, raw_fn(rows)[:, 0])
    wrong = [_with_uniform_cover(t) for t in trees]
    gaps = [
        np.abs(
            brute_force_shapley(wrong, rows.iloc[i].to_numpy(float), N_SMALL)
            - local.values[i, :, 0]
        ).max()
        for i in range(EXPLAINED_ROWS)
    ]
    assert max(gaps) > 1e-3


def test_sklearn_tree_treeshap_equals_brute_force_shapley(tmp_path: Path) -> None:
    """A depth-3 DecisionTreeRegressor on 4 features; cover = weighted_n_node_samples, splits
    x <= threshold on float32 inputs."""
    from sklearn.tree import DecisionTreeRegressor

    X, y = make_data("regression", n_features=N_SMALL, constant=False)
    model = DecisionTreeRegressor(max_depth=3, random_state=0).fit(X, y)
    model_path = tmp_path / "tree.joblib"
    joblib.dump(model, model_path)
    data_path = write_csv(tmp_path, X, y)
    local = treeshap_local(run_xai(model_path, data_path, ("treeshap",)))
    rows = read_back(data_path)
    _check_brute_force([node_from_sklearn(model.tree_)], local, rows, model.predict(rows))


def test_random_forest_treeshap_equals_brute_force_shapley(tmp_path: Path) -> None:
    """A 3-tree bootstrap forest: the average of the trees, each with its own bootstrap-weighted
    covers; dropping one tree from the hand computation breaks the match."""
    from sklearn.ensemble import RandomForestRegressor

    X, y = make_data("regression", n_features=N_SMALL, constant=False)
    model = RandomForestRegressor(n_estimators=3, max_depth=3, random_state=0).fit(X, y)
    model_path = tmp_path / "forest.joblib"
    joblib.dump(model, model_path)
    data_path = write_csv(tmp_path, X, y)
    local = treeshap_local(run_xai(model_path, data_path, ("treeshap",)))
    rows = read_back(data_path)
    trees = [_scaled(node_from_sklearn(e.tree_), 1 / 3) for e in model.estimators_]
    _check_brute_force(trees, local, rows, model.predict(rows))
    x = rows.iloc[0].to_numpy(float)
    assert np.abs(brute_force_shapley(trees[:2], x, N_SMALL) - local.values[0, :, 0]).max() > 1e-3


def test_brute_force_shapley_is_efficient_on_a_hand_made_tree() -> None:
    """The reference implementation itself: on a 2-split tree with known covers, phi sums to
    f(x) - v(empty) and a feature the tree does not use gets 0."""

    def leaf(value: float, cover: float) -> Node:
        return Node(cover=cover, value=value)

    tree = Node(
        cover=10,
        feature=0,
        threshold=0.5,
        left=Node(cover=4, feature=1, threshold=0.5, left=leaf(1.0, 1), right=leaf(3.0, 3)),
        right=leaf(10.0, 6),
    )
    x = np.array([0.0, 1.0, 7.0])
    phi = brute_force_shapley([tree], x, 3)
    v_empty = path_dependent_value(tree, x, frozenset())
    assert v_empty == pytest.approx((4 * 2.5 + 6 * 10.0) / 10)
    assert phi.sum() == pytest.approx(tree_predict(tree, x) - v_empty)
    assert phi[2] == 0.0
    # v({0}) = 2.5, v({1}) = 0.4*3 + 0.6*10 = 7.2, v({0,1}) = 3: phi_0 = ((2.5-7) + (3-7.2))/2
    assert phi[0] == pytest.approx(((2.5 - 7.0) + (3.0 - 7.2)) / 2)


# ----- T04 dummy feature and planted signal -------------------------------------------------------
def _split_features(library: str, model: Any, tmp_path: Path) -> set[str]:
    """The features some tree of the model splits on, read from the model's own structure."""
    if library == "xgboost":
        return {n["split"] for t in xgb_trees(model.get_booster()) for n in xgb_split_nodes(t)}
    if library == "lightgbm":
        names = model.booster_.feature_name()
        out: set[str] = set()
        for info in model.booster_.dump_model(num_iteration=-1)["tree_info"]:
            stack = [info["tree_structure"]]
            while stack:
                node = stack.pop()
                if "split_feature" in node:
                    out.add(names[node["split_feature"]])
                    stack += [node["left_child"], node["right_child"]]
        return out
    if library == "catboost":
        from tests.helpers_trees import catboost_json

        model_json = catboost_json(model, tmp_path / "m.json")
        return {
            FEATURES[s["float_feature_index"]]
            for t in model_json["oblivious_trees"]
            for s in t["splits"]
        }
    return {FEATURES[f] for e in model.estimators_ for f in e.tree_.feature if f >= 0}


@pytest.mark.parametrize(
    ("library", "task"),
    [
        ("xgboost", "binary"),
        ("lightgbm", "multiclass"),
        ("catboost", "regression"),
        ("random_forest", "binary"),
    ],
)
def test_unsplit_feature_gets_exactly_zero_shap(tmp_path: Path, library: str, task: Task) -> None:
    """T04(d): every feature that no tree splits on (at least the constant column) has SHAP
    exactly 0.0 for every row and output, and a zero global importance."""
    X, y = make_data(task)
    model, model_path, _ = build(library, task, X, y, tmp_path)
    result = run_xai(model_path, write_csv(tmp_path, X, y), ("treeshap",))
    local = treeshap_local(result)
    unused = [f for f in FEATURES if f not in _split_features(library, model, tmp_path)]
    assert CONSTANT in unused
    for name in unused:
        j = FEATURES.index(name)
        assert np.all(local.values[:, j, :] == 0.0), name
        assert np.all(outcome(result, "treeshap").table.values[j] == 0.0)  # type: ignore[union-attr]
    used = [FEATURES.index(f) for f in FEATURES if f not in unused]
    assert np.all(np.abs(local.values[:, used, :]).sum(axis=(0, 2)) > 0)


EXPECTED_AUTO = {
    "xgboost": {
        "treeshap",
        "xgboost.weight",
        "xgboost.gain",
        "xgboost.cover",
        "xgboost.total_gain",
        "xgboost.total_cover",
        "permutation",
    },
    "lightgbm": {"treeshap", "lightgbm.split", "lightgbm.gain", "permutation"},
    "catboost": {
        "treeshap",
        "catboost.PredictionValuesChange",
        "catboost.LossFunctionChange",
        "permutation",
    },
    "random_forest": {"treeshap", "sklearn.impurity", "permutation"},
}


@pytest.mark.parametrize("task", ["regression", "binary"])
@pytest.mark.parametrize("library", LIBRARIES)
def test_planted_signal_ranks_first_in_every_auto_method(
    tmp_path: Path, library: str, task: Task
) -> None:
    """y depends strongly on x0 (and weakly on x1): every method ``auto`` chooses runs and ranks
    x0 first in its pooled column, and the constant column last-equal with a zero score."""
    rng = np.random.default_rng(11)
    X = pd.DataFrame(rng.normal(size=(400, len(FEATURES))), columns=FEATURES)
    X[CONSTANT] = 1.0
    signal = 4.0 * X["x0"] + 0.5 * X["x1"] + rng.normal(scale=0.3, size=len(X))
    y = pd.Series(signal if task == "regression" else (signal > 0).astype(int), name="y")
    _, model_path, _ = build(library, task, X, y, tmp_path)
    result = run_xai(model_path, write_csv(tmp_path, X, y), ("auto",))
    ran = {o.method for o in result.outcomes if o.status == "ok"}
    assert ran == EXPECTED_AUTO[library], [(o.method, o.status, o.reason) for o in result.outcomes]
    for method in ran:
        table = outcome(result, method).table
        assert table is not None
        column = table.values[:, 0]
        assert int(np.argmax(column)) == 0, (method, column)
        assert column[0] > column[1:].max(), (method, column)
        assert column[FEATURES.index(CONSTANT)] == 0.0, method
    assert "x0" in result.comparison.consensus


def test_multiclass_gradient_boosting_loads_and_gets_treeshap_from_xai_kernels(
    tmp_path: Path,
) -> None:
    """Its pickle holds a Cython loss object (allowed); shap cannot explain it, xai's own kernels
    do (values checked against shap per class in test_treeshap_sklearn_models.py)."""
    from sklearn.ensemble import GradientBoostingClassifier

    X, _ = make_data("binary")
    y = np.arange(len(X)) % 3
    model_path = tmp_path / "gbc3.joblib"
    joblib.dump(GradientBoostingClassifier(n_estimators=3, max_depth=2).fit(X, y), model_path)
    result = run_xai(model_path, write_csv(tmp_path, X, pd.Series(y)), ("auto",))
    outcomes = {o.method: o for o in result.outcomes}
    assert outcomes["treeshap"].status == "ok", outcomes["treeshap"].reason
    assert outcomes["treeshap"].local is not None
    assert outcomes["treeshap"].local.library == "numba"
    assert outcomes["sklearn.impurity"].status == "ok"
