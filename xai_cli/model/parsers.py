"""Read each library's trees into a :class:`~xai_cli.model.forest.Forest`, and encode input rows
the way that library does before it walks its trees.

A parser either returns an exact transcription of the model or raises
:class:`~xai_cli.model.forest.UnsupportedForest` with the reason; the explainer then falls back
to the library's own TreeSHAP and records that reason. As a second guard, the explainer checks the
parsed forest's predictions against the library's own raw predictions before trusting it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from xai_cli.model.adapter import ModelAdapter
from xai_cli.model.forest import (
    IN_SET_LEFT,
    IN_SET_RIGHT,
    LESS,
    LESS_EQUAL,
    NAN_AS_ZERO,
    NAN_DEFAULT,
    ZERO_OR_NAN_DEFAULT,
    Forest,
    TreeNodes,
    UnsupportedForest,
    build_forest,
)

Encoder = Callable[[pd.DataFrame], np.ndarray]


@dataclass(frozen=True)
class ParsedModel:
    """A forest and the function that turns a typed frame into the matrix its splits test."""

    forest: Forest
    encode: Encoder


def _codes(col: pd.Series, categories: list[Any] | None) -> np.ndarray:
    """Category codes as floats (NaN for missing or unknown), against ``categories`` when the
    model stored them, else against the column's own categories (what the library does)."""
    cat = pd.Categorical(col, categories=categories) if categories is not None else col.cat
    codes = np.asarray(cat.codes, dtype=np.float64)
    codes[codes < 0] = np.nan
    return codes


def _matrix(
    adapter: ModelAdapter, X: pd.DataFrame, categories: dict[str, list[Any] | None], f32: bool
) -> np.ndarray:
    frame = adapter.typed_frame(X)
    out = np.empty(frame.shape, dtype=np.float64)
    for j, name in enumerate(adapter.feature_names):
        if name in categories:
            out[:, j] = _codes(frame[name].astype("category"), categories[name])
        else:
            out[:, j] = frame[name].to_numpy(dtype=np.float64, na_value=np.nan)
    # XGBoost, scikit-learn and CatBoost compare float32 inputs; float32 -> float64 is exact.
    return out.astype(np.float32).astype(np.float64) if f32 else out


# ----- XGBoost ----------------------------------------------------------------------------------
def _xgboost_categories(adapter: ModelAdapter) -> dict[str, list[Any] | None]:
    """The category lists XGBoost >= 3.1 stores in the model and re-codes inputs with."""
    stored: dict[str, list[Any] | None] = {n: None for n in adapter.categorical_features}
    try:
        pairs = adapter.native.get_categories(export_to_arrow=True).to_arrow()
    except (AttributeError, TypeError, ValueError):
        return stored
    for name, values in pairs or []:
        if name in stored and values is not None:
            stored[name] = values.to_pylist()
    return stored


def parse_xgboost(adapter: ModelAdapter) -> ParsedModel:
    """gbtree models, numeric and categorical splits; trees after ``n_iterations`` are dropped."""
    model = json.loads(adapter.native.save_raw("json"))["learner"]
    booster = model["gradient_booster"]
    if booster["name"] != "gbtree":
        raise UnsupportedForest(f"XGBoost '{booster['name']}' booster (only gbtree is parsed)")
    trees_json = booster["model"]["trees"]
    info = booster["model"]["tree_info"]
    indptr = booster["model"].get("iteration_indptr")
    n_rounds = adapter.n_iterations or 0
    if indptr is not None and n_rounds:
        trees_json, info = trees_json[: indptr[n_rounds]], info[: indptr[n_rounds]]
    trees = []
    for tree_json, output in zip(trees_json, info, strict=True):
        if int(tree_json["tree_param"].get("size_leaf_vector", "1")) > 1:
            raise UnsupportedForest("XGBoost vector-leaf (multi_output_tree) trees")
        n_nodes = len(tree_json["left_children"])
        cats: list[tuple[float, ...]] = []
        if tree_json.get("categories_nodes"):
            cats = [()] * n_nodes
            segments, sizes = tree_json["categories_segments"], tree_json["categories_sizes"]
            for k, node in enumerate(tree_json["categories_nodes"]):
                chosen = tree_json["categories"][segments[k] : segments[k] + sizes[k]]
                cats[node] = tuple(float(c) for c in chosen)
        left = np.asarray(tree_json["left_children"], dtype=np.int64)
        # XGBoost stores float32; its JSON prints them in decimal, so round back to float32.
        conditions = np.asarray(tree_json["split_conditions"], dtype=np.float32).astype(float)
        nodes = TreeNodes(
            left=left,
            right=tree_json["right_children"],
            feature=tree_json["split_indices"],
            threshold=conditions,
            rule=np.where(np.asarray(tree_json["split_type"]) == 1, IN_SET_RIGHT, LESS),
            missing=np.full(n_nodes, NAN_DEFAULT),
            default_left=np.asarray(tree_json["default_left"], dtype=bool),
            categories=cats,
            value=np.where(left < 0, conditions, 0.0),
            cover=np.asarray(tree_json["sum_hessian"], dtype=np.float32).astype(float),
        )
        trees.append((nodes, 0, int(output)))
    n_outputs = max(1, len(adapter.outputs))
    forest = build_forest(trees, len(adapter.feature_names), n_outputs)
    categories = _xgboost_categories(adapter)
    return ParsedModel(forest, lambda X: _matrix(adapter, X, categories, f32=True))


