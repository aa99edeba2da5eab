"""Exact path-dependent TreeSHAP for deep trees: one pass per tree, cost O(nodes x Q) per row.

The per-leaf tables of :mod:`xai_cli.methods.tables.kernels` grow as ``2**d`` with the distinct
features ``d`` of a path; at depth 10 and beyond they do not fit. This kernel needs no tables.
It rests on the identity behind Linear TreeSHAP (Yu et al., NeurIPS 2022) and Quadrature-TreeSHAP
(arXiv 2605.04497): a leaf ``l`` with value ``v`` gives feature ``j`` on its path

    phi_j = v (o_j - z_j) * integral_0^1 prod_{k != j} g_k(t) dt,   g_k(t) = z_k (1 - t) + o_k t,

(``z_k``: product of the cover ratios of the path's splits on ``k``; ``o_k``: 1 if the row follows
all of them) because the Shapley weight ``s! (d-1-s)! / d!`` is ``integral t^s (1-t)^(d-1-s)``.
The integrand is a polynomial of degree ``< d``, so Gauss-Legendre quadrature with
``ceil(d / 2)`` nodes is exact. Evaluated at those nodes, a leaf's product ``P_l(t)`` is built
top-down along the path, and the leaves' sums ``H_n(t)`` bottom-up; feature ``j`` then receives,
at each edge ``c`` that splits on it, ``sum_q w_q a_c(t_q) (H_c(t_q) - inner_j(t_q))``, where
``a_c = (o_j - z_j) / g_j`` with the path's values down to ``c`` and ``inner_j`` the leaves below
``c`` that meet ``j`` again deeper (they are counted at their deepest edge on ``j``). Every step
is a product, a sum or a division by ``g >= t_min > 0`` (``a_c = -1 / (1 - t)`` when ``o_j = 0``,
whatever ``z_j``), so the cost is linear in the nodes and no step loses precision with depth,
unlike Linear TreeSHAP's polynomial divisions (unstable past ~24 features on a path).

Rows are processed in blocks whose state arrays are vectors over the block's rows; the traversal
is the same for every row (path-dependent TreeSHAP visits every node), so inner loops vectorise
(multiply-adds over the rows). Three things keep the work per node and row small: a leaf is not
entered as a level of its own, its part of ``H`` and of its parent's feature is added directly
(``a g`` and ``g`` precomputed per point for the row's three cases, on/on, on/off, off); the
inner sums are kept only for splits on a feature that an ancestor splits on again
(:func:`node_flags`), and the left/right direction of a node is computed once for the block's
rows with one comparison loop per split rule. Each row's arithmetic is the same whatever its
block or thread, hence identical numbers for any thread count.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from xai_cli.methods.tables.kernels import Arr

BLOCK_ROWS = 128
"""Rows per parallel work item: long enough vectors to spread each node's per-point factors
over, short enough that a block's state (features x points x rows) stays in the L2 cache."""
MAX_NODES = 64
"""Most quadrature nodes per tree (exact up to 128 distinct features on one path)."""


