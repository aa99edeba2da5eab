"""Shared code for the known-answer tests of tree explanations.

Small seeded synthetic data, a one-call wrapper around
:func:`xai_cli.run.engine.explain`, readers for
the libraries' tree dumps, and an independent brute-force Shapley computation over a generic tree.
Nothing here calls xai_cli's explainers: it is the "by hand" side every test compares against.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from xai_cli.results import ExplainResult, MethodOutcome
from xai_cli.run.engine import ExplainRequest, explain

Task = Literal["regression", "binary", "multiclass"]

N_ROWS = 300
N_FEATURES = 6
FEATURES = tuple(f"x{i}" for i in range(N_FEATURES))
CONSTANT = "x5"
"""The column that is constant in the training data, so no tree can split on it."""


# ----- data ---------------------------------------------------------------------------------------
def make_data(
    task: Task = "regression",
    *,
    n: int = N_ROWS,
    seed: int = 0,
    noise: float = 0.3,
    n_features: int = N_FEATURES,
    constant: bool = True,
) -> tuple[pd.DataFrame, pd.Series]:
    """Seeded Gaussian features ``x0..x{d-1}`` with a signal on x0, x1 and x2·x3.

    With ``constant`` the last column is 1.0 everywhere. Classification targets are thresholds of
    the regression signal (two or three classes, as ints).
    """
    rng = np.random.default_rng(seed)
    names = [f"x{i}" for i in range(n_features)]
    X = pd.DataFrame(rng.normal(size=(n, n_features)), columns=names)
    if constant:
        X[names[-1]] = 1.0
    signal = 2.0 * X["x0"] + X["x1"]
    if n_features >= 4:
        signal = signal - X["x2"] * X["x3"]
    signal = signal + rng.normal(scale=noise, size=n)
    if task == "regression":
        y = signal
    elif task == "binary":
        y = (signal > 0).astype(int)
    else:
        y = pd.Series(np.digitize(signal, [-1.0, 1.0]), index=X.index)
    return X, pd.Series(np.asarray(y), name="y")


def write_csv(directory: Path, X: pd.DataFrame, y: pd.Series, name: str = "data.csv") -> Path:
    """The frame and its target as one CSV, written with full float precision."""
    path = directory / name
    X.assign(y=y.to_numpy()).to_csv(path, index=False, float_format="%.17g")
    return path


def read_back(path: Path) -> pd.DataFrame:
    """The features exactly as xai reads them from the CSV, so hand and tool see the same floats."""
    return pd.read_csv(path).drop(columns="y")


# ----- running xai ------------------------------------------------------------------------------
def run_xai(
    model_path: Path,
    data_path: Path,
    methods: Sequence[str],
    *,
    seed: int = 0,
    target: str | None = "y",
    params: dict[str, dict[str, object]] | None = None,
) -> ExplainResult:
    """``xai explain`` through the Python API."""
    return explain(
        ExplainRequest(
            model_path=str(model_path),
            data_path=str(data_path),
            target=target,
            methods=tuple(methods),
            seed=seed,
            params=params or {},
        )
    )


def outcome(result: ExplainResult, method: str) -> MethodOutcome:
    """The named method's outcome, asserting that it ran."""
    found = next(o for o in result.outcomes if o.method == method)
    assert found.status == "ok", f"{method}: {found.status} {found.reason}"
    assert found.table is not None
    return found


def pooled(result: ExplainResult, method: str) -> np.ndarray:
    """The pooled ("all") importance column of one method, in feature order."""
    table = outcome(result, method).table
    assert table is not None
    assert table.outputs[0] == "all"
    return np.asarray(table.values[:, 0])


def by_name(features: Sequence[str], scores: dict[str, float]) -> np.ndarray:
    """A vector in ``features`` order from a name->score dict, 0 for absent names."""
    return np.array([float(scores.get(f, 0.0)) for f in features])


# ----- XGBoost dumps ----------------------------------------------------------------------------
def xgb_trees(booster: Any) -> list[dict[str, Any]]:
    """Every tree of the booster as a JSON dict with node statistics (gain, cover)."""
    return [json.loads(t) for t in booster.get_dump(dump_format="json", with_stats=True)]