# ----- LightGBM ---------------------------------------------------------------------------------
_LGB_MISSING = {"None": NAN_AS_ZERO, "Zero": ZERO_OR_NAN_DEFAULT, "NaN": NAN_DEFAULT}


def _lightgbm_tree(structure: dict[str, Any]) -> TreeNodes:
    nodes = TreeNodes()
    stack: list[tuple[dict[str, Any], int, str]] = [(structure, -1, "")]
    while stack:
        node, parent, side = stack.pop()
        if "leaf_value" in node:
            index = nodes.add(value=float(node["leaf_value"]), cover=float(node["leaf_count"]))
        else:
            categorical = node["decision_type"] == "=="
            cats = (
                tuple(float(c) for c in str(node["threshold"]).split("||")) if categorical else ()
            )
            index = nodes.add(
                feature=int(node["split_feature"]),
                threshold=0.0 if categorical else float(node["threshold"]),
                rule=IN_SET_LEFT if categorical else LESS_EQUAL,
                missing=NAN_DEFAULT if categorical else _LGB_MISSING[node["missing_type"]],
                default_left=False if categorical else bool(node["default_left"]),
                categories=cats,
                cover=float(node["internal_count"]),
            )
            stack.append((node["right_child"], index, "right"))
            stack.append((node["left_child"], index, "left"))
        if parent >= 0:
            getattr(nodes, side)[parent] = index
    return nodes


def _lightgbm_text_tree(fields: dict[str, str]) -> TreeNodes:
    """One tree of LightGBM's model text as whole columns: internal nodes ``0..n-2`` as LightGBM
    numbers them, then the leaves (a child ``c < 0`` is leaf ``~c``). ``decision_type`` bits:
    1 categorical, 2 default left, bits 2-3 the missing type (0 None, 1 Zero, 2 NaN); a
    categorical node's threshold indexes ``cat_boundaries`` into the ``cat_threshold`` bitsets."""

    def column(key: str, dtype: type = np.float64) -> np.ndarray:
        # C-level text parsing (strtod: exact for the 17-digit numbers LightGBM writes)
        return np.fromstring(fields[key], dtype=dtype, sep=" ") if fields.get(key) else np.zeros(0)

    leaf_value = column("leaf_value")
    leaf_count = column("leaf_count")
    n_leaves = len(leaf_value)
    if n_leaves == 1 or "split_feature" not in fields:
        return TreeNodes(left=[-1], right=[-1], feature=[-1], threshold=[0.0], rule=[LESS],
                         missing=[NAN_DEFAULT], default_left=[True], value=leaf_value[:1],
                         cover=leaf_count[:1] if len(leaf_count) else [1.0])  # fmt: skip
    n_inner = n_leaves - 1
    left = column("left_child", np.int64)
    right = column("right_child", np.int64)
    decision = column("decision_type", np.int64)
    threshold = column("threshold")
    categorical = (decision & 1) == 1
    missing = np.asarray([NAN_AS_ZERO, ZERO_OR_NAN_DEFAULT, NAN_DEFAULT, NAN_AS_ZERO])[
        (decision >> 2) & 3
    ]
    cats: list[tuple[float, ...]] = []
    if categorical.any():
        bounds = column("cat_boundaries", np.int64)
        bits = column("cat_threshold", np.int64)
        cats = [()] * (n_inner + n_leaves)
        for node in np.flatnonzero(categorical).tolist():
            k = int(threshold[node])
            words = bits[bounds[k] : bounds[k + 1]]
            cats[node] = tuple(
                float(32 * w + b) for w, word in enumerate(words.tolist()) for b in range(32)
                if (word >> b) & 1
            )
    inner_left = np.where(left >= 0, left, n_inner + ~left)
    inner_right = np.where(right >= 0, right, n_inner + ~right)
    leaves = np.full(n_leaves, -1, dtype=np.int64)
    return TreeNodes(
        left=np.concatenate([inner_left, leaves]),
        right=np.concatenate([inner_right, leaves]),
        feature=np.concatenate([column("split_feature", np.int64), leaves]),
        threshold=np.concatenate([np.where(categorical, 0.0, threshold), np.zeros(n_leaves)]),
        rule=np.concatenate([np.where(categorical, IN_SET_LEFT, LESS_EQUAL),
                             np.full(n_leaves, LESS)]),  # fmt: skip
        missing=np.concatenate([np.where(categorical, NAN_DEFAULT, missing),
                                np.full(n_leaves, NAN_DEFAULT)]),  # fmt: skip
        default_left=np.concatenate([~categorical & ((decision & 2) == 2),
                                     np.ones(n_leaves, dtype=bool)]),  # fmt: skip
        categories=cats,
        value=np.concatenate([np.zeros(n_inner), leaf_value]),
        cover=np.concatenate([column("internal_count"), leaf_count]),
    )


