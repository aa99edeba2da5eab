"""Known-answer tests for the native importances: each one recomputed by hand from a tiny model.

Every number xai reports for XGBoost ``get_score``, LightGBM ``feature_importance``, CatBoost
PredictionValuesChange and LossFunctionChange, and scikit-learn's impurity importance is rebuilt
here from the model's own tree dump (formulas and pitfalls: shared/reference/native_importances.md),
and compared. Each library also has a test that perturbs the hand computation (drops a tree, uses a
wrong metric) and checks that the comparison then fails, so a match is not vacuous.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest

from tests.helpers_trees import (
    CONSTANT,
    FEATURES,
    XGB_TYPES,
    by_name,
    catboost_json,
    catboost_pvc_from_json,
    lgb_importances_from_dump,
    make_data,
    outcome,
    pooled,
    read_back,
    run_xai,
    sklearn_forest_mdi,
    sklearn_tree_mdi,
    write_csv,
    xgb_importances_from_json,
    xgb_trees,
)

xgb = pytest.importorskip("xgboost")
lgb = pytest.importorskip("lightgbm")
catboost = pytest.importorskip("catboost")

RTOL = 1e-5
"""XGBoost and LightGBM accumulate in float32; the dumps print float32 with 9 digits."""

CONSTANT_INDEX = FEATURES.index(CONSTANT)


def _close(a: np.ndarray, b: np.ndarray, rtol: float = RTOL) -> bool:
    return bool(np.allclose(a, b, rtol=rtol, atol=1e-9))


# ----- XGBoost ----------------------------------------------------------------------------------
def _xgb_regression(tmp_path: Path, rounds: int = 3) -> tuple[Any, Path, Path]:
    X, y = make_data("regression")
    booster = xgb.train(
        {"max_depth": 2, "eta": 0.5, "seed": 0}, xgb.DMatrix(X, label=y), num_boost_round=rounds
    )
    model_path = tmp_path / "model.ubj"
    booster.save_model(str(model_path))
    return booster, model_path, write_csv(tmp_path, X, y)


def _xgb_methods() -> tuple[str, ...]:
    return tuple(f"xgboost.{t}" for t in XGB_TYPES)


def test_xgboost_every_type_matches_json_dump(tmp_path: Path) -> None:
    """weight, gain, cover, total_gain, total_cover equal the sums over the split nodes of the
    JSON dump (gain and cover are per-split means); the constant feature, which get_score omits,
    is reported as 0 for every type."""
    booster, model_path, data_path = _xgb_regression(tmp_path)
    assert CONSTANT not in booster.get_score(importance_type="weight")  # the omission pitfall
    expected = xgb_importances_from_json(xgb_trees(booster), FEATURES)
    result = run_xai(model_path, data_path, _xgb_methods())
    for kind in XGB_TYPES:
        got = pooled(result, f"xgboost.{kind}")
        assert outcome(result, f"xgboost.{kind}").table.features == FEATURES  # type: ignore[union-attr]
        assert _close(got, expected[kind]), (kind, got, expected[kind])
        assert got[CONSTANT_INDEX] == 0.0
    assert expected["weight"].sum() > 0


def test_xgboost_trees_to_dataframe_agrees_once_leaves_are_filtered(tmp_path: Path) -> None:
    """The same totals from ``trees_to_dataframe`` after dropping Leaf rows; keeping them (their
    Gain column holds leaf values) gives a different, wrong total_gain."""
    booster, model_path, data_path = _xgb_regression(tmp_path)
    frame = booster.trees_to_dataframe()
    splits = frame[frame["Feature"] != "Leaf"]
    total_gain = by_name(FEATURES, splits.groupby("Feature")["Gain"].sum().to_dict())
    total_cover = by_name(FEATURES, splits.groupby("Feature")["Cover"].sum().to_dict())
    weight = by_name(FEATURES, splits.groupby("Feature").size().astype(float).to_dict())
    result = run_xai(
        model_path, data_path, ("xgboost.total_gain", "xgboost.total_cover", "xgboost.weight")
    )
    assert _close(pooled(result, "xgboost.total_gain"), total_gain)
    assert _close(pooled(result, "xgboost.total_cover"), total_cover)
    assert _close(pooled(result, "xgboost.weight"), weight)
    leaf_gain = frame.loc[frame["Feature"] == "Leaf", "Gain"].abs().sum()
    assert leaf_gain > 0
    unfiltered = frame.groupby("Feature")["Gain"].sum()
    assert not np.isclose(unfiltered.sum(), total_gain.sum(), rtol=RTOL)


def test_xgboost_early_stopping_uses_best_iteration_only(tmp_path: Path) -> None:
    """A really early-stopped booster (best_iteration + 1 < rounds trained): xai must score the
    first best_iteration + 1 trees, which differs from get_score over all trees."""
    X, y = make_data("regression", noise=1.5)
    Xv, yv = make_data("regression", noise=1.5, seed=1)
    booster = xgb.train(
        {"max_depth": 3, "eta": 1.0, "seed": 0},
        xgb.DMatrix(X, label=y),
        num_boost_round=20,
        evals=[(xgb.DMatrix(Xv, label=yv), "val")],
        early_stopping_rounds=2,
        verbose_eval=False,
    )
    used = booster.best_iteration + 1
    assert used < booster.num_boosted_rounds()
    model_path = tmp_path / "model.json"
    booster.save_model(str(model_path))
    data_path = write_csv(tmp_path, X, y)
    trees = xgb_trees(booster)
    expected = xgb_importances_from_json(trees[:used], FEATURES)
    all_trees = xgb_importances_from_json(trees, FEATURES)
    result = run_xai(model_path, data_path, _xgb_methods())
    for kind in XGB_TYPES:
        assert _close(pooled(result, f"xgboost.{kind}"), expected[kind]), kind
    assert not _close(pooled(result, "xgboost.total_gain"), all_trees["total_gain"])
    assert outcome(result, "xgboost.weight").table.params["rounds"] == used  # type: ignore[union-attr]


def test_xgboost_best_iteration_attribute_is_honoured(tmp_path: Path) -> None:
    """``best_iteration`` set as a booster attribute (as early stopping stores it) limits the trees
    scored to best_iteration + 1, for the scikit-learn wrapper saved with joblib too."""
    X, y = make_data("regression")
    model = xgb.XGBRegressor(n_estimators=6, max_depth=2, learning_rate=0.5, random_state=0)
    model.fit(X, y)
    model.get_booster().set_attr(best_iteration="2")
    model_path = tmp_path / "model.joblib"
    joblib.dump(model, model_path)
    data_path = write_csv(tmp_path, X, y)
    trees = xgb_trees(model.get_booster())
    assert len(trees) == 6
    expected = xgb_importances_from_json(trees[:3], FEATURES)
    result = run_xai(model_path, data_path, _xgb_methods())
    for kind in XGB_TYPES:
        assert _close(pooled(result, f"xgboost.{kind}"), expected[kind]), kind


def test_xgboost_multiclass_sums_every_class_tree(tmp_path: Path) -> None:
    """Three classes, three rounds = nine trees: importances pool the trees of all classes
    (there is no per-class native importance), so the pooled column is the sum over all nine."""
    X, y = make_data("multiclass")
    model = xgb.XGBClassifier(n_estimators=3, max_depth=2, learning_rate=0.5, random_state=0)
    model.fit(X, y)
    model_path = tmp_path / "model.joblib"
    joblib.dump(model, model_path)
    data_path = write_csv(tmp_path, X, y)
    trees = xgb_trees(model.get_booster())
    assert len(trees) == 9
    expected = xgb_importances_from_json(trees, FEATURES)
    class0_only = xgb_importances_from_json(trees[0::3], FEATURES)
    result = run_xai(model_path, data_path, _xgb_methods())
    for kind in XGB_TYPES:
        got = pooled(result, f"xgboost.{kind}")
        assert _close(got, expected[kind]), kind
        assert got[CONSTANT_INDEX] == 0.0
    assert not _close(pooled(result, "xgboost.total_gain"), class0_only["total_gain"])


def test_xgboost_comparison_is_sensitive_to_a_dropped_tree(tmp_path: Path) -> None:
    """Dropping one tree from the hand computation breaks the match for the totals and count."""
    booster, model_path, data_path = _xgb_regression(tmp_path)
    trees = xgb_trees(booster)
    result = run_xai(model_path, data_path, _xgb_methods())
    full = xgb_importances_from_json(trees, FEATURES)
    short = xgb_importances_from_json(trees[:-1], FEATURES)
    for kind in ("weight", "total_gain", "total_cover"):
        assert _close(pooled(result, f"xgboost.{kind}"), full[kind])
        assert not _close(pooled(result, f"xgboost.{kind}"), short[kind]), kind


# ----- LightGBM ---------------------------------------------------------------------------------
LGB_PARAMS = {"num_leaves": 4, "max_depth": 2, "learning_rate": 0.5, "verbose": -1, "seed": 0}


def _lgb_regression(tmp_path: Path) -> tuple[Any, Path, Path]:
    X, y = make_data("regression")
    booster = lgb.train(LGB_PARAMS, lgb.Dataset(X, y), num_boost_round=3)
    model_path = tmp_path / "model.txt"
    booster.save_model(str(model_path))
    return booster, model_path, write_csv(tmp_path, X, y)


def test_lightgbm_split_and_gain_match_dump(tmp_path: Path) -> None:
    """split = number of nodes with split_gain > 0 per feature, gain = their summed split_gain
    (a total, unnormalised), from ``dump_model``; the constant feature scores 0."""
    booster, model_path, data_path = _lgb_regression(tmp_path)
    dump = booster.dump_model(num_iteration=-1)
    assert len(dump["tree_info"]) == 3
    expected = lgb_importances_from_dump(dump["tree_info"], len(FEATURES))
    result = run_xai(model_path, data_path, ("lightgbm.split", "lightgbm.gain"))
    for kind in ("split", "gain"):
        got = pooled(result, f"lightgbm.{kind}")
        assert _close(got, expected[kind]), (kind, got, expected[kind])
        assert got[CONSTANT_INDEX] == 0.0
    assert expected["split"].sum() == 9  # 3 trees x 3 splits (4 leaves each)


def test_lightgbm_best_iteration_limits_trees_multiclass(tmp_path: Path) -> None:
    """A 3-class booster with 5 rounds (15 trees) and best_iteration = 3, saved with joblib
    (which keeps every tree and the attribute): xai scores the first 3 rounds = 9 trees, pooling
    the classes."""
    X, y = make_data("multiclass")
    booster = lgb.train(
        {**LGB_PARAMS, "objective": "multiclass", "num_class": 3},
        lgb.Dataset(X, y),
        num_boost_round=5,
    )
    booster.best_iteration = 3
    model_path = tmp_path / "model.joblib"
    joblib.dump(booster, model_path)
    data_path = write_csv(tmp_path, X, y)
    infos = booster.dump_model(num_iteration=-1)["tree_info"]
    assert len(infos) == 15
    expected = lgb_importances_from_dump(infos[:9], len(FEATURES))
    every_tree = lgb_importances_from_dump(infos, len(FEATURES))
    result = run_xai(model_path, data_path, ("lightgbm.split", "lightgbm.gain"))
    for kind in ("split", "gain"):
        got = pooled(result, f"lightgbm.{kind}")
        assert _close(got, expected[kind]), (kind, got, expected[kind])
        assert not _close(got, every_tree[kind]), kind
        assert got[CONSTANT_INDEX] == 0.0
    assert outcome(result, "lightgbm.gain").table.params["iteration"] == 3  # type: ignore[union-attr]


def test_lightgbm_zero_gain_split_is_not_counted() -> None:
    """The hand computation itself applies the ``split_gain > 0`` filter of the library."""
    leaf = {"leaf_value": 0.0}
    info = {
        "tree_structure": {
            "split_feature": 1,
            "split_gain": 0.0,
            "left_child": {
                "split_feature": 2,
                "split_gain": 4.0,
                "left_child": leaf,
                "right_child": leaf,
            },
            "right_child": leaf,
        }
    }
    got = lgb_importances_from_dump([info], 3)
    np.testing.assert_array_equal(got["split"], [0, 0, 1])
    np.testing.assert_array_equal(got["gain"], [0, 0, 4.0])


def test_lightgbm_comparison_is_sensitive_to_a_dropped_tree(tmp_path: Path) -> None:
    """Dropping one tree from the hand computation breaks the match."""
    booster, model_path, data_path = _lgb_regression(tmp_path)
    infos = booster.dump_model(num_iteration=-1)["tree_info"]
    result = run_xai(model_path, data_path, ("lightgbm.split", "lightgbm.gain"))
    short = lgb_importances_from_dump(infos[1:], len(FEATURES))
    for kind in ("split", "gain"):
        assert not _close(pooled(result, f"lightgbm.{kind}"), short[kind]), kind


# ----- CatBoost ---------------------------------------------------------------------------------
def _catboost_model(task: str, tmp_path: Path, depth: int = 2) -> tuple[Any, Path, Path]:
    X, y = make_data("binary" if task == "binary" else "regression")
    cls = catboost.CatBoostClassifier if task == "binary" else catboost.CatBoostRegressor
    model = cls(
        iterations=3,
        depth=depth,
        learning_rate=0.5,
        random_seed=0,
        verbose=0,
        allow_writing_files=False,
        thread_count=1,
    )
    model.fit(X, y)
    model_path = tmp_path / "model.cbm"
    model.save_model(str(model_path))
    return model, model_path, write_csv(tmp_path, X, y)


@pytest.mark.parametrize(("task", "depth"), [("regression", 2), ("binary", 3)])
def test_catboost_pvc_matches_oblivious_trees(tmp_path: Path, task: str, depth: int) -> None:
    """PredictionValuesChange = per tree and level, the weighted squared contrast of each leaf
    pair differing in that level's bit, credited to that level's feature, scaled to sum to 100."""
    model, model_path, data_path = _catboost_model(task, tmp_path, depth)
    expected = catboost_pvc_from_json(catboost_json(model, tmp_path / "m.json"), len(FEATURES))
    result = run_xai(model_path, data_path, ("catboost.PredictionValuesChange",))
    got = pooled(result, "catboost.PredictionValuesChange")
    assert _close(got, expected, rtol=1e-6), (got, expected)
    assert got.sum() == pytest.approx(100.0)
    assert got[CONSTANT_INDEX] == 0.0


def test_catboost_pvc_is_sensitive_to_a_dropped_tree(tmp_path: Path) -> None:
    """PVC recomputed without one tree no longer matches."""
    model, model_path, data_path = _catboost_model("regression", tmp_path)
    model_json = catboost_json(model, tmp_path / "m.json")
    model_json["oblivious_trees"] = model_json["oblivious_trees"][:-1]
    short = catboost_pvc_from_json(model_json, len(FEATURES))
    got = pooled(
        run_xai(model_path, data_path, ("catboost.PredictionValuesChange",)),
        "catboost.PredictionValuesChange",
    )
    assert not _close(got, short, rtol=1e-6)


def _rmse(y: np.ndarray, approx: np.ndarray) -> float:
    return float(np.sqrt(np.mean((y - approx) ** 2)))


def _mse(y: np.ndarray, approx: np.ndarray) -> float:
    return float(np.mean((y - approx) ** 2))


def _logloss(y: np.ndarray, approx: np.ndarray) -> float:
    return float(np.mean(np.logaddexp(0.0, approx) - y * approx))


Metric = Callable[[np.ndarray, np.ndarray], float]


def _lfc_by_hand(model: Any, X: pd.DataFrame, y: np.ndarray, metric: Metric) -> np.ndarray:
    """metric(approx - phi_j) - metric(approx) per feature, with phi the model's ShapValues on X
    and approx the raw prediction."""
    shap = np.asarray(model.get_feature_importance(data=catboost.Pool(X), type="ShapValues"))
    phi, bias = shap[:, :-1], shap[:, -1]
    approx = phi.sum(axis=1) + bias
    base = metric(y, approx)
    return np.array([metric(y, approx - phi[:, j]) - base for j in range(phi.shape[1])])


@pytest.mark.parametrize(("task", "metric"), [("regression", _rmse), ("binary", _logloss)])
def test_catboost_lfc_matches_shap_based_loss_change(
    tmp_path: Path, task: str, metric: Metric
) -> None:
    """LossFunctionChange = metric(approx - phi_j) - metric(approx) with the model's own loss
    (RMSE, not MSE; Logloss on raw scores), on the labelled rows given to xai."""
    model, model_path, data_path = _catboost_model(task, tmp_path)
    frame = pd.read_csv(data_path)
    X, y = frame.drop(columns="y"), frame["y"].to_numpy(dtype=float)
    expected = _lfc_by_hand(model, X, y, metric)
    result = run_xai(model_path, data_path, ("catboost.LossFunctionChange",))
    got = pooled(result, "catboost.LossFunctionChange")
    assert _close(got, expected, rtol=1e-6), (got, expected)
    assert got[CONSTANT_INDEX] == 0.0
    assert got[0] > 0  # removing the strongest feature's contribution makes the loss worse


def test_catboost_lfc_is_sensitive_to_the_metric(tmp_path: Path) -> None:
    """The same recomputation with MSE instead of RMSE does not match: the unit matters."""
    model, model_path, data_path = _catboost_model("regression", tmp_path)
    frame = pd.read_csv(data_path)
    X, y = frame.drop(columns="y"), frame["y"].to_numpy(dtype=float)
    wrong = _lfc_by_hand(model, X, y, _mse)
    got = pooled(
        run_xai(model_path, data_path, ("catboost.LossFunctionChange",)),
        "catboost.LossFunctionChange",
    )
    assert not _close(got, wrong, rtol=1e-3)


# ----- scikit-learn impurity --------------------------------------------------------------------
def test_sklearn_impurity_decision_tree_matches_node_arrays(tmp_path: Path) -> None:
    """A depth-3 regression tree: MDI from ``tree_.impurity``, ``weighted_n_node_samples`` and
    the children arrays, normalised to sum to 1."""
    from sklearn.tree import DecisionTreeRegressor

    X, y = make_data("regression")
    model = DecisionTreeRegressor(max_depth=3, random_state=0).fit(X, y)
    model_path = tmp_path / "tree.joblib"
    joblib.dump(model, model_path)
    expected = sklearn_tree_mdi(model.tree_, len(FEATURES))
    got = pooled(
        run_xai(model_path, write_csv(tmp_path, X, y), ("sklearn.impurity",)), "sklearn.impurity"
    )
    assert _close(got, expected, rtol=1e-9), (got, expected)
    assert got.sum() == pytest.approx(1.0)
    assert got[CONSTANT_INDEX] == 0.0


def test_sklearn_impurity_random_forest_and_sensitivity(tmp_path: Path) -> None:
    """A 3-tree random forest classifier (Gini): the mean of per-tree normalised MDI, normalised;
    leaving out one tree gives a different answer."""
    from sklearn.ensemble import RandomForestClassifier

    X, y = make_data("binary")
    model = RandomForestClassifier(n_estimators=3, max_depth=3, random_state=0).fit(X, y)
    model_path = tmp_path / "forest.joblib"
    joblib.dump(model, model_path)
    expected = sklearn_forest_mdi(model, len(FEATURES))
    got = pooled(
        run_xai(model_path, write_csv(tmp_path, X, y), ("sklearn.impurity",)), "sklearn.impurity"
    )
    assert _close(got, expected, rtol=1e-9), (got, expected)
    two_trees = np.mean(
        [sklearn_tree_mdi(e.tree_, len(FEATURES)) for e in model.estimators_[:2]], axis=0
    )
    assert not _close(got, two_trees / two_trees.sum(), rtol=1e-6)


# ----- permutation ------------------------------------------------------------------------------
def _linear_model(tmp_path: Path, n: int = 2000) -> tuple[Any, Path, pd.DataFrame, pd.Series]:
    """A LinearRegression on y = 3 x0 - 2 x1 + x2 + noise whose x4 coefficient is forced to 0
    (so the model provably ignores x4); x5 is constant."""
    from sklearn.linear_model import LinearRegression

    rng = np.random.default_rng(3)
    X = pd.DataFrame(rng.normal(size=(n, 6)) * [1.0, 2.0, 1.0, 1.0, 1.0, 1.0], columns=FEATURES)
    X[CONSTANT] = 1.0
    y = pd.Series(3 * X.x0 - 2 * X.x1 + X.x2 + 0.5 * X.x4 + rng.normal(size=n), name="y")
    model = LinearRegression().fit(X, y)
    coef = model.coef_.copy()
    coef[4] = 0.0
    model.coef_ = coef
    model_path = tmp_path / "linear.joblib"
    joblib.dump(model, model_path)
    return model, model_path, X, y


def test_permutation_unused_feature_drops_exactly_zero(tmp_path: Path) -> None:
    """Shuffling a column the model ignores (zero coefficient) or a constant column leaves every
    prediction unchanged, so the score drop is exactly 0, with spread 0."""
    _, model_path, X, y = _linear_model(tmp_path)
    result = run_xai(model_path, write_csv(tmp_path, X, y), ("permutation",))
    table = outcome(result, "permutation").table
    assert table is not None and table.spread is not None
    for name in ("x4", CONSTANT):
        i = FEATURES.index(name)
        assert table.values[i, 0] == 0.0
        assert table.spread[i, 0] == 0.0
    assert table.unit == "score_drop:r2"


def test_permutation_matches_linear_closed_form(tmp_path: Path) -> None:
    """For a linear model with independent features the expected R² drop of shuffling x_j is
    2 w_j² Var(x_j) / Var(y); five repeats on 2000 rows land within 10 %."""
    model, model_path, X, y = _linear_model(tmp_path)
    frame = read_back(write_csv(tmp_path, X, y))
    got = pooled(run_xai(model_path, tmp_path / "data.csv", ("permutation",)), "permutation")
    w = model.coef_
    expected = 2 * w**2 * frame.var(ddof=0).to_numpy() / y.var(ddof=0)
    for j in (0, 1, 2):
        assert got[j] == pytest.approx(expected[j], rel=0.10), (j, got[j], expected[j])
    assert list(np.argsort(-got)[:3]) == [1, 0, 2]


def test_permutation_is_seeded(tmp_path: Path) -> None:
    """The same seed gives identical values; another seed gives different values for a used
    feature (and still exactly 0 for the ignored one)."""
    _, model_path, X, y = _linear_model(tmp_path, n=500)
    data_path = write_csv(tmp_path, X, y)
    a = pooled(run_xai(model_path, data_path, ("permutation",), seed=0), "permutation")
    b = pooled(run_xai(model_path, data_path, ("permutation",), seed=0), "permutation")
    c = pooled(run_xai(model_path, data_path, ("permutation",), seed=1), "permutation")
    np.testing.assert_array_equal(a, b)
    assert a[0] != c[0]
    assert c[4] == 0.0
