"""Exact interventional TreeSHAP for trees of any depth: one walk per (row, background row) pair.

The per-leaf tables of :mod:`xai_cli.methods.tables.kernels` hold ``2**d`` patterns per leaf
(``d`` distinct features on its path), which no longer fit past depth ~8. This kernel needs no
tables: it is the "Independent Tree SHAP" of Lundberg et al. (2020, shap's ``tree_shap_indep``;
analysed by Laberge & Pequignot 2022). For a row ``x``, a background row ``z`` and one tree, the
value function ``v(S) = f(x_S, z_~S)`` is a sum over the leaves that hybrid points reach. Walk
from the root: where ``x`` and ``z`` go the same way, follow it; where they differ on feature
``f``, follow ``x``'s side if ``f`` is already an *x feature* (``f`` in ``S``), ``z``'s if it is a
*z feature*, and otherwise both, adding ``f`` to the x features on ``x``'s side and to the z
features on ``z``'s side. A leaf of value ``v`` reached with ``a`` x features and ``b`` z features
counts only when all x features are in ``S`` and no z feature is, so its Shapley value is
``+v (a-1)! b! / (a+b)!`` for each x feature and ``-v a! (b-1)! / (a+b)!`` for each z feature.
Averaged over the background, these are exactly shap's interventional values.

The cost per row is the number of nodes the walks visit (``background x trees x`` the leaves that
hybrids of the pair reach, which grows with the features on which the pair differs, not with the
tree's depth as such), with no per-model build. Speed comes from:

* each background row's direction at every node of a tree is computed once per tree (bit-packed,
  so a tree's directions stay in cache while every row walks it), and each row's once per tree;
* identical background rows are merged once, with a weight;
* x and z feature sets are bitmasks over the path's distinct features (slot numbers computed once
  per model), so the walk is a loop with an explicit stack, no recursion and no set operations.

Routing reuses :func:`xai_cli.methods.tables.kernels._goes_left` (float32 inputs come encoded by
the parser, LightGBM's zero rule, missing values, categorical sets). Every row is summed in the
same order (trees in model order, background rows in sample order), so numbers do not depend on
the thread count or on the slice a row is in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from xai_cli import progress
from xai_cli.methods.tables.kernels import Arr, _goes_left
from xai_cli.model.forest import Forest, UnsupportedForest

MAX_SLOTS = 64
"""Most distinct features on one root-to-leaf path (the walk's feature sets are 64-bit masks)."""
TREES_PER_CALL = 64
"""Trees whose background directions are built and walked per kernel call."""
BLOCK_ROWS = 8
"""Rows per parallel work item: they walk one tree at a time while its directions are in cache."""


@njit(cache=True)
def path_slots(
    tree_offsets: Arr, left: Arr, right: Arr, feature: Arr
) -> tuple[Arr, Arr, Arr, int]:
    """Per internal node the slot (bit) of its feature among the distinct features of its root
    path; per leaf the features of those slots (``leaf_feats[leaf_off[i] + s]``).

    Returns ``(slot, leaf_off, leaf_feats, most)``; ``most`` is the largest number of distinct
    features on one path (``leaf_feats`` is only filled when it is at most :data:`MAX_SLOTS`).
    Memory is linear in the nodes: a node's path is read through parent links, never stored.
    """
    n = len(left)
    slot = np.full(n, -1, dtype=np.int64)
    n_distinct = np.zeros(n, dtype=np.int64)
    parent = np.full(n, -1, dtype=np.int64)
    most = 0
    for t in range(len(tree_offsets) - 1):
        o = tree_offsets[t]
        for i in range(o, tree_offsets[t + 1]):  # storage order: parents before children
            if left[i] < 0:
                continue
            parent[o + left[i]] = i
            parent[o + right[i]] = i
            s = n_distinct[i]
            g = parent[i]
            while g >= 0:
                if feature[g] == feature[i]:
                    s = slot[g]
                    break
                g = parent[g]
            slot[i] = s
            below = n_distinct[i] + (1 if s == n_distinct[i] else 0)
            most = max(most, below)
            n_distinct[o + left[i]] = below
            n_distinct[o + right[i]] = below
    leaf_off = np.zeros(n + 1, dtype=np.int64)
    for i in range(n):
        leaf_off[i + 1] = leaf_off[i] + (min(n_distinct[i], MAX_SLOTS) if left[i] < 0 else 0)
    leaf_feats = np.full(leaf_off[n], -1, dtype=np.int64)
    if most > MAX_SLOTS:
        return slot, leaf_off, leaf_feats, most
    for i in range(n):
        if left[i] >= 0:
            continue
        g = parent[i]
        while g >= 0:
            leaf_feats[leaf_off[i] + slot[g]] = feature[g]
            g = parent[g]
    return slot, leaf_off, leaf_feats, most


def shapley_weights(most: int) -> tuple[np.ndarray, np.ndarray]:
    """``pos[a, b] = (a-1)! b! / (a+b)!`` and ``neg[a, b] = a! (b-1)! / (a+b)!`` for
    ``a, b <= most`` (zero where undefined), by products of ratios (no factorial overflow)."""
    size = max(1, most) + 1
    pos = np.zeros((size, size))
    neg = np.zeros((size, size))
    for a in range(size):
        for b in range(size):
            if a + b == 0:
                continue
            # a! b! / (a+b)! = 1 / C(a+b, a), built as a product of ratios
            inv = 1.0
            for k in range(1, min(a, b) + 1):
                inv *= k / (max(a, b) + k)
            if a > 0:
                pos[a, b] = inv / a
            if b > 0:
                neg[a, b] = inv / b
    return pos, neg


def unique_background(background: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct background rows (NaNs equal to NaNs) in first-seen order, and their shares."""
    n = len(background)
    if n == 0:
        raise ValueError("the background sample is empty")
    keys = np.ascontiguousarray(np.nan_to_num(background, nan=np.inf, posinf=np.inf))
    # inf stands for NaN: distinguish a real +inf by a flag column
    flags = np.isnan(background).astype(np.float64)
    keyed = np.ascontiguousarray(np.hstack([keys, flags]))
    _, first, counts = np.unique(keyed, axis=0, return_index=True, return_counts=True)
    order = np.argsort(first, kind="stable")
    rows = np.ascontiguousarray(background[first[order]], dtype=np.float64)
    return rows, counts[order].astype(np.float64) / n


@njit(cache=True, inline="always")
def _walk(
    zbits: Arr,
    zbase: int,
    xgo: Arr,
    o: int,
    left: Arr,
    right: Arr,
    slot: Arr,
    stack_node: Arr,
    stack_a: Arr,
    stack_b: Arr,
    value: Arr,
    leaf_off: Arr,
    leaf_feats: Arr,
    pos: Arr,
    neg: Arr,
    share: float,
    phi: Arr,
    k_out: int,
) -> int:
    """One (row, background row) walk of one tree, adding to ``phi`` (features x outputs);
    returns the nodes visited (what the cost model counts)."""
    sp = 1
    stack_node[0] = 0
    stack_a[0] = np.uint64(0)
    stack_b[0] = np.uint64(0)
    visited = 0
    while sp > 0:
        sp -= 1
        i = stack_node[sp]
        am = stack_a[sp]
        bm = stack_b[sp]
        while left[o + i] >= 0:
            visited += 1
            zl = (zbits[zbase + (i >> 6)] >> np.uint64(i & 63)) & np.uint64(1)
            xl = xgo[i]
            if xl == zl:
                i = left[o + i] if xl else right[o + i]
                continue
            bit = np.uint64(1) << np.uint64(slot[o + i])
            if am & bit:
                i = left[o + i] if xl else right[o + i]
            elif bm & bit:
                i = left[o + i] if zl else right[o + i]
            else:  # both: z's side waits on the stack with f a z feature
                stack_node[sp] = left[o + i] if zl else right[o + i]
                stack_a[sp] = am
                stack_b[sp] = bm | bit
                sp += 1
                i = left[o + i] if xl else right[o + i]
                am = am | bit
        visited += 1
        if am == 0 and bm == 0:
            continue
        g = o + i
        a = 0
        b = 0
        m = am
        while m:
            a += 1
            m &= m - np.uint64(1)
        m = bm
        while m:
            b += 1
            m &= m - np.uint64(1)
        v = value[g] * share
        up = v * pos[a, b]
        down = v * neg[a, b]
        base = leaf_off[g]
        m = am | bm
        s = 0
        while m:
            if m & np.uint64(1):
                f = leaf_feats[base + s]
                if (am >> np.uint64(s)) & np.uint64(1):
                    phi[f, k_out] += up
                else:
                    phi[f, k_out] -= down
            m >>= np.uint64(1)
            s += 1
    return visited


@njit(parallel=True, cache=True)
def _explain_trees(
    X: Arr,
    Z: Arr,
    z_share: Arr,
    t_lo: int,
    t_hi: int,
    tree_offsets: Arr,
    tree_output: Arr,
    left: Arr,
    right: Arr,
    feature: Arr,
    threshold: Arr,
    rule: Arr,
    missing: Arr,
    default_left: Arr,
    cat_offsets: Arr,
    cat_values: Arr,
    value: Arr,
    slot: Arr,
    leaf_off: Arr,
    leaf_feats: Arr,
    pos: Arr,
    neg: Arr,
    depth_bound: int,
    block_rows: int,
    out: Arr,
    visits: Arr,
) -> None:
    """Add trees ``t_lo:t_hi``'s interventional SHAP values of every row of ``X`` to ``out``
    (weighted by ``z_share``), and the nodes its walks visit to ``visits``.

    Two parallel regions per call (a busy machine makes each wake-up of numba's threads cost
    milliseconds): the background's direction bits for all the trees, then blocks of
    ``block_rows`` rows, each block walking one tree at a time so that tree's bits stay in cache
    for all its rows.
    """
    n_rows = X.shape[0]
    n_z = Z.shape[0]
    n_t = t_hi - t_lo
    words = np.empty(n_t, dtype=np.int64)
    base = np.zeros(n_t + 1, dtype=np.int64)
    widest = 1
    for k in range(n_t):
        size = tree_offsets[t_lo + k + 1] - tree_offsets[t_lo + k]
        words[k] = (size + 63) // 64
        base[k + 1] = base[k] + n_z * words[k]
        widest = max(widest, size)
    zbits = np.zeros(base[n_t], dtype=np.uint64)
    for z in prange(n_z):
        for k in range(n_t):
            o = tree_offsets[t_lo + k]
            at = base[k] + z * words[k]
            for i in range(o, tree_offsets[t_lo + k + 1]):
                if left[i] >= 0 and _goes_left(
                    Z[z, feature[i]], i, threshold, rule, missing, default_left, cat_offsets,
                    cat_values,
                ):
                    zbits[at + ((i - o) >> 6)] |= np.uint64(1) << np.uint64((i - o) & 63)
    n_blocks = (n_rows + block_rows - 1) // block_rows
    for blk in prange(n_blocks):
        xgo = np.zeros(widest, dtype=np.uint64)
        stack_node = np.empty(depth_bound, dtype=np.int64)
        stack_a = np.empty(depth_bound, dtype=np.uint64)
        stack_b = np.empty(depth_bound, dtype=np.uint64)
        for k in range(n_t):
            t = t_lo + k
            o = tree_offsets[t]
            e = tree_offsets[t + 1]
            k_out = tree_output[t]
            for r in range(blk * block_rows, min(n_rows, (blk + 1) * block_rows)):
                for i in range(o, e):
                    go = left[i] >= 0 and _goes_left(
                        X[r, feature[i]], i, threshold, rule, missing, default_left,
                        cat_offsets, cat_values,
                    )
                    xgo[i - o] = np.uint64(1) if go else np.uint64(0)
                phi = out[r]
                seen = 0
                for zi in range(n_z):
                    seen += _walk(zbits, base[k] + zi * words[k], xgo, o, left, right, slot,
                                  stack_node, stack_a, stack_b, value, leaf_off, leaf_feats, pos,
                                  neg, z_share[zi], phi, k_out)
                visits[r] += seen


@dataclass(frozen=True)
class PairwiseModel:
    """A parsed forest with what the pairwise walk needs: feature slots and Shapley weights."""

    forest: Forest
    slot: np.ndarray
    leaf_off: np.ndarray
    leaf_feats: np.ndarray
    most: int
    pos: np.ndarray
    neg: np.ndarray

    def _trees(self) -> tuple[np.ndarray, ...]:
        f = self.forest
        return (f.tree_offsets, f.tree_output, f.left, f.right, f.feature, f.threshold, f.rule,
                f.missing, f.default_left, f.cat_offsets, f.cat_values, f.value)


def compile_forest(forest: Forest) -> PairwiseModel:
    """Slots and weights for ``forest``; raises :class:`UnsupportedForest` when a path tests more
    than :data:`MAX_SLOTS` distinct features."""
    slot, leaf_off, leaf_feats, most = path_slots(
        forest.tree_offsets, forest.left, forest.right, forest.feature
    )
    if most > MAX_SLOTS:
        raise UnsupportedForest(
            f"a path tests {most} distinct features (the pairwise walk handles {MAX_SLOTS})"
        )
    pos, neg = shapley_weights(most)
    return PairwiseModel(forest, slot, leaf_off, leaf_feats, int(most), pos, neg)


def explain(model: PairwiseModel, matrix: np.ndarray, background: np.ndarray) -> np.ndarray:
    """Interventional SHAP values (rows x features x outputs) of the encoded rows against the
    encoded background, on numba's current thread count.

    The trees go to the kernel :data:`TREES_PER_CALL` at a time, so a run that watches progress
    hears about it; every row's sum runs in the same order either way.
    """
    Z, share = unique_background(np.asarray(background, dtype=np.float64))
    return _run(model, matrix, Z, share, report=True)[0]


def _run(
    model: PairwiseModel, matrix: np.ndarray, Z: np.ndarray, share: np.ndarray, report: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Values and visited nodes per row (see :func:`explain`)."""
    f = model.forest
    X = np.ascontiguousarray(matrix, dtype=np.float64)
    out = np.zeros((len(X), X.shape[1], f.n_outputs), dtype=np.float64)
    visits = np.zeros(len(X), dtype=np.int64)
    if len(X) == 0:
        return out, visits
    (offsets, output, left, right, feature, threshold, rule, missing, default_left, cat_off,
     cat_val, value) = model._trees()
    for lo in range(0, f.n_trees, TREES_PER_CALL):
        hi = min(f.n_trees, lo + TREES_PER_CALL)
        _explain_trees(
            X, np.ascontiguousarray(Z, dtype=np.float64), share, lo, hi, offsets, output, left,
            right, feature, threshold, rule, missing, default_left, cat_off, cat_val, value,
            model.slot, model.leaf_off, model.leaf_feats, model.pos, model.neg, model.most + 2,
            BLOCK_ROWS, out, visits,
        )
        if report and progress.reporting() and f.n_trees > TREES_PER_CALL:
            progress.advance(hi, f.n_trees, "trees")
    return out, visits


def visits_per_row(model: PairwiseModel, matrix: np.ndarray, background: np.ndarray) -> float:
    """Mean nodes visited per row of ``matrix`` by its walks against every row of
    ``background``, summed over trees (what the pairwise engine's time is proportional to)."""
    Z = np.ascontiguousarray(background, dtype=np.float64)
    share = np.full(len(Z), 1.0 / max(1, len(Z)))
    visits = _run(model, matrix, Z, share, report=False)[1]
    return float(visits.mean()) if len(visits) else 0.0
