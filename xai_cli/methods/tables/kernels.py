"""numba kernels for exact TreeSHAP by per-leaf lookup tables (path-dependent and interventional).

The algorithm (the "decision pattern" idea of WOODELF, Wettenstein et al., AAAI 2026, and of
FastTreeSHAP v2, Yang 2021): a leaf whose root path tests ``d`` distinct features contributes to
each of those features a Shapley value that depends on the row only through ``d`` bits, whether
the row satisfies the path's conditions on each feature. So each leaf gets a table of
``2**d x d`` values, computed once per model, and explaining a row is one pass down each tree that
tracks those bits (the *pattern*) plus one table look-up per leaf. Path-dependent tables use the
training covers as the conditional distribution (Lundberg et al. 2020, Algorithm 2, evaluated in
closed form per pattern); interventional tables average the same closed form over the patterns a
background sample produces.

Every row is summed in the same order (trees in model order, leaves in pre-order), whatever the
number of threads or the chunk a row falls in, so results do not depend on parallelism.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

Arr = np.ndarray
"""numba kernels take and return plain numpy arrays (see each docstring for the shapes)."""

ALL_ONES = np.uint32(0xFFFFFFFF)


@njit(cache=True, inline="always")
def _goes_left(
    x: float,
    g: int,
    threshold: Arr,
    rule: Arr,
    missing: Arr,
    default_left: Arr,
    cat_offsets: Arr,
    cat_values: Arr,
) -> bool:
    """Whether value ``x`` goes to node ``g``'s left child (rules: see forest.py)."""
    r = rule[g]
    if r >= 2:
        if np.isnan(x):
            return default_left[g]
        found = False
        for i in range(cat_offsets[g], cat_offsets[g + 1]):
            if cat_values[i] == x:
                found = True
                break
        return found if r == 2 else not found
    if np.isnan(x):
        if missing[g] == 1:
            x = 0.0
        else:
            return default_left[g]
    elif missing[g] == 2 and abs(x) <= 1e-35:
        return default_left[g]
    if r == 0:
        return x < threshold[g]
    return x <= threshold[g]


@njit(cache=True)
def path_structure(
    tree_offsets: Arr,
    left: Arr,
    right: Arr,
    feature: Arr,
    cover: Arr,
    max_d: int,
) -> tuple[Arr, Arr, Arr, Arr, Arr, Arr, bool]:
    """Per node: the slot (bit) of its split feature among the distinct features on its root
    path; per leaf: ``d``, those features and their zero fractions (product of cover ratios).

    Returns ``(split_slot, node_d, leaf_d, leaf_feat_off, leaf_feats, leaf_z, ok)`` (``node_d``:
    distinct features on each node's root path); ``ok`` is False when some path tests more than
    ``max_d`` distinct features.
    """
    n = len(left)
    split_slot = np.full(n, -1, dtype=np.int64)
    node_d = np.zeros(n, dtype=np.int64)
    node_feat = np.full((n, max_d), -1, dtype=np.int64)
    node_z = np.ones((n, max_d), dtype=np.float64)
    for t in range(len(tree_offsets) - 1):
        o = tree_offsets[t]
        for i in range(o, tree_offsets[t + 1]):
            if left[i] < 0:
                continue
            d = node_d[i]
            f = feature[i]
            s = d
            for k in range(d):
                if node_feat[i, k] == f:
                    s = k
                    break
            if s == max_d:
                return split_slot, node_d, node_d, node_d, node_d, node_z[0], False
            split_slot[i] = s
            for child in (o + left[i], o + right[i]):
                for k in range(d):
                    node_feat[child, k] = node_feat[i, k]
                    node_z[child, k] = node_z[i, k]
                if s == d:
                    node_feat[child, d] = f
                    node_z[child, d] = 1.0
                    node_d[child] = d + 1
                else:
                    node_d[child] = d
                node_z[child, s] *= cover[child] / cover[i]
    leaf_d = np.where(left < 0, node_d, 0)
    leaf_feat_off = np.zeros(n + 1, dtype=np.int64)
    leaf_feat_off[1:] = np.cumsum(leaf_d)
    leaf_feats = np.empty(leaf_feat_off[n], dtype=np.int64)
    leaf_z = np.empty(leaf_feat_off[n], dtype=np.float64)
    for i in range(n):
        for k in range(leaf_d[i]):
            leaf_feats[leaf_feat_off[i] + k] = node_feat[i, k]
            leaf_z[leaf_feat_off[i] + k] = node_z[i, k]
    return split_slot, node_d, leaf_d, leaf_feat_off, leaf_feats, leaf_z, True