def quadrature_rule(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes and weights on [0, 1] (``n`` points: exact to degree ``2n - 1``)."""
    x, w = np.polynomial.legendre.leggauss(n)
    return (x + 1.0) / 2.0, w / 2.0


def tree_rules(tree_max_d: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per tree its number of nodes ``Q = ceil(d / 2)`` and offsets into the concatenated
    quadrature nodes and weights, one rule per distinct ``Q``."""
    q = np.maximum(1, (np.asarray(tree_max_d, dtype=np.int64) + 1) // 2)
    if q.max(initial=1) > MAX_NODES:
        raise ValueError(f"a path tests more than {2 * MAX_NODES} distinct features")
    q_off = np.zeros(MAX_NODES + 2, dtype=np.int64)
    t_all, w_all = [], []
    for k in range(1, MAX_NODES + 1):
        q_off[k] = sum(len(x) for x in t_all)
        if (q == k).any():
            t, w = quadrature_rule(k)
            t_all.append(t)
            w_all.append(w)
    q_off[MAX_NODES + 1] = sum(len(x) for x in t_all)
    nodes = np.concatenate(t_all) if t_all else np.zeros(0)
    weights = np.concatenate(w_all) if w_all else np.zeros(0)
    return q, q_off[np.asarray(q)], np.stack([nodes, weights]) if len(nodes) else np.zeros((2, 0))


@njit(cache=True)
def tree_shape(
    tree_offsets: Arr, left: Arr, right: Arr, feature: Arr, n_features: int
) -> tuple[Arr, Arr, Arr]:
    """Per node its parent (local index, -1 at the root) and depth; per tree the most distinct
    features on one root-to-leaf path (what sets the quadrature's size)."""
    n = len(left)
    parent = np.full(n, -1, dtype=np.int64)
    depth = np.zeros(n, dtype=np.int64)
    distinct = np.zeros(n, dtype=np.int64)
    n_trees = len(tree_offsets) - 1
    tree_d = np.zeros(n_trees, dtype=np.int64)
    seen = np.zeros(n_features, dtype=np.int64)
    path = np.empty(n + 1, dtype=np.int64)
    for t in range(n_trees):
        o = tree_offsets[t]
        for i in range(o, tree_offsets[t + 1]):
            if left[i] >= 0:
                for c in (o + left[i], o + right[i]):
                    parent[c] = i - o
                    depth[c] = depth[i] + 1
        sp = 0  # the split nodes above the current node, with a count per feature
        for i in range(o, tree_offsets[t + 1]):
            if i > o:
                p = o + parent[i]
                while path[sp - 1] != p:
                    sp -= 1
                    seen[feature[path[sp]]] -= 1
                distinct[i] = distinct[p] + (1 if seen[feature[p]] == 1 else 0)
                if distinct[i] > tree_d[t]:
                    tree_d[t] = distinct[i]
            if left[i] >= 0:
                path[sp] = i
                sp += 1
                seen[feature[i]] += 1
        while sp > 0:
            sp -= 1
            seen[feature[path[sp]]] -= 1
    return parent, depth, tree_d


@njit(cache=True, inline="always")
def _directions(
    xb: Arr,
    f: int,
    g: int,
    m: int,
    threshold: Arr,
    rule: Arr,
    missing: Arr,
    default_left: Arr,
    cat_offsets: Arr,
    cat_values: Arr,
    out: Arr,
    lvl: int,
) -> None:
    """``out[lvl, r]`` = 1.0 where row ``r`` (feature ``f`` in ``xb[f]``) goes to node ``g``'s
    left child, else 0.0: the rules of :func:`~xai_cli.methods.tables.kernels._goes_left`, with
    one loop per numeric rule and missing-value kind so that the comparisons vectorise."""
    r_ = rule[g]
    dl = 1.0 if default_left[g] else 0.0
    if r_ >= 2:
        for r in range(m):
            x = xb[f, r]
            if np.isnan(x):
                out[lvl, r] = dl
            else:
                found = False
                for i in range(cat_offsets[g], cat_offsets[g + 1]):
                    if cat_values[i] == x:
                        found = True
                        break
                out[lvl, r] = 1.0 if found == (r_ == 2) else 0.0
        return
    thr = threshold[g]
    mis = missing[g]
    if r_ == 0:
        if mis == 0:
            for r in range(m):
                x = xb[f, r]
                out[lvl, r] = dl if x != x else (1.0 if x < thr else 0.0)
        elif mis == 1:
            for r in range(m):
                x = xb[f, r]
                x = 0.0 if x != x else x
                out[lvl, r] = 1.0 if x < thr else 0.0
        else:
            for r in range(m):
                x = xb[f, r]
                out[lvl, r] = dl if (x != x or abs(x) <= 1e-35) else (1.0 if x < thr else 0.0)
    else:
        if mis == 0:
            for r in range(m):
                x = xb[f, r]
                out[lvl, r] = dl if x != x else (1.0 if x <= thr else 0.0)
        elif mis == 1:
            for r in range(m):
                x = xb[f, r]
                x = 0.0 if x != x else x
                out[lvl, r] = 1.0 if x <= thr else 0.0
        else:
            for r in range(m):
                x = xb[f, r]
                out[lvl, r] = dl if (x != x or abs(x) <= 1e-35) else (1.0 if x <= thr else 0.0)


STORE = 1
"""Node flag: on closing, record the node's leaf sum as the inner sum of its feature (an
ancestor splits on the same feature and subtracts it)."""
INNER = 2
"""Node flag: the subtree below this edge splits again on the parent's feature, so the edge
subtracts the inner sum of those deeper splits (without it, that sum is zero)."""
SAVE = 4
"""Node flag: save the inner sum of the node's feature on entering (a descendant or the node
itself needs it)."""


@njit(cache=True)
def node_flags(tree_offsets: Arr, left: Arr, feature: Arr, parent: Arr) -> Arr:
    """Per node the inner-sum bookkeeping it needs (:data:`STORE`, :data:`INNER`,
    :data:`SAVE` bits): only splits on a feature that an ancestor splits on again take part.
    Everything else skips it, and the inner sums then return to zero after each tree."""
    n = len(left)
    flags = np.zeros(n, dtype=np.int8)
    for t in range(len(tree_offsets) - 1):
        o = tree_offsets[t]
        for i in range(o + 1, tree_offsets[t + 1]):
            if left[i] < 0:
                continue
            f = feature[i]
            c = i
            a = o + parent[i]
            while True:
                if feature[a] == f:
                    flags[i] |= STORE
                    flags[c] |= INNER
                    flags[a] |= SAVE
                if a == o:
                    break
                c = a
                a = o + parent[a]
    for i in range(n):
        if flags[i] & STORE:
            flags[i] |= SAVE
    return flags


@njit(cache=True, inline="always")
def _close(
    lvl: int,
    node: int,
    j: int,
    nq: int,
    m: int,
    feature: Arr,
    flags: Arr,
    H: Arr,
    D: Arr,
    d_save: Arr,
    wa1: Arr,
    wa0: Arr,
    o_f: Arr,
    row: Arr,
) -> None:
    """Close split node ``node`` at ``lvl`` (its parent splits on ``j``): record its inner sum,
    add its edge's contribution ``a (H - inner_j)`` to ``row`` (feature ``j``'s values) and its
    leaf sum ``H`` to the parent's."""
    fl = flags[node]
    if fl & STORE:
        f = feature[node]
        for q in range(nq):
            for r in range(m):
                D[f, q, r] = d_save[lvl, q, r] + H[lvl, q, r]
    if not fl & INNER:
        for q in range(nq):
            a1 = wa1[lvl, q]
            a0 = wa0[q]
            for r in range(m):
                a = a0 + o_f[j, r] * (a1 - a0)
                row[r] += a * H[lvl, q, r]
                H[lvl - 1, q, r] += H[lvl, q, r]
        return
    for q in range(nq):
        a1 = wa1[lvl, q]
        a0 = wa0[q]
        for r in range(m):
            o = o_f[j, r]
            a = a0 + o * (a1 - a0)
            row[r] += a * (H[lvl, q, r] - (D[j, q, r] - d_save[lvl - 1, q, r]))
            D[j, q, r] = d_save[lvl - 1, q, r]
            H[lvl - 1, q, r] += H[lvl, q, r]


@njit(parallel=True, cache=True, fastmath={"contract"})
def path_dependent(
    X: Arr,
    n_outputs: int,
    block: int,
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
    cover: Arr,
    parent: Arr,
    depth: Arr,
    tree_q: Arr,
    tree_q_off: Arr,
    rule_nodes: Arr,
    flags: Arr,
) -> Arr:
    """Path-dependent SHAP values (rows x features x outputs) of the rows of ``X``, in parallel
    over blocks of ``block`` rows (see the module docstring for the algorithm; ``flags`` from
    :func:`node_flags`). Only ``contract`` fast-math: multiply-adds fuse, nothing reorders, so
    each row's arithmetic is the same in any block."""
    n, n_features = X.shape
    out = np.zeros((n, n_features, n_outputs), dtype=np.float64)
    max_level = depth.max() + 2 if len(depth) else 2
    max_q = tree_q.max() if len(tree_q) else 1
    n_blocks = (n + block - 1) // block
    for bi in prange(n_blocks):
        r0 = bi * block
        m = min(n, r0 + block) - r0
        xb = np.ascontiguousarray(X[r0 : r0 + m].T)
        acc = np.zeros((n_features * n_outputs, m), dtype=np.float64)
        P = np.empty((max_level, max_q, m), dtype=np.float64)
        H = np.empty((max_level, max_q, m), dtype=np.float64)
        D = np.zeros((n_features, max_q, m), dtype=np.float64)
        d_save = np.zeros((max_level, max_q, m), dtype=np.float64)
        z_f = np.ones(n_features, dtype=np.float64)
        o_f = np.ones((n_features, m), dtype=np.float64)
        z_save = np.ones(max_level, dtype=np.float64)
        o_save = np.ones((max_level, m), dtype=np.float64)
        goes = np.empty((max_level, m), dtype=np.float64)
        stack_node = np.empty(max_level, dtype=np.int64)
        wa0 = np.empty(max_q, dtype=np.float64)
        wa1 = np.empty((max_level, max_q), dtype=np.float64)
        fac = np.empty((6, max_q), dtype=np.float64)
        for tr in range(len(tree_output)):
            o = tree_offsets[tr]
            e = tree_offsets[tr + 1]
            k_out = tree_output[tr]
            nq = tree_q[tr]
            t = rule_nodes[0, tree_q_off[tr] : tree_q_off[tr] + nq]
            w = rule_nodes[1, tree_q_off[tr] : tree_q_off[tr] + nq]
            for q in range(nq):
                wa0[q] = -w[q] / (1.0 - t[q])
            if left[o] < 0:  # a single leaf explains nothing
                continue
            sp = 0
            stack_node[0] = o
            for q in range(nq):
                for r in range(m):
                    P[0, q, r] = 1.0
                    H[0, q, r] = 0.0
                    d_save[0, q, r] = 0.0
            f0 = feature[o]
            _directions(xb, f0, o, m, threshold, rule, missing, default_left, cat_offsets,
                        cat_values, goes, 0)
            for i in range(o + 1, e):
                p = o + parent[i]
                while stack_node[sp] != p:
                    c = stack_node[sp]
                    pj = feature[stack_node[sp - 1]]
                    _close(sp, c, pj, nq, m, feature, flags, H, D, d_save, wa1, wa0, o_f,
                           acc[pj * n_outputs + k_out])
                    z_f[pj] = z_save[sp]
                    for r in range(m):
                        o_f[pj, r] = o_save[sp, r]
                    sp -= 1
                j = feature[p]
                is_left = i == o + left[p]
                base = 0.0 if is_left else 1.0
                sgn = 1.0 if is_left else -1.0
                z_old = z_f[j]
                ratio = cover[i] / cover[p]
                z_new = z_old * ratio
                # per row: oo (before), on (after); factor g = F2 + oo (F1 - F2) + on (F0 - F1)
                for q in range(nq):
                    g_old = z_old * (1.0 - t[q]) + t[q]
                    g_new = z_new * (1.0 - t[q]) + t[q]
                    f0_ = g_new / g_old
                    f1_ = z_new * (1.0 - t[q]) / g_old
                    fac[0, q] = ratio
                    fac[1, q] = f1_ - ratio
                    fac[2, q] = f0_ - f1_
                    if left[i] < 0:  # a * g per case, a = (o - z) / g_new
                        a1 = w[q] * (1.0 - z_new) / g_new
                        ag0 = a1 * f0_
                        ag1 = wa0[q] * f1_
                        ag2 = wa0[q] * ratio
                        fac[3, q] = ag2
                        fac[4, q] = ag1 - ag2
                        fac[5, q] = ag0 - ag1
                    else:
                        wa1[sp + 1, q] = w[q] * (1.0 - z_new) / g_new
                if left[i] < 0:  # a leaf: its part of H and of feature j, no push
                    v = value[i]
                    row = acc[j * n_outputs + k_out]
                    for q in range(nq):
                        c0 = fac[0, q]
                        c1 = fac[1, q]
                        c2 = fac[2, q]
                        b0 = fac[3, q]
                        b1 = fac[4, q]
                        b2 = fac[5, q]
                        for r in range(m):
                            oo = o_f[j, r]
                            on = oo * (base + sgn * goes[sp, r])
                            pv = v * P[sp, q, r]
                            H[sp, q, r] += pv * (c0 + oo * c1 + on * c2)
                            row[r] += pv * (b0 + oo * b1 + on * b2)
                    continue
                lvl = sp + 1
                stack_node[lvl] = i
                z_save[lvl] = z_old
                for r in range(m):
                    oo = o_f[j, r]
                    o_save[lvl, r] = oo
                    o_f[j, r] = oo * (base + sgn * goes[sp, r])
                fi = feature[i]
                for q in range(nq):
                    c0 = fac[0, q]
                    c1 = fac[1, q]
                    c2 = fac[2, q]
                    for r in range(m):
                        P[lvl, q, r] = P[sp, q, r] * (c0 + o_save[lvl, r] * c1 + o_f[j, r] * c2)
                        H[lvl, q, r] = 0.0
                if flags[i] & SAVE:
                    for q in range(nq):
                        for r in range(m):
                            d_save[lvl, q, r] = D[fi, q, r]
                z_f[j] = z_new
                _directions(xb, fi, i, m, threshold, rule, missing, default_left, cat_offsets,
                            cat_values, goes, lvl)
                sp = lvl
            while sp > 0:
                c = stack_node[sp]
                pj = feature[stack_node[sp - 1]]
                _close(sp, c, pj, nq, m, feature, flags, H, D, d_save, wa1, wa0, o_f,
                       acc[pj * n_outputs + k_out])
                z_f[pj] = z_save[sp]
                for r in range(m):
                    o_f[pj, r] = o_save[sp, r]
                sp -= 1
        for f in range(n_features):
            for k in range(n_outputs):
                row = acc[f * n_outputs + k]
                for r in range(m):
                    out[r0 + r, f, k] = row[r]
    return out
