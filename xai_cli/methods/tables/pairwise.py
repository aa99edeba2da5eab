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
  so a tree's directions stay in cache while a block of rows walks it); a row is routed only at
  the nodes its walks reach;
* a row's walks against the whole background run as one depth-first pass per tree
  (:func:`_tree_walks`): the background rows alive at a node share its z features, so the node
  splits one list of (background row, x features) into its children's, a streaming loop instead
  of a pointer chase per walk (the same visits, ~20% less CPU per visit than separate walks);
* identical background rows are merged once, with a weight;
* x and z feature sets are bitmasks over the path's distinct features (slot numbers computed once
  per model): no recursion, no set operations.

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
DIRECTION_WORDS = 1 << 22
"""Most 64-bit words of background direction bits held per kernel call (32 MiB): fewer trees per
call for very large trees or backgrounds."""
BLOCK_ROWS = 8
"""Rows per parallel work item: they walk one tree at a time while its directions are in cache."""


@njit(cache=True)
def path_slots(
    tree_offsets: Arr, left: Arr, right: Arr, feature: Arr
) -> tuple[Arr, Arr, Arr, int, int]:
    """Per internal node the slot (bit) of its feature among the distinct features of its root
    path; per leaf the features of those slots (``leaf_feats[leaf_off[i] + s]``).

    Returns ``(slot, leaf_off, leaf_feats, most, deepest)``; ``most`` is the largest number of
    distinct features on one path (``leaf_feats`` is only filled when it is at most
    :data:`MAX_SLOTS`), ``deepest`` the largest depth of a node. Memory is linear in the
    nodes: a node's path is read through parent links, never stored.
    """
    n = len(left)
    slot = np.full(n, -1, dtype=np.int64)
    n_distinct = np.zeros(n, dtype=np.int64)
    parent = np.full(n, -1, dtype=np.int64)
    depth = np.zeros(n, dtype=np.int64)
    most = 0
    deepest = 0
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
            depth[o + left[i]] = depth[i] + 1
            depth[o + right[i]] = depth[i] + 1
            deepest = max(deepest, depth[i] + 1)
    leaf_off = np.zeros(n + 1, dtype=np.int64)
    for i in range(n):
        leaf_off[i + 1] = leaf_off[i] + (min(n_distinct[i], MAX_SLOTS) if left[i] < 0 else 0)
    leaf_feats = np.full(leaf_off[n], -1, dtype=np.int64)
    if most > MAX_SLOTS:
        return slot, leaf_off, leaf_feats, most, deepest
    for i in range(n):
        if left[i] >= 0:
            continue
        g = parent[i]
        while g >= 0:
            leaf_feats[leaf_off[i] + slot[g]] = feature[g]
            g = parent[g]
    return slot, leaf_off, leaf_feats, most, deepest


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
def _popcount(m: np.uint64) -> int:
    """Set bits of ``m``."""
    n = 0
    while m:
        m &= m - np.uint64(1)
        n += 1
    return n


@njit(cache=True)
def _leaf(
    g: int,
    n: int,
    lv: int,
    sd: int,
    bm: np.uint64,
    buf_z: Arr,
    buf_a: Arr,
    z_share: Arr,
    value: Arr,
    leaf_off: Arr,
    leaf_feats: Arr,
    pos: Arr,
    neg: Arr,
    acc: Arr,
    phi: Arr,
    k_out: int,
) -> None:
    """Shapley values of leaf ``g`` reached by the ``n`` walks listed at ``buf[lv, sd]``: each
    walk's x features get ``+v pos[a, b]``, the shared z features ``-v neg[a, b]`` each."""
    b = _popcount(bm)
    v = value[g]
    down = 0.0
    touched = np.uint64(0)
    for q in range(n):
        am = buf_a[lv, sd, q]
        if am == 0 and b == 0:
            continue
        a = _popcount(am)
        w = v * z_share[buf_z[lv, sd, q]]
        down += w * neg[a, b]
        if am:
            up = w * pos[a, b]
            touched |= am
            m = am
            s = 0
            while m:
                if m & np.uint64(1):
                    acc[s] += up
                m >>= np.uint64(1)
                s += 1
    base = leaf_off[g]
    m = bm
    s = 0
    while m:
        if m & np.uint64(1):
            phi[leaf_feats[base + s], k_out] -= down
        m >>= np.uint64(1)
        s += 1
    m = touched
    s = 0
    while m:
        if m & np.uint64(1):
            phi[leaf_feats[base + s], k_out] += acc[s]
            acc[s] = 0.0
        m >>= np.uint64(1)
        s += 1


