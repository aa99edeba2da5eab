"""One flat, library-neutral representation of a tree ensemble, for xai's own TreeSHAP kernels.

Each library stores its trees differently (XGBoost JSON, LightGBM's dump, CatBoost's symmetric
trees, scikit-learn's ``tree_`` arrays). The parsers in :mod:`xai_cli.trees.parsers` turn all of
them into one :class:`Forest`: numpy arrays the numba kernels in :mod:`xai_cli.trees.kernels` walk,
with each node's split rule, its missing-value rule and its cover (the training weight that
reached it, which path-dependent TreeSHAP uses as the conditional distribution).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

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
    """One tree as parallel per-node lists in any order, children as indices (``-1`` = none)."""

    left: list[int] = field(default_factory=list)
    right: list[int] = field(default_factory=list)
    feature: list[int] = field(default_factory=list)
    threshold: list[float] = field(default_factory=list)
    rule: list[int] = field(default_factory=list)
    missing: list[int] = field(default_factory=list)
    default_left: list[bool] = field(default_factory=list)
    categories: list[tuple[float, ...]] = field(default_factory=list)
    value: list[float] = field(default_factory=list)
    cover: list[float] = field(default_factory=list)

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


def _preorder(tree: TreeNodes, root: int) -> list[int]:
    """Node indices in pre-order from ``root`` (iterative, so deep trees cannot overflow)."""
    order: list[int] = []
    stack = [root]
    while stack:
        node = stack.pop()
        order.append(node)
        if tree.left[node] >= 0:
            stack.append(tree.right[node])
            stack.append(tree.left[node])
    return order


def build_forest(
    trees: list[tuple[TreeNodes, int, int]], n_features: int, n_outputs: int
) -> Forest:
    """Concatenate ``(tree, root index, output)`` triples into a :class:`Forest`.

    Raises :class:`UnsupportedForest` when a split node lacks a child or a cover is not positive,
    which would make the path-dependent conditional expectation undefined.
    """
    cols: dict[str, list] = {k: [] for k in TreeNodes.__dataclass_fields__}
    offsets, outputs, cat_offsets, cat_values = [0], [], [0], []
    for tree, root, output in trees:
        order = _preorder(tree, root)
        local = {node: i for i, node in enumerate(order)}
        for node in order:
            is_split = tree.left[node] >= 0
            if is_split and tree.right[node] < 0:
                raise UnsupportedForest("a split node has no right child")
            if is_split and not tree.cover[node] > 0:
                raise UnsupportedForest("a split node has no training cover")
            cols["left"].append(local[tree.left[node]] if is_split else -1)
            cols["right"].append(local[tree.right[node]] if is_split else -1)
            for key in ("feature", "threshold", "rule", "missing", "default_left"):
                cols[key].append(getattr(tree, key)[node])
            cols["value"].append(0.0 if is_split else tree.value[node])
            cols["cover"].append(tree.cover[node])
            cats = sorted(tree.categories[node])
            cat_values.extend(cats)
            cat_offsets.append(len(cat_values))
        offsets.append(offsets[-1] + len(order))
        outputs.append(output)
    if not outputs:
        raise UnsupportedForest("the model has no trees")
    return Forest(
        n_features=n_features,
        n_outputs=n_outputs,
        tree_offsets=np.asarray(offsets, dtype=np.int64),
        tree_output=np.asarray(outputs, dtype=np.int64),
        left=np.asarray(cols["left"], dtype=np.int64),
        right=np.asarray(cols["right"], dtype=np.int64),
        feature=np.asarray(cols["feature"], dtype=np.int64),
        threshold=np.asarray(cols["threshold"], dtype=np.float64),
        rule=np.asarray(cols["rule"], dtype=np.int8),
        missing=np.asarray(cols["missing"], dtype=np.int8),
        default_left=np.asarray(cols["default_left"], dtype=np.bool_),
        cat_offsets=np.asarray(cat_offsets, dtype=np.int64),
        cat_values=np.asarray(cat_values, dtype=np.float64),
        value=np.asarray(cols["value"], dtype=np.float64),
        cover=np.asarray(cols["cover"], dtype=np.float64),
    )
