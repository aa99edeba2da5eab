"""Exact path-dependent TreeSHAP specialised for CatBoost's oblivious (symmetric) trees.

Every level ``k`` of an oblivious tree tests one feature against one border, so a row's leaf is
the bit index ``b = sum_k [x_{f_k} > border_k] << k`` and the features a leaf's path tests are the
same ``d`` distinct features for every leaf of the tree. Path-dependent TreeSHAP of one leaf
depends on the row only through which of those features the row agrees with (the leaf's
*pattern*, Lundberg et al. 2020, Algorithm 2 in closed form as in
:mod:`xai_cli.methods.tables.kernels`), and each leaf's pattern is a function of ``b`` alone (bit
``j`` is set when ``b`` and the leaf agree on every level testing feature ``j``). So the whole
tree's SHAP values depend on the row only through ``b``: a table ``phi[b, j, output]`` of
``2**D x d`` entries per tree, summed over leaves once per model, and explaining a row is ``D``
comparisons and ``d`` additions per tree (no per-node pattern pass, no per-leaf look-up).

The trees are read straight from CatBoost's JSON into flat arrays (no unrolling into generic
binary trees); the generic :class:`~xai_cli.model.forest.Forest` is not built on this path.
Numeric (float) splits only; categorical (one-hot, CTR) splits raise
:class:`~xai_cli.model.forest.UnsupportedForest` and the caller falls back.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numba import njit, prange

from xai_cli.methods.base import ExplainContext
from xai_cli.model.adapter import ModelAdapter
from xai_cli.model.forest import UnsupportedForest
from xai_cli.model.parsers import _matrix

Arr = np.ndarray
NAN_RIGHT = ("AsTrue", "AsMaxValue")
"""CatBoost's ``nan_value_treatment`` values that send NaN right (``x > border`` true)."""
EMPTY_COVER = 1e-300
"""Cover given to an inner node no training row reached (as the generic parse does), so its
children's ratios stay defined and their leaves carry ~0 weight."""


@dataclass(frozen=True)
class ObliviousForest:
    """CatBoost's symmetric trees as flat arrays.

    Tree ``t`` has ``depth[t]`` levels at ``level_off[t]:level_off[t] + depth[t]`` (level ``k``
    sets bit ``k`` of the leaf index when ``x[level_feature] > level_border``; NaN sets it when
    ``level_nan_right``), ``2**depth[t]`` leaves at ``leaf_off[t]`` (``leaf_value``: leaves x
    outputs, ``leaf_weight``: training weight), and ``d`` distinct features at
    ``feat_off[t]:feat_off[t+1]`` (``level_slot``: each level's feature's position among them).
    """

    n_features: int
    n_outputs: int
    depth: Arr
    level_off: Arr
    level_feature: Arr
    level_border: Arr
    level_nan_right: Arr
    level_slot: Arr
    feat_off: Arr
    feats: Arr
    leaf_off: Arr
    leaf_value: Arr
    leaf_weight: Arr


