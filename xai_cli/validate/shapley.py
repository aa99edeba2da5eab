"""Exact Shapley values by brute force, independent of every TreeSHAP kernel, for spot checks.

Two games, each enumerated coalition by coalition (no shortcut shared with the methods checked):

* **Path-dependent** (what ``treeshap`` computes): a tree's value of coalition ``S`` follows the
  row at a split on a feature in ``S`` and averages both children by their training cover
  otherwise (Lundberg et al. 2018, Algorithm 1 "EXPVALUE"). A forest's game is the sum of its
  trees' games, and the Shapley value is linear in the game, so the forest's exact values are the
  sum of each tree's exact values over the features *that tree* tests: exact at any number of
  features, as long as no single tree tests more than :data:`MAX_TREE_FEATURES`.
* **Interventional** (``treeshap.interventional`` and the model-agnostic Shapley methods): the
  value of ``S`` is the mean model output over a background set with the row's values on ``S``;
  computed from the model's own predictions on ``2^p x |background|`` rows. With more than ``p``
  features, the check builds a background whose other features equal the row's: those features
  are then dummies of the game (exact value 0) and the ``p`` enumerated ones are exact.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from xai_cli.model.forest import Forest

MAX_TREE_FEATURES = 16
"""Most distinct features one tree may test for the per-tree enumeration (2^16 coalitions)."""


def shapley_weights(players: int) -> np.ndarray:
    """``w[s] = s! (p - s - 1)! / p!`` for coalition sizes ``s = 0..p-1``."""
    p = players
    return np.array(
        [math.factorial(s) * math.factorial(p - s - 1) / math.factorial(p) for s in range(p)]
    )


def from_game(values: np.ndarray) -> np.ndarray:
    """Shapley values from a game's values on every coalition (``values[mask]``, bit ``i`` =
    player ``i``; trailing axes are outputs): ``(players, ...)``."""
    n = values.shape[0]
    p = n.bit_length() - 1
    masks = np.arange(n)
    sizes = np.array([bin(m).count("1") for m in masks])
    w = shapley_weights(p) if p else np.zeros(0)
    out = np.zeros((p, *values.shape[1:]))
    for i in range(p):
        without = masks[(masks >> i) & 1 == 0]
        gain = values[without | (1 << i)] - values[without]
        out[i] = np.tensordot(w[sizes[without]], gain, axes=(0, 0))
    return out


def _goes_left(forest: Forest, row: np.ndarray) -> np.ndarray:
    """For every node of the forest, whether ``row`` goes to its left child (rules as
    :mod:`xai_cli.model.forest` defines them)."""
    f = forest
    x = row[np.maximum(f.feature, 0)].astype(float)
    nan = np.isnan(x)
    as_zero = nan & (f.missing == 1)
    x = np.where(as_zero, 0.0, x)
    nan = nan & ~as_zero
    out = np.where(f.rule == 0, x < f.threshold, x <= f.threshold)
    zero_default = (f.missing == 2) & (np.abs(x) <= 1e-35)
    out = np.where(nan | zero_default, f.default_left, out)
    for g in np.flatnonzero(f.rule >= 2):
        if np.isnan(x[g]):
            out[g] = f.default_left[g]
            continue
        cats = f.cat_values[f.cat_offsets[g] : f.cat_offsets[g + 1]]
        found = bool((cats == x[g]).any())
        out[g] = found if f.rule[g] == 2 else not found
    return out


def tree_features(forest: Forest, t: int) -> np.ndarray:
    """The distinct features tree ``t`` splits on."""
    o, e = forest.tree_offsets[t], forest.tree_offsets[t + 1]
    split = forest.left[o:e] >= 0
    return np.unique(forest.feature[o:e][split])


def widest_tree(forest: Forest) -> int:
    """The most distinct features any one tree tests."""
    return max((len(tree_features(forest, t)) for t in range(forest.n_trees)), default=0)


def path_dependent_exact(forest: Forest, row: np.ndarray) -> np.ndarray:
    """Exact path-dependent Shapley values of one encoded row: ``(features, outputs)``, without
    the model's constant. Raises ``ValueError`` when a tree tests too many features."""
    out = np.zeros((forest.n_features, forest.n_outputs))
    left_of = _goes_left(forest, row)
    for t in range(forest.n_trees):
        feats = tree_features(forest, t)
        p = len(feats)
        if p > MAX_TREE_FEATURES:
            raise ValueError(f"tree {t} tests {p} features (limit {MAX_TREE_FEATURES})")
        o, e = forest.tree_offsets[t], forest.tree_offsets[t + 1]
        if p == 0:
            continue  # a single leaf: a constant, no feature gets anything
        local = {int(f): i for i, f in enumerate(feats)}
        masks = np.arange(1 << p)
        values: list[np.ndarray | None] = [None] * (e - o)
        for i in range(e - o - 1, -1, -1):  # children are stored after their parents
            g = o + i
            if forest.left[g] < 0:
                values[i] = np.full(1 << p, forest.value[g])
                continue
            lo, ro = int(forest.left[g]), int(forest.right[g])
            vl, vr = values[lo], values[ro]
            cl, cr, cn = forest.cover[o + lo], forest.cover[o + ro], forest.cover[g]
            known = (masks >> local[int(forest.feature[g])]) & 1 == 1
            follow = vl if left_of[g] else vr
            values[i] = np.where(known, follow, (cl * vl + cr * vr) / cn)
            values[lo] = values[ro] = None  # free memory as the walk goes up
        phi = from_game(values[0])
        out[feats, forest.tree_output[t]] += phi
    return out


Predict = Callable[[pd.DataFrame], np.ndarray]


def interventional_exact(
    predict: Predict, row: pd.DataFrame, background: pd.DataFrame, players: Sequence[int]
) -> np.ndarray:
    """Exact interventional Shapley values of the ``players`` (column positions) for one row
    (a one-row frame): ``(len(players), outputs)``. Every other column keeps the background's
    values, so pass a background whose other columns equal the row's to make them dummies."""
    p = len(players)
    n_b = len(background)
    masks = np.repeat(np.arange(1 << p), n_b)
    frame = pd.concat([background] * (1 << p), ignore_index=True)
    for i, col in enumerate(players):
        on = (masks >> i) & 1 == 1
        name = frame.columns[col]
        frame.loc[on, name] = row.iloc[0, col]
    raw = np.asarray(predict(frame), dtype=float).reshape(len(frame), -1)
    game = raw.reshape(1 << p, n_b, -1).mean(axis=1)
    return from_game(game)