def _lightgbm_text_trees(text: str) -> list[dict[str, str]]:
    """The ``key=value`` fields of each ``Tree=`` block of LightGBM's model text."""
    body = text.split("end of trees", 1)[0]
    trees = []
    for block in body.split("\nTree=")[1:]:
        fields = {}
        for line in block.splitlines()[1:]:
            key, sep, value = line.partition("=")
            if sep:
                fields[key] = value
        trees.append(fields)
    return trees


def parse_lightgbm(adapter: ModelAdapter) -> ParsedModel:
    """Numeric (with LightGBM's three missing-value types) and categorical splits, read from
    the model text (``model_to_string``) with numpy: the ``dump_model`` JSON that
    :func:`parse_lightgbm_dump` reads builds a Python dict per node, seconds on deep forests."""
    booster = adapter.native
    text = booster.model_to_string(num_iteration=adapter.n_iterations or -1)
    per_iteration = max(1, booster.num_model_per_iteration())
    trees = [
        (_lightgbm_text_tree(fields), 0, i % per_iteration)
        for i, fields in enumerate(_lightgbm_text_trees(text))
    ]
    return _lightgbm_parsed(adapter, trees)


def parse_lightgbm_dump(adapter: ModelAdapter) -> ParsedModel:
    """The same forest as :func:`parse_lightgbm`, from the ``dump_model`` JSON (the reference
    the text parse is tested against; slower on deep forests)."""
    booster = adapter.native
    dump = booster.dump_model(num_iteration=adapter.n_iterations or -1)
    per_iteration = max(1, booster.num_model_per_iteration())
    trees = [
        (_lightgbm_tree(info["tree_structure"]), 0, int(info["tree_index"]) % per_iteration)
        for info in dump["tree_info"]
    ]
    return _lightgbm_parsed(adapter, trees)


def _lightgbm_parsed(adapter: ModelAdapter, trees: list[tuple[TreeNodes, int, int]]) -> ParsedModel:
    forest = build_forest(trees, len(adapter.feature_names), max(1, len(adapter.outputs)))
    stored = adapter.native.pandas_categorical
    categories: dict[str, list[Any] | None] = {}
    for i, name in enumerate(adapter.categorical_features):
        categories[name] = list(stored[i]) if stored and i < len(stored) else None
    return ParsedModel(forest, lambda X: _lightgbm_zeros(_matrix(adapter, X, categories, False)))


LGB_ZERO = float(np.float32(1e-35))
"""LightGBM's ``kZeroThreshold``: its predictor reads any ``|x| <= 1e-35`` as 0.0."""