def parse(adapter: ModelAdapter) -> ObliviousForest:
    """Read a CatBoost model's oblivious trees; raises :class:`UnsupportedForest` for categorical
    features or non-symmetric trees."""
    if adapter.categorical_features:
        raise UnsupportedForest("CatBoost categorical features (CTR and one-hot splits)")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.json")
        adapter.native.save_model(path, format="json")
        with open(path, encoding="utf-8") as handle:
            model = json.load(handle)
    if "oblivious_trees" not in model or model.get("non_symmetric_trees"):
        raise UnsupportedForest("CatBoost non-symmetric (Depthwise/Lossguide) trees")
    floats = model["features_info"].get("float_features", [])
    flat = {f["feature_index"]: f["flat_feature_index"] for f in floats}
    # nan_mode="Max" saves "AsTrue" (NaN is above every border, sets the bit); "Min" "AsFalse"
    nan_right = {
        f["feature_index"]: f.get("nan_value_treatment") in NAN_RIGHT for f in floats
    }
    n_outputs = max(1, len(adapter.outputs))
    dims = int(model.get("model_info", {}).get("approx_dimension", 0) or n_outputs)
    if dims != n_outputs:
        raise UnsupportedForest(f"CatBoost leaves hold {dims} values for {n_outputs} outputs")
    depth, lf, lb, ln, ls, feats, values, weights = [], [], [], [], [], [], [], []
    feat_off = [0]
    for tree in model["oblivious_trees"]:
        splits = tree["splits"] or []
        if any(s.get("split_type", "FloatFeature") != "FloatFeature" for s in splits):
            raise UnsupportedForest("CatBoost splits on categorical or combined features")
        distinct: list[int] = []
        for s in splits:
            f = flat[s["float_feature_index"]]
            if f not in distinct:
                distinct.append(f)
            lf.append(f)
            lb.append(s["border"])
            ln.append(nan_right.get(s["float_feature_index"], False))
            ls.append(distinct.index(f))
        depth.append(len(splits))
        feats.extend(distinct)
        feat_off.append(len(feats))
        values.append(np.asarray(tree["leaf_values"], dtype=np.float64).reshape(-1, dims))
        weights.append(np.asarray(tree["leaf_weights"], dtype=np.float64))
    if not depth:
        raise UnsupportedForest("the model has no trees")
    depth_a = np.asarray(depth, dtype=np.int64)
    level_off = np.zeros(len(depth) + 1, dtype=np.int64)
    level_off[1:] = np.cumsum(depth_a)
    leaf_off = np.zeros(len(depth) + 1, dtype=np.int64)
    leaf_off[1:] = np.cumsum(1 << depth_a)
    return ObliviousForest(
        n_features=len(adapter.feature_names),
        n_outputs=n_outputs,
        depth=depth_a,
        level_off=level_off,
        level_feature=np.asarray(lf, dtype=np.int64),
        # CatBoost compares float32 inputs with float32 borders: round the JSON's decimal back
        level_border=np.asarray(lb, dtype=np.float32).astype(np.float64),
        level_nan_right=np.asarray(ln, dtype=np.bool_),
        level_slot=np.asarray(ls, dtype=np.int64),
        feat_off=np.asarray(feat_off, dtype=np.int64),
        feats=np.asarray(feats, dtype=np.int64),
        leaf_off=leaf_off,
        leaf_value=np.ascontiguousarray(np.concatenate(values)),
        leaf_weight=np.concatenate(weights),
    )


def encode(adapter: ModelAdapter, X: pd.DataFrame) -> np.ndarray:
    """The rows as CatBoost compares them (float32, widened exactly to float64)."""
    return np.ascontiguousarray(_matrix(adapter, X, {}, f32=True), dtype=np.float64)


