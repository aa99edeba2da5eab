"""numba kernels for exact path-dependent SHAP interaction values by per-leaf lookup tables.

The same "decision pattern" idea as :mod:`xai_cli.methods.tables.kernels`, one order higher.
Path-dependent TreeSHAP's value function is a sum over leaves of
``v(S) = value * prod_{k in S} o_k * prod_{k not in S} z_k`` over the ``d`` distinct features
on the leaf's root path (``o_k``: whether the row satisfies the path's conditions on feature
``k``; ``z_k``: the product of the path's cover ratios for ``k``). Both the Shapley value and the
Shapley interaction index (SII) are linear in ``v``, so both are sums of per-leaf closed forms:

- main: ``phi_a = value (o_a - z_a) sum_s c_s s! (d-1-s)! / d!`` with ``c`` the coefficients of
  ``prod_{k != a} (z_k + o_k t)``;
- pair: ``SII_ab = value (o_a - z_a)(o_b - z_b) sum_s c_s s! (d-2-s)! / (d-1)!`` with ``c`` the
  coefficients of ``prod_{k != a, b} (z_k + o_k t)``.

The sums depend on the row only through the pattern bits of the *other* features, so each leaf
stores ``d x 2**(d-1)`` main factors and ``C(d, 2) x 2**(d-2)`` pair factors, computed once per
model. shap's and XGBoost's interaction values (Lundberg et al. 2020, section 2.7) split each
pair's SII evenly, ``phi_ab = phi_ba = SII_ab / 2``, and put ``phi_a - sum_b phi_ab`` on the
diagonal, so every row of the matrix sums to the feature's SHAP value. Explaining a row is one
pass down each tree that tracks the pattern, then ``d + C(d, 2)`` look-ups per leaf.

Each row's sums run in the same order (trees in model order, leaves in pre-order) whatever the
block or thread, so results do not depend on parallelism.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from xai_cli.methods.tables.kernels import tree_patterns

Arr = np.ndarray
"""numba kernels take and return plain numpy arrays (see each docstring for the shapes)."""


@njit(cache=True)
def _weights(d: int, n: int) -> Arr:
    """``w[s] = s! (n-1-s)! / n!`` for ``s < n``: the Shapley weight of a coalition of ``s`` of
    the other ``n - 1`` players (``n = d`` for values, ``n = d - 1`` for pair indices)."""
    w = np.zeros(max(n, 1), dtype=np.float64)
    for s in range(n):
        binom = 1.0
        for i in range(s):
            binom = binom * (n - 1 - i) / (i + 1)
        w[s] = 1.0 / (n * binom)
    return w


@njit(cache=True, inline="always")
def drop_bit(p: int, a: int) -> int:
    """``p`` with bit ``a`` removed (the higher bits shift down by one)."""
    return ((p >> (a + 1)) << a) | (p & ((1 << a) - 1))


@njit(cache=True)
def _factor(z: Arr, d: int, q: int, skip_a: int, skip_b: int, w: Arr, c: Arr) -> float:
    """``sum_s c_s w[s]`` over the polynomial ``prod (z_k + o_k t)`` of the slots other than
    ``skip_a`` and ``skip_b``, whose bits ``o`` are ``q``'s in slot order."""
    c[:] = 0.0
    c[0] = 1.0
    deg = 0
    bit = 0
    for k in range(d):
        if k == skip_a or k == skip_b:  # noqa: SIM109 - plain compares compile in numba
            continue
        ok = float((q >> bit) & 1)
        bit += 1
        for s in range(deg + 1, 0, -1):
            c[s] = c[s] * z[k] + c[s - 1] * ok
        c[0] *= z[k]
        deg += 1
    acc = 0.0
    for s in range(deg + 1):
        acc += c[s] * w[s]
    return acc


@njit(parallel=True, cache=True)
def interaction_tables(
    leaf_d: Arr, leaf_feat_off: Arr, leaf_z: Arr, main_off: Arr, pair_off: Arr
) -> tuple[Arr, Arr]:
    """Per leaf: main factors ``M[a, q]`` (``q``: the other ``d-1`` bits) at ``main_off[leaf]``
    and pair factors ``P[pair(a<b), q]`` (``q``: the other ``d-2`` bits, pairs in (a, b)
    lexicographic order) at ``pair_off[leaf]``; neither includes the leaf value or the
    ``(o - z)`` terms, which the evaluation applies."""
    n = len(leaf_d)
    main = np.zeros(main_off[n], dtype=np.float64)
    pair = np.zeros(pair_off[n], dtype=np.float64)
    for i in prange(n):
        d = leaf_d[i]
        if d == 0:
            continue
        z = leaf_z[leaf_feat_off[i] : leaf_feat_off[i] + d]
        c = np.zeros(d + 1, dtype=np.float64)
        w1 = _weights(d, d)
        half = 1 << (d - 1)
        for a in range(d):
            for q in range(half):
                main[main_off[i] + a * half + q] = _factor(z, d, q, a, -1, w1, c)
        if d < 2:
            continue
        w2 = _weights(d, d - 1)
        quarter = 1 << (d - 2)
        slot = 0
        for a in range(d):
            for b in range(a + 1, d):
                for q in range(quarter):
                    pair[pair_off[i] + slot * quarter + q] = _factor(z, d, q, a, b, w2, c)
                slot += 1
    return main, pair