@njit(cache=True)
def _shapley_weights(
    d: int,
) -> Arr:
    """``w[s] = s! (d-1-s)! / d!``, the weight of a coalition of ``s`` of the other features."""
    w = np.empty(max(d, 1), dtype=np.float64)
    for s in range(d):
        binom = 1.0
        for i in range(s):
            binom = binom * (d - 1 - i) / (i + 1)
        w[s] = 1.0 / (d * binom)
    return w


@njit(parallel=True, cache=True)
def path_dependent_tables(
    leaf_d: Arr,
    leaf_feat_off: Arr,
    leaf_z: Arr,
    leaf_table_off: Arr,
    value: Arr,
) -> Arr:
    """Tables ``T[p, j] = v * (o_j - z_j) * sum_s c_s w[s]`` for every leaf and pattern ``p``,
    where ``c`` are the coefficients of ``prod_{k != j} (z_k + o_k t)`` and ``o = bits of p``."""
    n = len(leaf_d)
    table = np.zeros(leaf_table_off[n], dtype=np.float64)
    for i in prange(n):
        d = leaf_d[i]
        if d == 0:
            continue
        z = leaf_z[leaf_feat_off[i] : leaf_feat_off[i] + d]
        w = _shapley_weights(d)
        c = np.zeros(d + 1, dtype=np.float64)
        off = leaf_table_off[i]
        for p in range(1 << d):
            for j in range(d):
                c[:] = 0.0
                c[0] = 1.0
                deg = 0
                for k in range(d):
                    if k == j:
                        continue
                    ok = float((p >> k) & 1)
                    for s in range(deg + 1, 0, -1):
                        c[s] = c[s] * z[k] + c[s - 1] * ok
                    c[0] *= z[k]
                    deg += 1
                acc = 0.0
                for s in range(d):
                    acc += c[s] * w[s]
                table[off + p * d + j] = value[i] * (float((p >> j) & 1) - z[j]) * acc
    return table


@njit(parallel=True, cache=True)
def interventional_tables(
    leaf_d: Arr,
    leaf_table_off: Arr,
    hist_off: Arr,
    hist: Arr,
    value: Arr,
) -> Arr:
    """Tables averaged over a background sample: ``hist`` holds, per leaf, the share of
    background rows with each pattern ``q``. For one background row the value function of a leaf
    is ``v * prod_{k in S} p_k * prod_{k not in S} q_k``, whose Shapley value for ``j`` is
    ``v (p_j - q_j) W[a, b]`` (``a`` features with p=q=1, ``b`` with p=1, q=0, none with both 0),
    ``W[a, b] = sum_i C(a, i) w[b + i]``."""
    n = len(leaf_d)
    table = np.zeros(leaf_table_off[n], dtype=np.float64)
    for i in prange(n):
        d = leaf_d[i]
        if d == 0:
            continue
        size = 1 << d
        w = _shapley_weights(d)
        big_w = np.zeros((d, d), dtype=np.float64)
        for a in range(d):
            for b in range(d - a):
                binom = 1.0
                acc = 0.0
                for k in range(a + 1):
                    acc += binom * w[b + k]
                    binom = binom * (a - k) / (k + 1)
                big_w[a, b] = acc
        popcount = np.zeros(size, dtype=np.int64)
        for x in range(1, size):
            popcount[x] = popcount[x >> 1] + (x & 1)
        qs = np.empty(size, dtype=np.int64)
        n_q = 0
        for q in range(size):
            if hist[hist_off[i] + q] > 0.0:
                qs[n_q] = q
                n_q += 1
        full = size - 1
        off = leaf_table_off[i]
        for p in range(size):
            for qi in range(n_q):
                q = qs[qi]
                share = hist[hist_off[i] + q] * value[i]
                for j in range(d):
                    bit = 1 << j
                    pj = (p >> j) & 1
                    if pj == ((q >> j) & 1):
                        continue
                    others = full & ~bit
                    if (~p) & (~q) & others:
                        continue
                    a = popcount[p & q & others]
                    b = popcount[p & (~q) & others]
                    table[off + p * d + j] += share * (2 * pj - 1) * big_w[a, b]
    return table