def _lightgbm_zeros(matrix: np.ndarray) -> np.ndarray:
    """Values LightGBM's predictor drops as zero (it keeps only ``|x| > kZeroThreshold``), so a
    row sitting on its ``-1e-35`` zero threshold routes as LightGBM routes it."""
    matrix[np.abs(matrix) <= LGB_ZERO] = 0.0
    return matrix


# ----- CatBoost ---------------------------------------------------------------------------------
def parse_catboost(adapter: ModelAdapter) -> ParsedModel:
    """Symmetric trees over numeric features, unrolled into ordinary binary trees, and
    non-symmetric ones (Depthwise, Lossguide) as they are; leaf weights give the covers.
    Categorical features (one-hot and CTR splits) are not parsed."""
    import os
    import tempfile

    if adapter.categorical_features:
        raise UnsupportedForest("CatBoost categorical features (CTR and one-hot splits)")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.json")
        adapter.native.save_model(path, format="json")
        with open(path, encoding="utf-8") as handle:
            model = json.load(handle)
    symmetric = "oblivious_trees" in model
    if not symmetric and "trees" not in model:
        raise UnsupportedForest("a CatBoost model JSON without oblivious_trees or trees")
    floats = model["features_info"].get("float_features", [])
    flat = {f["feature_index"]: f["flat_feature_index"] for f in floats}
    # nan_mode="Max" saves "AsTrue": NaN above every border, so it goes right
    nan_left = {
        f["feature_index"]: f.get("nan_value_treatment") not in ("AsTrue", "AsMaxValue")
        for f in floats
    }
    n_outputs = max(1, len(adapter.outputs))
    dims = int(model.get("model_info", {}).get("approx_dimension", 0) or n_outputs)
    trees = []
    for tree in [] if symmetric else model["trees"]:  # Depthwise / Lossguide: nested nodes
        for output in range(dims):
            trees.append((_catboost_nested(tree, output, flat, nan_left), 0, output))
    for tree in model["oblivious_trees"] if symmetric else []:
        splits = tree["splits"]
        if any(s.get("split_type", "FloatFeature") != "FloatFeature" for s in splits):
            raise UnsupportedForest("CatBoost splits on categorical or combined features")
        depth = len(splits)
        weights = np.asarray(tree["leaf_weights"], dtype=np.float64)
        values = np.asarray(tree["leaf_values"], dtype=np.float64).reshape(1 << depth, dims)
        for output in range(dims):
            trees.append(
                (_unroll(splits, weights, values[:, output], flat, nan_left), 0, output)
            )
    forest = build_forest(trees, len(adapter.feature_names), n_outputs)
    return ParsedModel(forest, lambda X: _matrix(adapter, X, {}, f32=True))


def _unroll(
    splits: list[dict[str, Any]],
    weights: np.ndarray,
    values: np.ndarray,
    flat: dict[int, int],
    nan_left: dict[int, bool],
) -> TreeNodes:
    """A symmetric tree as a full binary tree: leaf index bit ``k`` is ``x > border_k``; the root
    tests the last split. Empty subtrees get a tiny cover so ratios stay defined (their leaves
    then carry ~0 weight, as in CatBoost's own computation)."""
    nodes = TreeNodes()
    depth = len(splits)

    def build(level: int, prefix: int) -> tuple[int, float]:
        if level < 0:
            leaf = nodes.add(value=float(values[prefix]), cover=float(weights[prefix]))
            return leaf, float(weights[prefix])
        split = splits[level]
        index = nodes.add(
            feature=flat[split["float_feature_index"]],
            threshold=float(np.float32(split["border"])),
            rule=LESS_EQUAL,
            default_left=nan_left.get(split["float_feature_index"], True),
        )
        left, wl = build(level - 1, prefix)
        right, wr = build(level - 1, prefix | (1 << level))
        nodes.left[index], nodes.right[index] = left, right
        nodes.cover[index] = wl + wr if wl + wr > 0 else 1e-300
        return index, wl + wr

    build(depth - 1, 0)
    return nodes