@njit(parallel=True, cache=True)
def evaluate_interactions(
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
    split_slot: Arr,
    leaf_d: Arr,
    leaf_feat_off: Arr,
    leaf_feats: Arr,
    leaf_z: Arr,
    value: Arr,
    main_off: Arr,
    pair_off: Arr,
    main: Arr,
    pair: Arr,
) -> Arr:
    """SHAP interaction values of the encoded rows ``X`` (rows x features), as
    (rows x features x features x outputs): off-diagonal ``SII / 2``, diagonal the main effect
    (the feature's SHAP value minus its interactions). Row blocks of ``block`` run in parallel."""
    n, n_features = X.shape
    nf, nk = n_features, n_outputs
    out = np.zeros((n, nf, nf, nk), dtype=np.float64)
    max_nodes = (tree_offsets[1:] - tree_offsets[:-1]).max()
    n_blocks = (n + block - 1) // block
    for bi in prange(n_blocks):
        r0 = bi * block
        m = min(n, r0 + block) - r0
        xb = np.ascontiguousarray(X[r0 : r0 + m].T)
        pat = np.empty((max_nodes, m), dtype=np.uint32)
        # rows innermost, so each (leaf, feature or pair) update is one pass over the block
        acc_main = np.zeros((nf * nk, m), dtype=np.float64)
        acc_pair = np.zeros((nf * nf * nk, m), dtype=np.float64)
        idx = np.empty(m, dtype=np.int64)
        fac = np.empty((32, m), dtype=np.float64)
        for t in range(len(tree_output)):
            o = tree_offsets[t]
            e = tree_offsets[t + 1]
            k = tree_output[t]
            tree_patterns(xb, m, o, e, pat, left, right, feature, threshold, rule, missing,
                          default_left, cat_offsets, cat_values, split_slot)
            for i in range(o, e):
                d = leaf_d[i]
                if left[i] >= 0 or d == 0:
                    continue
                fo = leaf_feat_off[i]
                mask = np.uint32((1 << d) - 1)
                half = 1 << (d - 1)
                quarter = 1 << max(d - 2, 0)
                v = value[i]
                for r in range(m):
                    idx[r] = np.int64(pat[i - o, r] & mask)
                for a in range(d):
                    z = leaf_z[fo + a]
                    fa_row = fac[a]
                    for r in range(m):
                        fa_row[r] = float((idx[r] >> a) & 1) - z
                for a in range(d):
                    row = acc_main[leaf_feats[fo + a] * nk + k]
                    base = main_off[i] + a * half
                    fa_row = fac[a]
                    for r in range(m):
                        row[r] += v * fa_row[r] * main[base + drop_bit(idx[r], a)]
                slot = 0
                for a in range(d):
                    fa = leaf_feats[fo + a]
                    fa_row = fac[a]
                    for b in range(a + 1, d):
                        fb = leaf_feats[fo + b]
                        lo, hi = min(fa, fb), max(fa, fb)
                        row = acc_pair[(lo * nf + hi) * nk + k]
                        fb_row = fac[b]
                        base = pair_off[i] + slot * quarter
                        scale = 0.5 * v
                        for r in range(m):
                            q = drop_bit(drop_bit(idx[r], b), a)
                            row[r] += scale * fa_row[r] * fb_row[r] * pair[base + q]
                        slot += 1
        for f in range(nf):
            for k in range(nk):
                main_row = acc_main[f * nk + k]
                for r in range(m):
                    out[r0 + r, f, f, k] = main_row[r]
        for f in range(nf):
            for g in range(f + 1, nf):
                for k in range(nk):
                    pair_row = acc_pair[(f * nf + g) * nk + k]
                    for r in range(m):
                        h = pair_row[r]
                        out[r0 + r, f, g, k] = h
                        out[r0 + r, g, f, k] = h
                        out[r0 + r, f, f, k] -= h
                        out[r0 + r, g, g, k] -= h
    return out
