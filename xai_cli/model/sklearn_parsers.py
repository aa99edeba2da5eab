"""scikit-learn models whose trees are not plain ``tree_`` arrays: HistGradientBoosting and
IsolationForest, read into a :class:`~xai_cli.model.forest.Forest` for xai's TreeSHAP kernels.

**HistGradientBoosting** keeps its trees as ``TreePredictor`` node records
(``_predictors[iteration][class]``) and routes raw rows as
``sklearn/ensemble/_hist_gradient_boosting/_predictor.pyx`` does: NaN follows
``missing_go_to_left``; a numeric node sends ``x <= num_threshold`` (float64) left; a categorical
node sends the categories in its ``raw_left_cat_bitsets`` row left, the other *known* categories
right, and a negative or unknown category the missing-value way. Categorical features go through
the model's own ``_preprocessor`` (an ``OrdinalEncoder`` that puts the categorical columns first),
so the parse maps the encoded column order back to the model's input columns, and the encoder
turns every category the predictor would treat as missing into NaN, so that one per-node rule
(in the left set: left; NaN: the missing side; else right) reproduces the predictor exactly.
Leaf values already include the learning rate; ``_baseline_prediction`` is the model's constant.

**IsolationForest** is explained as shap's ``TreeExplainer`` does (``IsoTree`` in
``shap/explainers/_tree.py``): each leaf's value is its depth plus c(n), the average path length
of the ``n`` training points it did not isolate, each tree's features renumbered through
``estimators_features_``, and trees averaged, so the forest's output is the mean path length
E[h(x)] (``score_samples = -2 ** (-E[h(x)] / c(max_samples_))``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from xai_cli.model.adapter import ModelAdapter, average_path_length
from xai_cli.model.forest import (
    IN_SET_LEFT,
    LESS_EQUAL,
    NAN_DEFAULT,
    TreeNodes,
    UnsupportedForest,
    build_forest,
)
from xai_cli.model.parsers import ParsedModel, _matrix, _sklearn_tree


def _bitset_values(bitset: np.ndarray) -> tuple[float, ...]:
    """The integers 0..255 set in one scikit-learn bitset (8 x uint32, bit ``v % 32`` of word
    ``v // 32``: ``sklearn/utils/_bitset.pyx``)."""
    words = np.asarray(bitset, dtype=np.uint32)
    return tuple(
        float(v) for v in range(32 * len(words)) if (int(words[v // 32]) >> (v % 32)) & 1
    )


def _input_columns(model: Any, n_features: int) -> np.ndarray:
    """For each column the predictors read, the model's input column it comes from.

    With categorical features the model's ``_preprocessor`` (a ColumnTransformer) outputs the
    encoded categorical columns first, then the numeric ones; without, the order is the input's.
    """
    pre = getattr(model, "_preprocessor", None)
    if pre is None:
        return np.arange(n_features)
    source = np.full(n_features, -1, dtype=np.int64)
    for name, _, columns in pre.transformers_:
        where = pre.output_indices_.get(name, slice(0, 0))
        picked = np.arange(n_features)[columns] if len(np.atleast_1d(columns)) else []
        if where.stop > where.start:
            source[where] = np.asarray(picked, dtype=np.int64)
    if (source < 0).any() or sorted(source.tolist()) != list(range(n_features)):
        raise UnsupportedForest("HistGradientBoosting's preprocessor drops or repeats columns")
    return source


def _hgb_tree(predictor: Any, source: np.ndarray) -> TreeNodes:
    nodes = predictor.nodes
    leaf = nodes["is_leaf"].astype(bool)
    categorical = ~leaf & nodes["is_categorical"].astype(bool)
    bitsets = predictor.raw_left_cat_bitsets
    cats: list[tuple[float, ...]] = [()] * len(nodes)
    for i in np.flatnonzero(categorical):
        cats[i] = _bitset_values(bitsets[nodes["bitset_idx"][i]])
    return TreeNodes(
        left=np.where(leaf, -1, nodes["left"].astype(np.int64)),
        right=np.where(leaf, -1, nodes["right"].astype(np.int64)),
        feature=np.where(leaf, -1, source[np.where(leaf, 0, nodes["feature_idx"])]),
        threshold=np.where(categorical, 0.0, nodes["num_threshold"]),
        rule=np.where(categorical, IN_SET_LEFT, LESS_EQUAL),
        missing=np.full(len(nodes), NAN_DEFAULT),
        default_left=nodes["missing_go_to_left"].astype(bool),
        categories=cats,
        value=np.where(leaf, nodes["value"], 0.0),
        cover=nodes["count"].astype(np.float64),
    )


def _known_categories(model: Any, source: np.ndarray) -> dict[int, np.ndarray]:
    """Input column -> membership mask over 0..255 of the categories the model knows."""
    mask = getattr(model._bin_mapper, "is_categorical_", None)
    if mask is None or not np.any(mask):
        return {}
    bitsets, f_idx_map = model._bin_mapper.make_known_categories_bitsets()
    known = {}
    for j in np.flatnonzero(mask):
        member = np.zeros(256, dtype=bool)
        member[np.asarray(_bitset_values(bitsets[f_idx_map[j]]), dtype=np.int64)] = True
        known[int(source[j])] = member
    return known


def _hgb_encoder(adapter: ModelAdapter, source: np.ndarray, known: dict[int, np.ndarray]) -> Any:
    model = adapter.native

    def encode(X: pd.DataFrame) -> np.ndarray:
        data = adapter.prepare(X)
        pre = getattr(model, "_preprocessor", None)
        encoded = pre.transform(data) if pre is not None else np.asarray(data, dtype=np.float64)
        out = np.empty(encoded.shape, dtype=np.float64)
        out[:, source] = np.asarray(encoded, dtype=np.float64)
        for j, member in known.items():
            col = out[:, j]
            ok = ~np.isnan(col) & (col >= 0) & (col < 256)
            code = np.where(ok, np.trunc(np.where(ok, col, 0.0)), 0.0).astype(np.int64)
            # the predictor casts to uint8; a negative or unknown category goes the missing way
            out[:, j] = np.where(ok & member[code], code, np.nan)
        return out

    return encode


def parse_hist_gradient_boosting(adapter: ModelAdapter) -> ParsedModel:
    """HistGradientBoosting classifier (binary, multiclass) and regressor, numeric and
    categorical splits, missing values; the raw output is ``decision_function`` (classifier)
    or the raw score (regressor), less ``_baseline_prediction``."""
    model = adapter.native
    n_features = len(adapter.feature_names)
    source = _input_columns(model, n_features)
    trees = [
        (_hgb_tree(predictor, source), 0, k)
        for iteration in model._predictors
        for k, predictor in enumerate(iteration)
    ]
    forest = build_forest(trees, n_features, max(1, len(adapter.outputs)))
    known = _known_categories(model, source)
    return ParsedModel(forest, _hgb_encoder(adapter, source, known))


def parse_isolation_forest(adapter: ModelAdapter) -> ParsedModel:
    """IsolationForest as the mean path length E[h(x)] over its trees (shap's definition)."""
    model = adapter.native
    scale = 1.0 / len(model.estimators_)
    trees = []
    for est, columns in zip(model.estimators_, model.estimators_features_, strict=True):
        tree = est.tree_
        depth = np.zeros(tree.node_count, dtype=np.float64)
        for i in range(tree.node_count):  # children always come after their parent
            if tree.children_left[i] >= 0:
                depth[tree.children_left[i]] = depth[tree.children_right[i]] = depth[i] + 1
        leaf = tree.children_left < 0
        values = np.where(leaf, depth + average_path_length(tree.n_node_samples), 0.0)
        nodes = _sklearn_tree(tree, values * scale)
        nodes.feature = [int(columns[f]) if f >= 0 else -1 for f in nodes.feature]
        trees.append((nodes, 0, 0))
    forest = build_forest(trees, len(adapter.feature_names), 1)
    return ParsedModel(forest, lambda X: _matrix(adapter, X, {}, f32=True))