@njit(cache=True)
def _tree_walks(
    o: int,
    x: Arr,
    feature: Arr,
    threshold: Arr,
    rule: Arr,
    missing: Arr,
    default_left: Arr,
    cat_offsets: Arr,
    cat_values: Arr,
    zbits: Arr,
    zb: int,
    zw: int,
    n_z: int,
    z_share: Arr,
    left: Arr,
    right: Arr,
    slot: Arr,
    value: Arr,
    leaf_off: Arr,
    leaf_feats: Arr,
    pos: Arr,
    neg: Arr,
    phi: Arr,
    k_out: int,
    buf_z: Arr,
    buf_a: Arr,
    count: Arr,
    st_node: Arr,
    st_level: Arr,
    st_side: Arr,
    st_b: Arr,
    acc: Arr,
) -> int:
    """All of one row's walks against the background in one tree, as one depth-first pass;
    returns the (node, background row) visits.

    Every background row alive at a node shares the node's z features (where the path leaves the
    row's way, the background row must take it), so a node holds a list of (background row, its
    x features) that splits into its children's lists in one loop: the visits of separate walks,
    but a streaming loop instead of a pointer chase per walk. Lists live in ``buf_*[level,
    side]`` (side 0: the row's child, 1: the other); a pending child keeps its list intact
    because the row's subtree only writes deeper levels. Background row ``z``'s direction at
    local node ``i`` is bit ``z`` of ``zbits[zb + i * zw:]``.
    """
    for q in range(n_z):
        buf_z[0, 0, q] = q
        buf_a[0, 0, q] = np.uint64(0)
    count[0, 0] = n_z
    sp = 1
    st_node[0] = 0
    st_level[0] = 0
    st_side[0] = 0
    st_b[0] = np.uint64(0)
    visited = 0
    while sp > 0:
        sp -= 1
        i = st_node[sp]
        lv = st_level[sp]
        sd = st_side[sp]
        bm = st_b[sp]
        while True:
            n = count[lv, sd]
            visited += n
            g = o + i
            if left[g] < 0:
                _leaf(g, n, lv, sd, bm, buf_z, buf_a, z_share, value, leaf_off, leaf_feats, pos,
                      neg, acc, phi, k_out)
                break
            bit = np.uint64(1) << np.uint64(slot[g])
            # the row's own direction, only at the nodes the walks reach
            xd = np.uint64(1) if _goes_left(x[feature[g]], g, threshold, rule, missing,
                                            default_left, cat_offsets, cat_values) else np.uint64(0)
            free = (bm & bit) == 0  # not a z feature: a differing walk may go the row's way
            row = zb + i * zw
            nx = 0
            nz = 0
            for q in range(n):
                z = buf_z[lv, sd, q]
                am = buf_a[lv, sd, q]
                zd = (zbits[row + (z >> 6)] >> np.uint64(z & 63)) & np.uint64(1)
                differ = zd != xd
                buf_z[lv + 1, 0, nx] = z
                buf_a[lv + 1, 0, nx] = (am | bit) if differ else am
                nx += 1 if (free or not differ) else 0
                buf_z[lv + 1, 1, nz] = z
                buf_a[lv + 1, 1, nz] = am
                nz += 1 if (differ and (am & bit) == 0) else 0
            count[lv + 1, 0] = nx
            count[lv + 1, 1] = nz
            x_child = left[g] if xd else right[g]
            if nz > 0:
                st_node[sp] = right[g] if xd else left[g]
                st_level[sp] = lv + 1
                st_side[sp] = 1
                st_b[sp] = bm | bit
                sp += 1
            if nx == 0:
                break
            i = x_child
            lv += 1
            sd = 0
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
    levels: int,
    block_rows: int,
    out: Arr,
    visits: Arr,
) -> None:
    """Add trees ``t_lo:t_hi``'s interventional SHAP values of every row of ``X`` to ``out``
    (weighted by ``z_share``), and the (node, background row) visits of its walks to ``visits``.

    Two parallel regions per call (on a busy machine each wake-up of numba's threads costs
    milliseconds): the background's direction bits for the trees, then blocks of
    ``block_rows`` rows, each block walking one tree at a time so its bits stay in cache.
    ``levels`` bounds the depth of every tree plus one.
    """
    n_rows = X.shape[0]
    n_z = Z.shape[0]
    n_t = t_hi - t_lo
    zw = (n_z + 63) // 64
    start = tree_offsets[t_lo]
    zbits = np.zeros((tree_offsets[t_hi] - start) * zw, dtype=np.uint64)
    for k in prange(n_t):  # by tree: no two threads write the same word
        for i in range(tree_offsets[t_lo + k], tree_offsets[t_lo + k + 1]):
            if left[i] < 0:
                continue
            row = (i - start) * zw
            for z in range(n_z):
                if _goes_left(Z[z, feature[i]], i, threshold, rule, missing, default_left,
                              cat_offsets, cat_values):
                    zbits[row + (z >> 6)] |= np.uint64(1) << np.uint64(z & 63)
    n_blocks = (n_rows + block_rows - 1) // block_rows
    for blk in prange(n_blocks):
        buf_z = np.empty((levels + 1, 2, n_z), dtype=np.int64)
        buf_a = np.empty((levels + 1, 2, n_z), dtype=np.uint64)
        count = np.zeros((levels + 1, 2), dtype=np.int64)
        st_node = np.empty(levels + 1, dtype=np.int64)
        st_level = np.empty(levels + 1, dtype=np.int64)
        st_side = np.empty(levels + 1, dtype=np.int64)
        st_b = np.empty(levels + 1, dtype=np.uint64)
        acc = np.zeros(MAX_SLOTS, dtype=np.float64)
        for k in range(n_t):
            t = t_lo + k
            o = tree_offsets[t]
            for r in range(blk * block_rows, min(n_rows, (blk + 1) * block_rows)):
                visits[r] += _tree_walks(
                    o, X[r], feature, threshold, rule, missing, default_left, cat_offsets,
                    cat_values, zbits, (o - start) * zw, zw, n_z, z_share, left, right, slot,
                    value, leaf_off, leaf_feats, pos, neg, out[r], tree_output[t], buf_z, buf_a,
                    count, st_node, st_level, st_side, st_b, acc,
                )