@njit(parallel=True, cache=True)
def tree_tables(
    depth: Arr, level_off: Arr, level_slot: Arr, feat_off: Arr, leaf_off: Arr,
    leaf_value: Arr, leaf_weight: Arr, quad_t: Arr, quad_w: Arr,
) -> tuple[Arr, Arr]:
    """``phi[b, j, o]`` per tree (flattened at ``phi_off[t]``): feature slot ``j``'s
    path-dependent SHAP value for output ``o`` of a row whose leaf index is ``b``.

    For each leaf: its zero fractions ``z_j`` (product of the cover ratios of the levels testing
    feature ``j``), its unit table ``U[p, j] = (o_j - z_j) sum_s c_s w[s]`` over patterns ``p``
    (``c``: coefficients of ``prod_{k != j} (z_k + o_k t)``, ``o``: bits of ``p``,
    ``w[s] = s! (d-1-s)! / d!``), then ``phi[b] += v_leaf * U[pattern(leaf, b)]``. Since
    ``w[s] = int_0^1 t^s (1-t)^(d-1-s) dt``, the sum is the integral over ``[0, 1]`` of
    ``prod_{k != j} (z_k (1-t) + o_k t)``, a polynomial of degree ``d - 1``: Gauss-Legendre
    nodes ``quad_t`` and weights ``quad_w`` (``q`` points, exact for ``d <= 2q``) give it in
    ``O(q d)`` per pattern instead of ``O(d^3)``.
    """
    n_trees = len(depth)
    n_out = leaf_value.shape[1]
    sizes = np.empty(n_trees, dtype=np.int64)
    for t in range(n_trees):
        sizes[t] = (1 << depth[t]) * (feat_off[t + 1] - feat_off[t]) * n_out
    phi_off = np.zeros(n_trees + 1, dtype=np.int64)
    phi_off[1:] = np.cumsum(sizes)
    phi = np.zeros(phi_off[-1], dtype=np.float64)
    for t in prange(n_trees):
        big_d = depth[t]
        d = feat_off[t + 1] - feat_off[t]
        if d == 0:
            continue
        n_leaves = 1 << big_d
        lo = leaf_off[t]
        slot = level_slot[level_off[t] : level_off[t] + big_d]
        # levels testing each slot, as a bit mask over the leaf index
        slot_mask = np.zeros(d, dtype=np.int64)
        for k in range(big_d):
            slot_mask[slot[k]] |= 1 << k
        # cover of the node above each leaf after deciding levels D-1..k: prefix sums by k
        cover = np.empty((big_d + 1, n_leaves), dtype=np.float64)
        for leaf in range(n_leaves):
            cover[0, leaf] = leaf_weight[lo + leaf]
        for k in range(1, big_d + 1):
            for leaf in range(n_leaves):
                total = 0.0
                base = (leaf >> k) << k
                for m in range(1 << k):
                    total += leaf_weight[lo + base + m]
                cover[k, leaf] = total if total > 0.0 else EMPTY_COVER
        z = np.empty(d, dtype=np.float64)
        unit = np.empty((1 << d, d), dtype=np.float64)
        n_q = len(quad_t)
        factor = np.empty((d, n_q), dtype=np.float64)
        left = np.empty((d + 1, n_q), dtype=np.float64)
        right = np.empty((d + 1, n_q), dtype=np.float64)
        for leaf in range(n_leaves):
            z[:] = 1.0
            for k in range(big_d - 1, -1, -1):  # the root tests the last level
                z[slot[k]] *= cover[k, leaf] / cover[k + 1, leaf]
            for p in range(1 << d):
                for k in range(d):
                    ok = float((p >> k) & 1)
                    for q in range(n_q):
                        factor[k, q] = z[k] * (1.0 - quad_t[q]) + ok * quad_t[q]
                # unit[p, j] = (o_j - z_j) sum_q omega_q prod_{k != j} factor[k, q], the
                # product without j as (product of those before j) x (product of those after j)
                for q in range(n_q):
                    left[0, q] = 1.0
                    right[d, q] = 1.0
                for k in range(d):
                    for q in range(n_q):
                        left[k + 1, q] = left[k, q] * factor[k, q]
                for k in range(d - 1, -1, -1):
                    for q in range(n_q):
                        right[k, q] = right[k + 1, q] * factor[k, q]
                for j in range(d):
                    acc = 0.0
                    for q in range(n_q):
                        acc += quad_w[q] * left[j, q] * right[j + 1, q]
                    unit[p, j] = (float((p >> j) & 1) - z[j]) * acc
            for b in range(n_leaves):
                diff = b ^ leaf
                p = 0
                for j in range(d):
                    if diff & slot_mask[j] == 0:
                        p |= 1 << j
                row = phi_off[t] + b * d * n_out
                for j in range(d):
                    u = unit[p, j]
                    for o in range(n_out):
                        phi[row + j * n_out + o] += leaf_value[lo + leaf, o] * u
    return phi, phi_off


@njit(cache=True, inline="always")
def _leaf_index(
    X: Arr, r: int, lo: int, big_d: int, level_feature: Arr, level_border: Arr,
    level_nan_right: Arr,
) -> int:
    """Row ``r``'s leaf in a tree whose levels start at ``lo`` (``x > border`` sets the bit)."""
    b = 0
    for k in range(big_d):
        x = X[r, level_feature[lo + k]]
        bit = level_nan_right[lo + k] if x != x else x > level_border[lo + k]
        if bit:
            b |= 1 << k
    return b


BLOCK_ROWS = 256
"""Rows per parallel work item: a block's leaf indices are computed one level at a time over all
its rows (vectorised comparisons), and its output rows stay in cache while every tree adds."""


