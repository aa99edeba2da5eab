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
is the same for every row (path-dependent TreeSHAP visits every node), so inner loops vectorise.
Each row's arithmetic is the same whatever its block or thread, hence identical numbers for any
thread count.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from xai_cli.methods.tables.kernels import Arr, _goes_left

BLOCK_ROWS = 64
"""Rows per parallel work item: the per-level state (levels x points x rows) stays in cache."""
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
def _finalize(
    level: int,
    node: int,
    p: int,
    j: int,
    k_out: int,
    n_outputs: int,
    nq: int,
    m: int,
    left: Arr,
    feature: Arr,
    stack_node: Arr,
    H: Arr,
    D: Arr,
    d_save: Arr,
    z_f: Arr,
    o_f: Arr,
    z_save: Arr,
    o_save: Arr,
    wa0: Arr,
    w: Arr,
    t: Arr,
    acc: Arr,
) -> None:
    """Close the node at ``level`` (child of ``p``, which splits on ``j``): its own feature's
    inner sum, its edge's contribution to ``j``, then restore ``j``'s state and add ``H``."""
    if left[node] >= 0:  # a split on f: the leaves below now meet f first at this node
        f = feature[node]
        for q in range(nq):
            for r in range(m):
                D[f, q, r] = d_save[level, q, r] + H[level, q, r]
    z = z_f[j]
    row = acc[j * n_outputs + k_out]
    if left[node] < 0:  # a leaf: nothing below meets j again, and D[j] is still the saved one
        for q in range(nq):
            wa1 = w[q] * (1.0 - z) / (z + (1.0 - z) * t[q])
            for r in range(m):
                o = o_f[j, r]
                row[r] += (o * wa1 + (1.0 - o) * wa0[q]) * H[level, q, r]
                H[level - 1, q, r] += H[level, q, r]
    else:
        for q in range(nq):
            wa1 = w[q] * (1.0 - z) / (z + (1.0 - z) * t[q])
            for r in range(m):
                o = o_f[j, r]
                a = o * wa1 + (1.0 - o) * wa0[q]
                row[r] += a * (H[level, q, r] - (D[j, q, r] - d_save[level - 1, q, r]))
                D[j, q, r] = d_save[level - 1, q, r]
                H[level - 1, q, r] += H[level, q, r]
    z_f[j] = z_save[level]
    for r in range(m):
        o_f[j, r] = o_save[level, r]


@njit(parallel=True, cache=True)
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
) -> Arr:
    """Path-dependent SHAP values (rows x features x outputs) of the rows of ``X``, in parallel
    over blocks of ``block`` rows (see the module docstring for the algorithm)."""
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
        fac = np.empty((3, max_q), dtype=np.float64)
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
            D[:, :nq, :] = 0.0  # inner sums are per tree
            # the root, at level 0
            sp = 0
            stack_node[0] = o
            for q in range(nq):
                for r in range(m):
                    P[0, q, r] = 1.0
                    H[0, q, r] = 0.0
            f0 = feature[o]
            for q in range(nq):
                for r in range(m):
                    d_save[0, q, r] = D[f0, q, r]
            for r in range(m):
                goes[0, r] = 1.0 if _goes_left(xb[f0, r], o, threshold, rule, missing,
                                               default_left, cat_offsets, cat_values) else 0.0
            for i in range(o + 1, e):
                p = o + parent[i]
                while stack_node[sp] != p:
                    c = stack_node[sp]
                    pp = stack_node[sp - 1]
                    _finalize(sp, c, pp, feature[pp], k_out, n_outputs, nq, m, left, feature,
                              stack_node, H, D, d_save, z_f, o_f, z_save, o_save, wa0, w, t,
                              acc)
                    sp -= 1
                # enter node i, child of p, at level sp + 1
                j = feature[p]
                lvl = sp + 1
                stack_node[lvl] = i
                is_left = i == o + left[p]
                z_old = z_f[j]
                z_new = z_old * cover[i] / cover[p]
                z_save[lvl] = z_old
                # factors g_new / g_old per case: (o_old, o_new) = (1, 1), (1, 0), (0, 0)
                for q in range(nq):
                    g_old = z_old * (1.0 - t[q]) + t[q]
                    fac[0, q] = (z_new * (1.0 - t[q]) + t[q]) / g_old
                    fac[1, q] = z_new * (1.0 - t[q]) / g_old
                    fac[2, q] = cover[i] / cover[p]
                for r in range(m):
                    oo = o_f[j, r]
                    o_save[lvl, r] = oo
                    ind = goes[sp, r] if is_left else 1.0 - goes[sp, r]
                    o_f[j, r] = oo * ind
                for q in range(nq):
                    for r in range(m):
                        oo = o_save[lvl, r]
                        on = o_f[j, r]
                        g = on * fac[0, q] + (oo - on) * fac[1, q] + (1.0 - oo) * fac[2, q]
                        P[lvl, q, r] = P[sp, q, r] * g
                z_f[j] = z_new
                if left[i] < 0:
                    v = value[i]
                    for q in range(nq):
                        for r in range(m):
                            H[lvl, q, r] = v * P[lvl, q, r]
                else:
                    fi = feature[i]
                    for q in range(nq):
                        for r in range(m):
                            H[lvl, q, r] = 0.0
                            d_save[lvl, q, r] = D[fi, q, r]
                    for r in range(m):
                        goes[lvl, r] = 1.0 if _goes_left(
                            xb[fi, r], i, threshold, rule, missing, default_left, cat_offsets,
                            cat_values) else 0.0
                sp = lvl
            while sp > 0:
                c = stack_node[sp]
                pp = stack_node[sp - 1]
                _finalize(sp, c, pp, feature[pp], k_out, n_outputs, nq, m, left, feature,
                          stack_node, H, D, d_save, z_f, o_f, z_save, o_save, wa0, w, t, acc)
                sp -= 1
        for f in range(n_features):
            for k in range(n_outputs):
                row = acc[f * n_outputs + k]
                for r in range(m):
                    out[r0 + r, f, k] = row[r]
    return out