def xgb_split_nodes(tree: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The non-leaf nodes of one JSON tree (leaves carry ``leaf`` and no ``split``)."""
    if "leaf" in tree:
        return
    yield tree
    for child in tree["children"]:
        yield from xgb_split_nodes(child)


XGB_TYPES = ("weight", "gain", "cover", "total_gain", "total_cover")


def xgb_importances_from_json(
    trees: Sequence[dict[str, Any]], features: Sequence[str]
) -> dict[str, np.ndarray]:
    """All five ``get_score`` types recomputed from JSON trees: split count, total and mean loss
    change, total and mean hessian cover. Features never split on get 0."""
    count = dict.fromkeys(features, 0.0)
    gain = dict.fromkeys(features, 0.0)
    cover = dict.fromkeys(features, 0.0)
    for tree in trees:
        for node in xgb_split_nodes(tree):
            count[node["split"]] += 1
            gain[node["split"]] += float(node["gain"])
            cover[node["split"]] += float(node["cover"])
    n = np.array([count[f] for f in features])
    total_gain = np.array([gain[f] for f in features])
    total_cover = np.array([cover[f] for f in features])
    return {
        "weight": n,
        "total_gain": total_gain,
        "total_cover": total_cover,
        "gain": total_gain / np.maximum(n, 1),
        "cover": total_cover / np.maximum(n, 1),
    }


# ----- LightGBM dumps ---------------------------------------------------------------------------
def lgb_split_nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The internal nodes of one ``dump_model`` tree structure."""
    if "split_feature" not in node:
        return
    yield node
    yield from lgb_split_nodes(node["left_child"])
    yield from lgb_split_nodes(node["right_child"])


def lgb_importances_from_dump(
    tree_infos: Sequence[dict[str, Any]], n_features: int
) -> dict[str, np.ndarray]:
    """``split`` (count of splits with gain > 0) and ``gain`` (their summed split_gain)."""
    split = np.zeros(n_features)
    gain = np.zeros(n_features)
    for info in tree_infos:
        for node in lgb_split_nodes(info["tree_structure"]):
            if node["split_gain"] > 0:
                split[node["split_feature"]] += 1
                gain[node["split_feature"]] += node["split_gain"]
    return {"split": split, "gain": gain}


# ----- CatBoost JSON ----------------------------------------------------------------------------
def catboost_json(model: Any, path: Path) -> dict[str, Any]:
    """The model saved as CatBoost JSON and read back."""
    model.save_model(str(path), format="json")
    return json.loads(path.read_text())


def catboost_pvc_from_json(model_json: dict[str, Any], n_features: int) -> np.ndarray:
    """PredictionValuesChange of float features from oblivious trees, scaled to sum to 100.

    Leaf index bit d belongs to ``splits[d]``; each pair of leaves (l, l xor 2^d) with positive
    weights adds w_l w_l' / (w_l + w_l') (v_l - v_l')^2 to the feature split at level d.
    Single-dimension models only.
    """
    float_to_flat = {
        f["feature_index"]: f["flat_feature_index"]
        for f in model_json["features_info"]["float_features"]
    }
    effect = np.zeros(n_features)
    for tree in model_json["oblivious_trees"]:
        values = tree["leaf_values"]
        weights = tree["leaf_weights"]
        assert len(values) == len(weights), "single-dimension models only"
        for depth, split in enumerate(tree["splits"]):
            assert split["split_type"] == "FloatFeature"
            feature = float_to_flat[split["float_feature_index"]]
            bit = 1 << depth
            for leaf in range(len(values)):
                if leaf & bit:
                    continue
                other = leaf | bit
                w0, w1 = weights[leaf], weights[other]
                if w0 > 0 and w1 > 0:
                    effect[feature] += w0 * w1 / (w0 + w1) * (values[leaf] - values[other]) ** 2
    return effect * 100.0 / effect.sum()


# ----- scikit-learn trees -----------------------------------------------------------------------
def sklearn_tree_mdi(tree: Any, n_features: int) -> np.ndarray:
    """Mean decrease in impurity of one fitted ``tree_``, normalised to sum to 1.

    Each internal node adds w_n i_n - w_left i_left - w_right i_right (w = weighted samples,
    i = impurity) to its feature.
    """
    out = np.zeros(n_features)
    w, imp = tree.weighted_n_node_samples, tree.impurity
    for node in range(tree.node_count):
        left, right = tree.children_left[node], tree.children_right[node]
        if left == -1:
            continue
        out[tree.feature[node]] += w[node] * imp[node] - w[left] * imp[left] - w[right] * imp[right]
    total = out.sum()
    return out / total if total > 0 else out


def sklearn_forest_mdi(forest: Any, n_features: int) -> np.ndarray:
    """A forest's ``feature_importances_``: the mean of each (non-stump) tree's normalised MDI,
    normalised again."""
    per_tree = [
        sklearn_tree_mdi(est.tree_, n_features)
        for est in forest.estimators_
        if est.tree_.node_count > 1
    ]
    mean = np.mean(per_tree, axis=0)
    return mean / mean.sum()


# ----- a generic tree and brute-force path-dependent Shapley ------------------------------------
@dataclass(frozen=True)
class Node:
    """A binary tree node: a leaf (``feature`` = -1, ``value``) or a split going left when
    ``x[feature] < threshold`` (XGBoost, compared in float32) or ``<=`` (scikit-learn)."""

    cover: float
    feature: int = -1
    threshold: float = 0.0
    left: Node | None = None
    right: Node | None = None
    value: float = 0.0
    rule: Literal["lt_float32", "le_float32"] = "lt_float32"

    def goes_left(self, x: np.ndarray) -> bool:
        xv = np.float32(x[self.feature])
        if self.rule == "lt_float32":
            return bool(xv < np.float32(self.threshold))
        return bool(float(xv) <= self.threshold)


def node_from_xgb(tree: dict[str, Any], features: Sequence[str]) -> Node:
    """A :class:`Node` from an XGBoost JSON dump (cover = sum of hessians)."""
    if "leaf" in tree:
        return Node(cover=float(tree["cover"]), value=float(tree["leaf"]))
    children = {c["nodeid"]: c for c in tree["children"]}
    return Node(
        cover=float(tree["cover"]),
        feature=list(features).index(tree["split"]),
        threshold=float(tree["split_condition"]),
        left=node_from_xgb(children[tree["yes"]], features),
        right=node_from_xgb(children[tree["no"]], features),
    )


def node_from_sklearn(tree: Any, node: int = 0) -> Node:
    """A :class:`Node` from a fitted scikit-learn ``tree_`` (cover = weighted samples; single
    output value)."""
    left, right = tree.children_left[node], tree.children_right[node]
    cover = float(tree.weighted_n_node_samples[node])
    if left == -1:
        return Node(cover=cover, value=float(tree.value[node].ravel()[0]))
    return Node(
        cover=cover,
        feature=int(tree.feature[node]),
        threshold=float(tree.threshold[node]),
        left=node_from_sklearn(tree, left),
        right=node_from_sklearn(tree, right),
        rule="le_float32",
    )


def tree_predict(node: Node, x: np.ndarray) -> float:
    """The leaf value x reaches."""
    while node.feature >= 0:
        assert node.left is not None and node.right is not None
        node = node.left if node.goes_left(x) else node.right
    return node.value


def path_dependent_value(node: Node, x: np.ndarray, subset: frozenset[int]) -> float:
    """v(S): follow x at splits on features in S, otherwise average the children by cover."""
    if node.feature < 0:
        return node.value
    assert node.left is not None and node.right is not None
    if node.feature in subset:
        return path_dependent_value(node.left if node.goes_left(x) else node.right, x, subset)
    left = path_dependent_value(node.left, x, subset)
    right = path_dependent_value(node.right, x, subset)
    return (node.left.cover * left + node.right.cover * right) / (
        node.left.cover + node.right.cover
    )


def brute_force_shapley(trees: Sequence[Node], x: np.ndarray, n_features: int) -> np.ndarray:
    """Exact Shapley values of the sum of trees under the path-dependent value function, by
    enumerating every subset: phi_j = sum_S |S|!(d-|S|-1)!/d! (v(S+j) - v(S))."""
    d = n_features
    cache: dict[frozenset[int], float] = {}

    def v(subset: frozenset[int]) -> float:
        if subset not in cache:
            cache[subset] = sum(path_dependent_value(t, x, subset) for t in trees)
        return cache[subset]

    phi = np.zeros(d)
    for j in range(d):
        others = [k for k in range(d) if k != j]
        for size in range(d):
            weight = math.factorial(size) * math.factorial(d - size - 1) / math.factorial(d)
            for combo in itertools.combinations(others, size):
                s = frozenset(combo)
                phi[j] += weight * (v(s | {j}) - v(s))
    return phi