@njit(parallel=True, cache=True)
def shap_values(
    X: Arr, n_outputs: int, depth: Arr, level_off: Arr, level_feature: Arr, level_border: Arr,
    level_nan_right: Arr, feat_off: Arr, feats: Arr, phi: Arr, phi_off: Arr,
) -> Arr:
    """SHAP values (rows x features x outputs): per block of :data:`BLOCK_ROWS` rows and per
    tree, the rows' leaf indices level by level, then ``d`` additions per row from ``phi``. Each
    row is summed in tree order whatever the thread count or block."""
    n, n_feat = X.shape
    out = np.zeros((n, n_feat, n_outputs), dtype=np.float64)
    n_blocks = (n + BLOCK_ROWS - 1) // BLOCK_ROWS
    for blk in prange(n_blocks):
        r0 = blk * BLOCK_ROWS
        m = min(BLOCK_ROWS, n - r0)
        xb = np.ascontiguousarray(X[r0 : r0 + m].T)
        acc = np.zeros((m, n_feat * n_outputs), dtype=np.float64)
        idx = np.empty(m, dtype=np.int64)
        for t in range(len(depth)):
            d = feat_off[t + 1] - feat_off[t]
            if d == 0:
                continue
            idx[:] = 0
            lo = level_off[t]
            for k in range(depth[t]):
                f = level_feature[lo + k]
                border = level_border[lo + k]
                nan_bit = np.int64(level_nan_right[lo + k]) << k
                for r in range(m):
                    x = xb[f, r]
                    idx[r] |= (np.int64(x > border) << k) | (nan_bit if x != x else 0)
            width = d * n_outputs
            for j in range(d):
                col = feats[feat_off[t] + j] * n_outputs
                for o in range(n_outputs):
                    src = phi_off[t] + j * n_outputs + o
                    for r in range(m):
                        acc[r, col + o] += phi[src + idx[r] * width]
        out[r0 : r0 + m] = acc.reshape(m, n_feat, n_outputs)
    return out


@njit(parallel=True, cache=True)
def predict_leaves(
    X: Arr, depth: Arr, level_off: Arr, level_feature: Arr, level_border: Arr,
    level_nan_right: Arr, leaf_off: Arr, leaf_value: Arr,
) -> Arr:
    """Sum of the leaves each row reaches, per output (the raw prediction minus its bias)."""
    n = X.shape[0]
    out = np.zeros((n, leaf_value.shape[1]), dtype=np.float64)
    for r in prange(n):
        for t in range(len(depth)):
            b = _leaf_index(X, r, level_off[t], depth[t], level_feature, level_border,
                            level_nan_right)
            for o in range(leaf_value.shape[1]):
                out[r, o] += leaf_value[leaf_off[t] + b, o]
    return out


@dataclass(frozen=True)
class CompiledOblivious:
    """A parsed oblivious forest with its per-tree ``phi`` tables."""

    forest: ObliviousForest
    phi: Arr
    phi_off: Arr

    def values(self, matrix: np.ndarray) -> np.ndarray:
        """SHAP values (rows x features x outputs) of encoded rows."""
        f = self.forest
        return shap_values(
            np.ascontiguousarray(matrix, dtype=np.float64), f.n_outputs, f.depth, f.level_off,
            f.level_feature, f.level_border, f.level_nan_right, f.feat_off, f.feats, self.phi,
            self.phi_off,
        )

    def predict(self, matrix: np.ndarray) -> np.ndarray:
        """Sum of reached leaves (rows x outputs), without the model's bias."""
        f = self.forest
        return predict_leaves(
            np.ascontiguousarray(matrix, dtype=np.float64), f.depth, f.level_off,
            f.level_feature, f.level_border, f.level_nan_right, f.leaf_off, f.leaf_value,
        )

    def expected(self) -> np.ndarray:
        """Weight-averaged leaf value summed over trees, per output (without the bias)."""
        f = self.forest
        total = np.zeros(f.n_outputs)
        for t in range(len(f.depth)):
            w = f.leaf_weight[f.leaf_off[t] : f.leaf_off[t + 1]]
            root = w.sum() if w.sum() > 0 else EMPTY_COVER
            total += (f.leaf_value[f.leaf_off[t] : f.leaf_off[t + 1]] * (w / root)[:, None]).sum(0)
        return total

    def describe(self) -> str:
        """The engine and why, for the provenance notes."""
        f = self.forest
        return (
            f"engine oblivious-tree tables: {len(f.depth):,} CatBoost symmetric trees of depth "
            f"<= {int(f.depth.max())}, each explained by its leaf index (one comparison per "
            f"level) and one table of {int(self.phi_off[-1]):,} precomputed values in all"
        )


