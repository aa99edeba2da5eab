"""One flat, library-neutral representation of a tree ensemble, for xai's own TreeSHAP kernels.

Each library stores its trees differently (XGBoost JSON, LightGBM's dump, CatBoost's symmetric
trees, scikit-learn's ``tree_`` arrays). The parsers in :mod:`xai_cli.model.parsers` turn all of
them into one :class:`Forest`: numpy arrays the numba kernels in
:mod:`xai_cli.methods.tables.kernels` walk,
with each node's split rule, its missing-value rule and its cover (the training weight that
reached it, which path-dependent TreeSHAP uses as the conditional distribution).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numba import njit

# Split rules (``Forest.rule``): how a node decides that a row goes to its left child.
LESS = 0
"""``x < threshold`` goes left (XGBoost)."""
LESS_EQUAL = 1
"""``x <= threshold`` goes left (LightGBM, scikit-learn, CatBoost's ``x > border`` goes right)."""
IN_SET_LEFT = 2
"""A category in the node's set goes left (LightGBM)."""
IN_SET_RIGHT = 3
"""A category in the node's set goes right (XGBoost)."""

# Missing-value rules (``Forest.missing``).
NAN_DEFAULT = 0
"""NaN follows the node's default direction."""
NAN_AS_ZERO = 1
"""NaN is read as 0.0 and then compared (LightGBM ``missing_type=None``)."""
ZERO_OR_NAN_DEFAULT = 2
"""NaN and (near) zero follow the default direction (LightGBM ``missing_type=Zero``)."""


class UnsupportedForest(Exception):
    """The model has something xai's kernels do not implement; the message says what."""


@dataclass
class TreeNodes:
    """One tree as parallel per-node lists in any order, children as indices (``-1`` = none).

    Either built node by node with :meth:`add`, or with whole columns at once (lists or arrays;
    ``categories`` may then be left empty when no node has any).
    """

    left: Any = field(default_factory=list)
    right: Any = field(default_factory=list)
    feature: Any = field(default_factory=list)
    threshold: Any = field(default_factory=list)
    rule: Any = field(default_factory=list)
    missing: Any = field(default_factory=list)
    default_left: Any = field(default_factory=list)
    categories: list[tuple[float, ...]] = field(default_factory=list)
    value: Any = field(default_factory=list)
    cover: Any = field(default_factory=list)

    def add(
        self,
        *,
        left: int = -1,
        right: int = -1,
        feature: int = -1,
        threshold: float = 0.0,
        rule: int = LESS,
        missing: int = NAN_DEFAULT,
        default_left: bool = True,
        categories: tuple[float, ...] = (),
        value: float = 0.0,
        cover: float = 0.0,
    ) -> int:
        """Append a node and return its index."""
        self.left.append(left)
        self.right.append(right)
        self.feature.append(feature)
        self.threshold.append(threshold)
        self.rule.append(rule)
        self.missing.append(missing)
        self.default_left.append(default_left)
        self.categories.append(categories)
        self.value.append(value)
        self.cover.append(cover)
        return len(self.left) - 1


@dataclass(frozen=True)
class Forest:
    """All trees of a model, nodes concatenated tree by tree, each tree in pre-order.

    ``tree_offsets[t]:tree_offsets[t+1]`` are tree ``t``'s nodes, its root first; ``left`` and
    ``right`` are indices local to the tree (``-1`` for a leaf) and always point forward, so one
    pass in storage order visits parents before children. ``tree_output[t]`` is the raw output
    (class) the tree adds to. Leaf ``value`` already includes learning-rate and averaging
    factors; the model's constant offset is not stored (the explainers take it from the model).
    """

    n_features: int
    n_outputs: int
    tree_offsets: np.ndarray
    tree_output: np.ndarray
    left: np.ndarray
    right: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    rule: np.ndarray
    missing: np.ndarray
    default_left: np.ndarray
    cat_offsets: np.ndarray
    cat_values: np.ndarray
    value: np.ndarray
    cover: np.ndarray

    @property
    def n_trees(self) -> int:
        return len(self.tree_output)

    @property
    def n_nodes(self) -> int:
        return len(self.left)


@njit(cache=True)
def _preorder(left: np.ndarray, right: np.ndarray, root: int) -> np.ndarray:
    """Node indices in pre-order from ``root`` (iterative, so deep trees cannot overflow)."""
    order = np.empty(len(left), dtype=np.int64)
    stack = np.empty(len(left) + 1, dtype=np.int64)
    stack[0] = root
    top, count = 1, 0
    while top > 0:
        top -= 1
        node = stack[top]
        order[count] = node
        count += 1
        if left[node] >= 0:
            stack[top] = right[node]
            stack[top + 1] = left[node]
            top += 2
    return order[:count]


def build_forest(
    trees: list[tuple[TreeNodes, int, int]], n_features: int, n_outputs: int
) -> Forest:
    """Concatenate ``(tree, root index, output)`` triples into a :class:`Forest`.

    Raises :class:`UnsupportedForest` when a split node lacks a child or a cover is not positive,
    which would make the path-dependent conditional expectation undefined.
    """
    parts: dict[str, list[np.ndarray]] = {k: [] for k in _COLUMNS}
    offsets, outputs, cat_sizes, cat_values = [0], [], [], []
    for tree, root, output in trees:
        left = np.asarray(tree.left, dtype=np.int64)
        right = np.asarray(tree.right, dtype=np.int64)
        order = _preorder(left, right, root)
        local = np.full(len(left), -1, dtype=np.int64)
        local[order] = np.arange(len(order))
        split = left[order] >= 0
        if (right[order][split] < 0).any():
            raise UnsupportedForest("a split node has no right child")
        cover = np.asarray(tree.cover, dtype=np.float64)[order]
        if not (cover[split] > 0).all():
            raise UnsupportedForest("a split node has no training cover")
        parts["left"].append(np.where(split, local[np.maximum(left[order], 0)], -1))
        parts["right"].append(np.where(split, local[np.maximum(right[order], 0)], -1))
        for key, dtype in _COLUMNS.items():
            if key not in ("left", "right"):
                parts[key].append(np.asarray(getattr(tree, key), dtype=dtype)[order])
        parts["value"][-1] = np.where(split, 0.0, parts["value"][-1])
        if any(tree.categories):
            for node in order.tolist():
                cats = sorted(tree.categories[node])
                cat_sizes.append(len(cats))
                cat_values.extend(cats)
        else:  # no categorical split: no per-node Python loop (deep forests have 10^5+ nodes)
            cat_sizes.extend([0] * len(order))
        offsets.append(offsets[-1] + len(order))
        outputs.append(output)
    if not outputs:
        raise UnsupportedForest("the model has no trees")
    cat_offsets = np.zeros(len(cat_sizes) + 1, dtype=np.int64)
    cat_offsets[1:] = np.cumsum(cat_sizes)
    columns = {k: np.concatenate(v).astype(_COLUMNS[k]) for k, v in parts.items()}
    return Forest(
        n_features=n_features,
        n_outputs=n_outputs,
        tree_offsets=np.asarray(offsets, dtype=np.int64),
        tree_output=np.asarray(outputs, dtype=np.int64),
        cat_offsets=cat_offsets,
        cat_values=np.asarray(cat_values, dtype=np.float64),
        **columns,
    )


_COLUMNS: dict[str, type] = {
    "left": np.int64,
    "right": np.int64,
    "feature": np.int64,
    "threshold": np.float64,
    "rule": np.int8,
    "missing": np.int8,
    "default_left": np.bool_,
    "value": np.float64,
    "cover": np.float64,
}