@njit(cache=True, inline="always")
def tree_patterns(
    xb: Arr,
    m: int,
    o: int,
    e: int,
    pat: Arr,
    left: Arr,
    right: Arr,
    feature: Arr,
    threshold: Arr,
    rule: Arr,
    missing: Arr,
    default_left: Arr,
    cat_offsets: Arr,
    cat_values: Arr,
    split_slot: Arr,
) -> None:
    """Fill ``pat[node - o, r]`` for the ``m`` rows of block ``xb`` (features x rows) in one
    tree: bit ``s`` is cleared once a row fails a condition on the path's feature in slot ``s``.

    Numeric splits whose NaN follows the default direction (XGBoost, scikit-learn, CatBoost and
    most LightGBM nodes) take a branch-free path: a data-dependent branch per row and node would
    be mispredicted half the time.
    """
    for r in range(m):
        pat[0, r] = ALL_ONES
    for i in range(o, e):
        if left[i] < 0:
            continue
        li = i - o
        bit = np.uint32(1) << np.uint32(split_slot[i])
        lc = left[i]
        rc = right[i]
        f = feature[i]
        if rule[i] <= 1 and missing[i] == 0:
            thr = threshold[i]
            dl = default_left[i]
            strict = rule[i] == 0
            for r in range(m):
                x = xb[f, r]
                below = x < thr if strict else x <= thr
                go = np.uint32(below or (dl and x != x))
                p = pat[li, r]
                pat[lc, r] = p & ~(bit * (np.uint32(1) - go))
                pat[rc, r] = p & ~(bit * go)
        else:
            for r in range(m):
                p = pat[li, r]
                if _goes_left(xb[f, r], i, threshold, rule, missing, default_left, cat_offsets,
                              cat_values):
                    pat[lc, r] = p
                    pat[rc, r] = p & ~bit
                else:
                    pat[lc, r] = p & ~bit
                    pat[rc, r] = p


@njit(cache=True)
def pattern_histogram(
    X: Arr,
    tree_offsets: Arr,
    left: Arr,
    right: Arr,
    feature: Arr,
    threshold: Arr,
    rule: Arr,
    missing: Arr,
    default_left: Arr,
    cat_offsets: Arr,
    cat_values: Arr,
    split_slot: Arr,
    leaf_d: Arr,
    hist_off: Arr,
) -> Arr:
    """Share of the rows of ``X`` (the background) with each pattern, per leaf."""
    n = X.shape[0]
    hist = np.zeros(hist_off[-1], dtype=np.float64)
    sizes = tree_offsets[1:] - tree_offsets[:-1]
    xb = np.ascontiguousarray(X.T)
    pat = np.empty((sizes.max(), n), dtype=np.uint32)
    share = 1.0 / n
    for t in range(len(sizes)):
        o = tree_offsets[t]
        e = tree_offsets[t + 1]
        tree_patterns(xb, n, o, e, pat, left, right, feature, threshold, rule, missing,
                       default_left, cat_offsets, cat_values, split_slot)
        for i in range(o, e):
            d = leaf_d[i]
            if left[i] >= 0 or d == 0:
                continue
            mask = np.uint32((1 << d) - 1)
            for r in range(n):
                hist[hist_off[i] + np.int64(pat[i - o, r] & mask)] += share
    return hist


@njit(parallel=True, cache=True)
def predict(
    X: Arr,
    n_outputs: int,
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
) -> Arr:
    """Sum of the leaves each row reaches, per output (the model's raw output minus its
    constant offset): used to take the offset from the model and to check the parse."""
    n = X.shape[0]
    out = np.zeros((n, n_outputs), dtype=np.float64)
    for r in prange(n):
        for t in range(len(tree_output)):
            o = tree_offsets[t]
            i = o
            while left[i] >= 0:
                if _goes_left(X[r, feature[i]], i, threshold, rule, missing, default_left,
                              cat_offsets, cat_values):
                    i = o + left[i]
                else:
                    i = o + right[i]
            out[r, tree_output[t]] += value[i]
    return out