def _catboost_nested(
    tree: dict[str, Any], output: int, flat: dict[int, int], nan_left: dict[int, bool]
) -> TreeNodes:
    """A non-symmetric CatBoost tree (``grow_policy`` Depthwise or Lossguide; JSON nodes with
    ``split``, ``left`` and ``right``, leaves with ``value`` and ``weight``): ``x > border`` goes
    right, as in symmetric trees; a leaf's ``value`` is a list per output in multiclass models.
    Empty subtrees get a tiny cover, as in :func:`_unroll`."""
    nodes = TreeNodes()

    def build(node: dict[str, Any]) -> tuple[int, float]:
        if "split" not in node:
            value = node["value"]
            value = float(value[output] if isinstance(value, list) else value)
            weight = float(node.get("weight", 0.0))
            return nodes.add(value=value, cover=weight), weight
        split = node["split"]
        if split.get("split_type", "FloatFeature") != "FloatFeature":
            raise UnsupportedForest("CatBoost splits on categorical or combined features")
        index = nodes.add(
            feature=flat[split["float_feature_index"]],
            threshold=float(np.float32(split["border"])),
            rule=LESS_EQUAL,
            default_left=nan_left.get(split["float_feature_index"], True),
        )
        left, wl = build(node["left"])
        right, wr = build(node["right"])
        nodes.left[index], nodes.right[index] = left, right
        nodes.cover[index] = wl + wr if wl + wr > 0 else 1e-300
        return index, wl + wr

    build(tree)
    return nodes


# ----- scikit-learn -----------------------------------------------------------------------------
def _sklearn_tree(tree: Any, values: np.ndarray) -> TreeNodes:
    nodes = TreeNodes()
    go_left = getattr(tree, "missing_go_to_left", None)
    for i in range(tree.node_count):
        nodes.add(
            left=int(tree.children_left[i]),
            right=int(tree.children_right[i]),
            feature=int(tree.feature[i]),
            threshold=float(tree.threshold[i]),
            rule=LESS_EQUAL,
            default_left=bool(go_left[i]) if go_left is not None else True,
            value=float(values[i]),
            cover=float(tree.weighted_n_node_samples[i]),
        )
    return nodes


def parse_sklearn(adapter: ModelAdapter) -> ParsedModel:
    """Decision trees, random forests, extra trees and gradient boosting (binary, multiclass,
    regression); HistGradientBoosting and IsolationForest in :mod:`xai_cli.model.sklearn_parsers`.
    Forest classifier leaves are class probabilities and forests average their trees; gradient
    boosting's ``estimators_[i, k]`` adds ``learning_rate`` x its leaf to class ``k``'s score."""
    if adapter.model_class in SKLEARN_SPECIAL:
        from xai_cli.model import sklearn_parsers

        return getattr(sklearn_parsers, SKLEARN_SPECIAL[adapter.model_class])(adapter)
    model = adapter.native
    boosting = adapter.model_class.startswith("GradientBoosting")
    stages = np.asarray(model.estimators_, dtype=object) if boosting else None
    estimators = list(np.ravel(model.estimators_)) if hasattr(model, "estimators_") else [model]
    scale = model.learning_rate if boosting else 1.0 / len(estimators)
    outputs = adapter.outputs
    trees = []
    for i, est in enumerate(estimators):
        tree = est.tree_
        raw = np.asarray(tree.value, dtype=np.float64)
        if adapter.is_classifier and not boosting:
            raw = raw / raw.sum(axis=2, keepdims=True)  # counts or fractions -> probabilities
            n_out = len(outputs)
            columns = [(1, 0)] if adapter.task == "binary" else [(k, k) for k in range(n_out)]
        else:
            # boosting: estimators_ is (stages, classes), raveled row by row
            columns = [(0, i % stages.shape[1] if stages is not None else 0)]
        for column, output in columns:
            trees.append((_sklearn_tree(tree, raw[:, 0, column] * scale), 0, output))
    forest = build_forest(trees, len(adapter.feature_names), max(1, len(outputs)))
    return ParsedModel(forest, lambda X: _matrix(adapter, X, {}, f32=True))


SKLEARN_SPECIAL = {
    "HistGradientBoostingClassifier": "parse_hist_gradient_boosting",
    "HistGradientBoostingRegressor": "parse_hist_gradient_boosting",
    "IsolationForest": "parse_isolation_forest",
}
"""scikit-learn classes whose parser lives in :mod:`xai_cli.model.sklearn_parsers`."""

PARSERS: dict[str, Callable[[ModelAdapter], ParsedModel]] = {
    "xgboost": parse_xgboost,
    "lightgbm": parse_lightgbm,
    "catboost": parse_catboost,
    "sklearn_tree": parse_sklearn,
}
"""Model family -> parser."""