@dataclass(frozen=True)
class PairwiseModel:
    """A parsed forest with what the pairwise walk needs: feature slots and Shapley weights."""

    forest: Forest
    slot: np.ndarray
    leaf_off: np.ndarray
    leaf_feats: np.ndarray
    most: int
    deepest: int
    pos: np.ndarray
    neg: np.ndarray

    def _trees(self) -> tuple[np.ndarray, ...]:
        f = self.forest
        return (f.tree_offsets, f.tree_output, f.left, f.right, f.feature, f.threshold, f.rule,
                f.missing, f.default_left, f.cat_offsets, f.cat_values, f.value)


def compile_forest(forest: Forest) -> PairwiseModel:
    """Slots and weights for ``forest``; raises :class:`UnsupportedForest` when a path tests more
    than :data:`MAX_SLOTS` distinct features."""
    slot, leaf_off, leaf_feats, most, deepest = path_slots(
        forest.tree_offsets, forest.left, forest.right, forest.feature
    )
    if most > MAX_SLOTS:
        raise UnsupportedForest(
            f"a path tests {most} distinct features (the pairwise walk handles {MAX_SLOTS})"
        )
    pos, neg = shapley_weights(most)
    return PairwiseModel(forest, slot, leaf_off, leaf_feats, int(most), int(deepest), pos, neg)


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
    Z = np.ascontiguousarray(Z, dtype=np.float64)
    words = (len(Z) + 63) // 64
    lo = 0
    while lo < f.n_trees:
        hi = lo + 1  # up to TREES_PER_CALL trees whose direction bits fit DIRECTION_WORDS
        while (hi < f.n_trees and hi - lo < TREES_PER_CALL
               and (offsets[hi + 1] - offsets[lo]) * words <= DIRECTION_WORDS):
            hi += 1
        _explain_trees(
            X, Z, share, lo, hi, offsets, output, left,
            right, feature, threshold, rule, missing, default_left, cat_off, cat_val, value,
            model.slot, model.leaf_off, model.leaf_feats, model.pos, model.neg, model.deepest + 1,
            BLOCK_ROWS, out, visits,
        )
        if report and progress.reporting() and f.n_trees > TREES_PER_CALL:
            progress.advance(hi, f.n_trees, "trees")
        lo = hi
    return out, visits


def visits_per_row(model: PairwiseModel, matrix: np.ndarray, background: np.ndarray) -> float:
    """Mean nodes visited per row of ``matrix`` by its walks against every row of
    ``background``, summed over trees (what the pairwise engine's time is proportional to)."""
    Z = np.ascontiguousarray(background, dtype=np.float64)
    share = np.full(len(Z), 1.0 / max(1, len(Z)))
    visits = _run(model, matrix, Z, share, report=False)[1]
    return float(visits.mean()) if len(visits) else 0.0