def compile_adapter(adapter: ModelAdapter) -> CompiledOblivious:
    """Parse the model and build its ``phi`` tables; raises :class:`UnsupportedForest`."""
    f = parse(adapter)
    most = int(np.diff(f.feat_off).max())
    nodes, weights = np.polynomial.legendre.leggauss(most // 2 + 1)  # exact up to degree most+1
    phi, phi_off = tree_tables(
        f.depth, f.level_off, f.level_slot, f.feat_off, f.leaf_off, f.leaf_value, f.leaf_weight,
        (nodes + 1.0) / 2.0, weights / 2.0,
    )
    return CompiledOblivious(f, phi, phi_off)


def checked_model(ctx: ExplainContext) -> tuple[CompiledOblivious, np.ndarray]:
    """The run's compiled oblivious forest and CatBoost's bias per output, checked to reproduce
    the library's raw predictions on the first rows of the run; built once per run."""
    from threadpoolctl import threadpool_limits

    from xai_cli.methods.tables import tableshap

    a, rows = ctx.adapter, tableshap.run_rows(ctx)
    compiled = ctx.cache.get("oblivious.compile", (a,), lambda: compile_adapter(a))

    def check() -> np.ndarray:
        head = rows.iloc[: tableshap.CHECK_ROWS]
        with threadpool_limits(1, user_api="openmp"):
            raw = a.predict_raw(head)
        return tableshap.checked_offset(raw, compiled.predict(encode(a, head)))

    return compiled, ctx.cache.get("oblivious.check", (a, rows), check)


def path_dependent(ctx: ExplainContext) -> tuple[np.ndarray, np.ndarray, str]:
    """Values (rows x features x outputs), base values (rows x outputs) and the engine's note for
    the run's rows (on the caller's numba threads)."""
    compiled, offset = checked_model(ctx)
    values = compiled.values(encode(ctx.adapter, ctx.X))
    base = offset + compiled.expected()
    return values, np.tile(base, (len(ctx.X), 1)), compiled.describe()


def predicted_seconds(
    ctx: ExplainContext, rows: int, timer: Callable[[], float]
) -> tuple[float, str]:
    """This engine's time on ``rows`` rows: a fixed cost and a cost per row from two timed slabs
    of the run's rows (fastest of two timings each), as the generic engine's estimate does
    (:func:`xai_cli.methods.tables.tableshap.predicted_seconds`)."""
    from xai_cli.methods.tables import tableshap

    compiled, _ = checked_model(ctx)
    small = min(BLOCK_ROWS * 8, len(ctx.X))
    large = min(4 * small, len(ctx.X))
    matrix = encode(ctx.adapter, ctx.X.iloc[:large])
    compiled.values(matrix[:0])  # loads the compiled kernel only

    def best(k: int) -> float:
        times = []
        for _ in range(tableshap.TIMINGS):
            start = timer()
            compiled.values(matrix[:k])
            times.append(timer() - start)
        return min(times)

    t_small = best(small)
    t_large = best(large) if large > small else 0.0
    if large > small:
        per_row = max(t_large - t_small, 0.0) / (large - small)
        fixed = max(t_small - per_row * small, 0.0)
    else:
        per_row, fixed = t_small / max(small, 1), 0.0
    return fixed + per_row * rows, (
        f"the oblivious-tree engine timed on {small:,} and {large:,} rows: "
        f"{fixed * 1000:.1f} ms per call + {per_row * 1e6:.2f} us per row"
    )
