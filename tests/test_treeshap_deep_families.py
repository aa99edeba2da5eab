"""No tree model falls back from xai's engines for being deep (issue 15).

One tiny model per family grown to depth 12-16 (XGBoost, LightGBM, CatBoost symmetric,
Depthwise and Lossguide, scikit-learn decision tree, random forest, extra trees, gradient
boosting and histogram gradient boosting): with ``engine=auto`` the provenance names xai's own
TreeSHAP, not a library's, and the values equal the library's own; the quadrature engine does
too. Each model is checked to be deep (its parsed trees reach depth 12 or more), so a model
that stopped growing early cannot pass for a deep one.

CatBoost's own ``ShapValues`` on non-symmetric trees are not exact past depth ~6: they do not
add up to the prediction (0.06 off on a depth-6 Depthwise model of 3 trees here), so the
Depthwise and Lossguide models are checked against brute-force path-dependent Shapley values
over every feature subset, on trees read from CatBoost's JSON independently of xai's parser,
and for local accuracy against CatBoost's predictions.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.helpers_trees import Node, brute_force_shapley, make_data
from tests.test_treeshap_fast import assert_matches_own, explain, with_missing
from xai_cli.methods.tables import quadrature
from xai_cli.methods.treeshap import FAST_LIBRARY
from xai_cli.model import parsers
from xai_cli.model.adapter import adapt

xgb = pytest.importorskip("xgboost")
lgb = pytest.importorskip("lightgbm")
catboost = pytest.importorskip("catboost")

MIN_DEPTH = 12


def deep_model(name: str) -> Any:
    """An unfitted model of ``name`` allowed to grow to depth 12-16 on a few hundred rows."""
    from sklearn.ensemble import (
        ExtraTreesRegressor,
        GradientBoostingClassifier,
        HistGradientBoostingRegressor,
        RandomForestClassifier,
    )
    from sklearn.tree import DecisionTreeRegressor

    cb = {"verbose": 0, "thread_count": 1, "allow_writing_files": False, "random_seed": 0}
    return {
        "xgboost": xgb.XGBRegressor(n_estimators=3, max_depth=14, min_child_weight=0,
                                    random_state=0, n_jobs=1),
        "lightgbm": lgb.LGBMClassifier(n_estimators=3, num_leaves=300, max_depth=14,
                                       min_child_samples=1, min_child_weight=0, random_state=0,
                                       verbose=-1, n_jobs=1),
        "catboost_symmetric": catboost.CatBoostRegressor(iterations=2, depth=12, **cb),
        "catboost_depthwise": catboost.CatBoostClassifier(
            iterations=3, depth=12, grow_policy="Depthwise", min_data_in_leaf=1, **cb),
        "catboost_lossguide": catboost.CatBoostRegressor(
            iterations=3, depth=14, grow_policy="Lossguide", max_leaves=200, min_data_in_leaf=1,
            **cb),
        "decision_tree": DecisionTreeRegressor(max_depth=16, random_state=0),
        "random_forest": RandomForestClassifier(n_estimators=3, max_depth=16, random_state=0),
        "extra_trees": ExtraTreesRegressor(n_estimators=3, max_depth=16, random_state=0),
        "gradient_boosting": GradientBoostingClassifier(n_estimators=3, max_depth=12,
                                                        random_state=0),
        "hist_gradient_boosting": HistGradientBoostingRegressor(
            max_iter=3, max_depth=14, max_leaf_nodes=None, min_samples_leaf=1, random_state=0),
    }[name]  # fmt: skip


NAMES = (
    "xgboost", "lightgbm", "catboost_symmetric", "catboost_depthwise", "catboost_lossguide",
    "decision_tree", "random_forest", "extra_trees", "gradient_boosting", "hist_gradient_boosting",
)  # fmt: skip


def data(name: str) -> tuple[pd.DataFrame, pd.Series]:
    classifier = name in ("lightgbm", "catboost_depthwise", "random_forest", "gradient_boosting")
    X, y = make_data("binary" if classifier else "regression", n=400, n_features=8, noise=1.5)
    if name in ("xgboost", "lightgbm", "hist_gradient_boosting"):
        X = with_missing(X)
    return X, y


@pytest.mark.parametrize("name", NAMES)
def test_deep_models_take_xai_engine_and_equal_the_library(name: str) -> None:
    X, y = data(name)
    model = deep_model(name).fit(X, y)
    forest = parsers.PARSERS[adapt(model).family](adapt(model)).forest
    _, depth, _ = quadrature.tree_shape(
        forest.tree_offsets, forest.left, forest.right, forest.feature, forest.n_features
    )
    assert depth.max() >= MIN_DEPTH, f"{name} grew only to depth {depth.max()}"
    rows = X.iloc[:40]
    check = assert_matches_brute_force if name in NON_SYMMETRIC else assert_matches_own
    ctx, local = explain(model, rows)
    assert local.library == FAST_LIBRARY, local.notes
    assert local.notes[1].startswith("engine ")
    check(ctx, local)
    if local.notes[1].startswith("engine Gauss-Legendre quadrature"):
        return  # auto took the deep engine itself: nothing more to run
    ctx, deep = explain(model, rows, engine="quadrature")
    assert deep.library == FAST_LIBRARY, deep.notes
    assert deep.notes[1].startswith("engine Gauss-Legendre quadrature")
    check(ctx, deep)
    np.testing.assert_allclose(deep.values, local.values, rtol=0, atol=1e-9)


NON_SYMMETRIC = ("catboost_depthwise", "catboost_lossguide")


def node_from_catboost(node: dict[str, Any], output: int) -> Node:
    """A brute-force :class:`Node` from CatBoost's JSON of a non-symmetric tree: ``x > border``
    (float32) goes right; covers are the leaf weights summed (tiny where a subtree is empty)."""
    if "split" not in node:
        value = node["value"]
        value = value[output] if isinstance(value, list) else value
        return Node(cover=float(node.get("weight", 0.0)), value=float(value))
    left = node_from_catboost(node["left"], output)
    right = node_from_catboost(node["right"], output)
    return Node(
        cover=max(left.cover + right.cover, 1e-300),
        feature=int(node["split"]["float_feature_index"]),
        threshold=float(np.float32(node["split"]["border"])),
        left=left,
        right=right,
        rule="le_float32",
    )


def assert_matches_brute_force(ctx: Any, local: Any, rows: int = 2) -> None:
    """Brute force on the first rows (every subset of the 8 features), local accuracy on all."""
    import json
    import tempfile
    from pathlib import Path

    model = ctx.adapter.native
    with tempfile.TemporaryDirectory() as tmp:
        model.save_model(str(Path(tmp) / "m.json"), format="json")
        trees = json.loads((Path(tmp) / "m.json").read_text())["trees"]
    x = ctx.X.to_numpy(dtype=np.float64)
    for k in range(local.values.shape[2]):
        nodes = [node_from_catboost(t, k) for t in trees]
        brute = np.array([brute_force_shapley(nodes, x[i], x.shape[1]) for i in range(rows)])
        np.testing.assert_allclose(local.values[:rows, :, k], brute, rtol=0, atol=1e-9)
    raw = np.asarray(ctx.adapter.predict_raw(ctx.X), dtype=np.float64).reshape(len(x), -1)
    total = local.values.sum(axis=1) + local.base_values
    np.testing.assert_allclose(total, raw, rtol=0, atol=1e-9)


def test_catboost_non_symmetric_parse_fails_on_a_wrong_border() -> None:
    """The Depthwise parse is what the comparison above rests on: a border moved by a step
    changes the predictions the parsed trees reproduce, and the check against CatBoost's own
    predictions refuses it."""
    from xai_cli.methods.tables import tableshap
    from xai_cli.model.forest import UnsupportedForest

    X, y = data("catboost_depthwise")
    adapter = adapt(deep_model("catboost_depthwise").fit(X, y))
    compiled = tableshap.compile_model(adapter)
    raw = adapter.predict_raw(X)
    tableshap.model_offset(compiled, tableshap.encode(compiled, X), raw)
    f = compiled.forest
    split = np.flatnonzero(f.left >= 0)[0]
    x = X.iloc[:, f.feature[split]].to_numpy()
    f.threshold[split] = np.median(x)  # a border that splits the rows elsewhere
    with pytest.raises(UnsupportedForest, match="do not reproduce"):
        tableshap.model_offset(compiled, tableshap.encode(compiled, X), raw)


def test_a_row_gets_the_same_bits_wherever_it_sits_in_a_block() -> None:
    """The kernel fuses multiply-adds (``contract`` fast-math) and runs rows as vectors: a row
    at another position in its 128-row block (vector body or scalar remainder) or in a block of
    its own must still give bit-identical values, or chunked and streamed runs would differ."""
    from sklearn.ensemble import RandomForestRegressor

    from xai_cli.methods.tables import tableshap

    X, y = make_data("regression", n=300, n_features=8)
    model = RandomForestRegressor(n_estimators=2, max_depth=12, random_state=0).fit(X, y)
    compiled = tableshap.compile_parsed(tableshap.compile_model(adapt(model)).parsed, "quadrature")
    matrix = tableshap.encode(compiled, X)
    whole = tableshap.path_dependent(compiled, matrix)
    for shift in (1, 5, 131, 299):
        assert np.array_equal(whole[shift:], tableshap.path_dependent(compiled, matrix[shift:]))
