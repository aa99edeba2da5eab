"""xai's own exact TreeSHAP: compile a model's trees once into per-leaf tables, then explain rows.

``compile_model`` parses the trees (:mod:`xai_cli.model.parsers`) and lays out the per-leaf
structure; ``path_dependent`` and ``interventional`` build the tables and evaluate them
(:mod:`xai_cli.methods.tables.kernels`). ``checked_model``, ``run_path_dependent_table`` and
``run_interventional_table`` do the same through the run's
:class:`~xai_cli.methods.cache.RunCache`, so the time estimate's pilots and the run parse, check
and compile the model once between them. Everything that cannot be done exactly raises
:class:`~xai_cli.model.forest.UnsupportedForest` with a reason, so the caller can fall back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pandas as pd

from xai_cli import progress
from xai_cli.methods.base import ExplainContext
from xai_cli.methods.tables import groups, kernels
from xai_cli.model.adapter import ModelAdapter
from xai_cli.model.forest import Forest, UnsupportedForest
from xai_cli.model.parsers import PARSERS, ParsedModel

MAX_PATH_FEATURES = 16
"""Most distinct features one root-to-leaf path may test (a leaf's table has 2**d rows)."""
MAX_TABLE_ENTRIES = 1 << 26
"""Largest total table size (float64 entries, 512 MiB) before falling back."""
CHECK_ROWS = 256
"""Rows on which the parsed forest must reproduce the library's own raw prediction."""
BLOCK_ROWS = 128
"""Rows per parallel work item; small enough that a block's patterns stay in cache."""
TIMED_ROUNDS = 4
"""Rounds of blocks (one block per thread) in the smaller slab the estimate times."""
SPAN = 4
"""The larger slab the estimate times has ``SPAN`` times the rows of the smaller."""
TIMINGS = 2
"""Times each slab is timed; the fastest is kept."""
SLICE_BLOCKS = 128
"""Blocks per thread in one progress slice (2 threads: 32,768 rows, about a second)."""
GROUP_HEIGHTS = (2, 1, 0)
"""Subtree heights tried for merged tables, largest first (0: one table per leaf)."""


@dataclass(frozen=True)
class CompiledModel:
    """A parsed forest with its per-leaf path structure (the part shared by both SHAP kinds)."""

    parsed: ParsedModel
    split_slot: np.ndarray
    leaf_d: np.ndarray
    leaf_feat_off: np.ndarray
    leaf_feats: np.ndarray
    leaf_z: np.ndarray
    table_off: np.ndarray
    hist_off: np.ndarray
    node_d: np.ndarray
    group_height: int
    tree_group_off: np.ndarray
    g_tree: np.ndarray
    g_node: np.ndarray
    g_end: np.ndarray
    g_k: np.ndarray
    g_inner_off: np.ndarray
    g_inner: np.ndarray
    g_u_off: np.ndarray
    g_u: np.ndarray
    g_table_off: np.ndarray

    @property
    def forest(self) -> Forest:
        return self.parsed.forest

    @property
    def max_path_features(self) -> int:
        return int(self.leaf_d.max()) if len(self.leaf_d) else 0


def supported(adapter: ModelAdapter) -> bool:
    """Whether a parser exists for the model's family (cheap; parsing may still refuse)."""
    return adapter.family in PARSERS


def compile_model(adapter: ModelAdapter) -> CompiledModel:
    """Parse the model and lay out the tables; raises :class:`UnsupportedForest` with why not."""
    if adapter.family not in PARSERS:
        raise UnsupportedForest(f"no tree parser for the {adapter.family} family")
    parsed = PARSERS[adapter.family](adapter)
    f = parsed.forest
    depth = _max_depth(f)
    slot, node_d, leaf_d, feat_off, feats, z, ok = kernels.path_structure(
        f.tree_offsets, f.left, f.right, f.feature, f.cover, min(depth, MAX_PATH_FEATURES) + 1
    )
    if not ok or (len(leaf_d) and leaf_d.max() > MAX_PATH_FEATURES):
        raise UnsupportedForest(
            f"a path tests more than {MAX_PATH_FEATURES} distinct features (tables too large)"
        )
    sizes = np.where(leaf_d > 0, (1 << leaf_d) * leaf_d, 0).astype(np.int64)
    table_off = np.zeros(len(sizes) + 1, dtype=np.int64)
    table_off[1:] = np.cumsum(sizes)
    if table_off[-1] > MAX_TABLE_ENTRIES:
        raise UnsupportedForest(
            f"the per-leaf tables would hold {table_off[-1]:,} values "
            f"(limit {MAX_TABLE_ENTRIES:,}); the trees are too deep or too many"
        )
    hist_sizes = np.where((f.left < 0) & (leaf_d > 0), 1 << leaf_d, 0).astype(np.int64)
    hist_off = np.zeros(len(hist_sizes) + 1, dtype=np.int64)
    hist_off[1:] = np.cumsum(hist_sizes)
    for height in GROUP_HEIGHTS:
        grouping = groups.group_structure(
            f.tree_offsets, f.left, f.right, node_d, leaf_d, feat_off, feats, height
        )
        if grouping[-1][-1] <= MAX_TABLE_ENTRIES:
            break
    else:
        raise UnsupportedForest("the merged tables would be too large")
    tree_group_off = grouping[0]
    g_tree = np.repeat(np.arange(f.n_trees, dtype=np.int64), np.diff(tree_group_off))
    return CompiledModel(
        parsed, slot, leaf_d, feat_off, feats, z, table_off, hist_off, node_d, height,
        tree_group_off, g_tree, *grouping[1:],
    )


def _max_depth(forest: Forest) -> int:
    depth = np.zeros(forest.n_nodes, dtype=np.int64)
    for t in range(forest.n_trees):
        o, e = forest.tree_offsets[t], forest.tree_offsets[t + 1]
        for i in range(o, e):
            if forest.left[i] >= 0:
                depth[o + forest.left[i]] = depth[o + forest.right[i]] = depth[i] + 1
    return int(depth.max()) if len(depth) else 0


def encode(compiled: CompiledModel, X: pd.DataFrame) -> np.ndarray:
    """The rows as the float matrix the forest's splits test."""
    return np.ascontiguousarray(compiled.parsed.encode(X), dtype=np.float64)


def predict_leaves(compiled: CompiledModel, matrix: np.ndarray) -> np.ndarray:
    """Sum of reached leaves per output (rows x outputs), without the model's constant."""
    f = compiled.forest
    return kernels.predict(
        matrix, f.n_outputs, f.tree_offsets, f.tree_output, f.left, f.right, f.feature,
        f.threshold, f.rule, f.missing, f.default_left, f.cat_offsets, f.cat_values, f.value,
    )


def model_offset(compiled: CompiledModel, matrix: np.ndarray, raw: np.ndarray) -> np.ndarray:
    """The model's constant (base score, init estimator, CatBoost bias) per output, as the
    library's raw prediction minus the parsed leaves, checked to be the same on every check row.

    Raises :class:`UnsupportedForest` when it is not: the parse does not reproduce the model.
    """
    rows = min(CHECK_ROWS, len(matrix))
    gaps = np.asarray(raw[:rows], dtype=float) - predict_leaves(compiled, matrix[:rows])
    offset = np.median(gaps, axis=0)
    # XGBoost sums in float32: allow relative rounding of the largest magnitude, not just range
    scale = max(1.0, float(np.ptp(raw[:rows])), float(np.abs(raw[:rows]).max())) if rows else 1.0
    worst = float(np.abs(gaps - offset).max()) if rows else 0.0
    if worst > 1e-6 * scale:
        raise UnsupportedForest(
            f"the parsed trees do not reproduce the model's own predictions (off by {worst:.3g})"
        )
    return offset


def expected_leaves(compiled: CompiledModel) -> np.ndarray:
    """Cover-weighted mean leaf value summed over trees, per output (the path-dependent
    expectation of the forest without its constant)."""
    f = compiled.forest
    sizes = np.diff(f.tree_offsets)
    root_cover = np.repeat(f.cover[f.tree_offsets[:-1]], sizes)
    output = np.repeat(f.tree_output, sizes)
    leaf = f.left < 0
    weighted = f.value[leaf] * f.cover[leaf] / root_cover[leaf]
    return np.bincount(output[leaf], weights=weighted, minlength=f.n_outputs)


def thread_count(n_jobs: int | None) -> int:
    """The threads :func:`threads` runs the kernels on for ``n_jobs``."""
    import numba

    wanted = numba.config.NUMBA_NUM_THREADS if not n_jobs or n_jobs <= 0 else n_jobs
    return max(1, min(wanted, numba.config.NUMBA_NUM_THREADS))


@contextmanager
def threads(n_jobs: int | None) -> Iterator[None]:
    """Run numba kernels on ``n_jobs`` threads (``None`` or <= 0: all cores), then restore."""
    import numba

    before = numba.get_num_threads()
    numba.set_num_threads(thread_count(n_jobs))
    try:
        yield
    finally:
        numba.set_num_threads(before)


def merge_tables(compiled: CompiledModel, leaf_table: np.ndarray) -> np.ndarray:
    """Per-leaf tables summed into per-group tables (what :func:`evaluate` reads)."""
    f, c = compiled.forest, compiled
    return groups.group_tables(
        f.tree_offsets, f.left, f.right, c.split_slot, c.node_d, c.leaf_d, c.leaf_feat_off,
        c.leaf_feats, c.table_off, leaf_table, c.g_tree, c.g_node, c.g_end, c.g_k,
        c.g_inner_off, c.g_inner, c.g_u_off, c.g_u, c.g_table_off,
    )


def evaluate(compiled: CompiledModel, matrix: np.ndarray, table: np.ndarray) -> np.ndarray:
    """SHAP values of the encoded rows from merged tables (rows x features x outputs).

    While a run watches progress, the rows go to the kernel in slices of whole blocks
    (:data:`SLICE_BLOCKS` per thread), each slice reported as rows done: every row is summed
    the same way whatever slice or block it is in, so the values are identical either way.
    """
    f, c = compiled.forest, compiled
    matrix = np.ascontiguousarray(matrix, dtype=np.float64)

    def kernel(rows: np.ndarray) -> np.ndarray:
        return groups.evaluate(
            rows, f.n_outputs, BLOCK_ROWS, f.tree_offsets, f.tree_output, f.left, f.right,
            f.feature, f.threshold, f.rule, f.missing, f.default_left, f.cat_offsets,
            f.cat_values, c.split_slot, c.node_d, c.tree_group_off, c.g_node, c.g_k,
            c.g_inner_off, c.g_inner, c.g_u_off, c.g_u, c.g_table_off, table,
        )

    import numba

    step = BLOCK_ROWS * SLICE_BLOCKS * numba.get_num_threads()
    n = len(matrix)
    if not progress.reporting() or n <= step:
        return kernel(matrix)
    out = np.empty((n, matrix.shape[1], f.n_outputs), dtype=np.float64)
    for start in range(0, n, step):
        stop = min(n, start + step)
        out[start:stop] = kernel(matrix[start:stop])
        progress.advance(stop, n, "rows")
    return out


def path_dependent_table(compiled: CompiledModel) -> np.ndarray:
    """Merged tables of path-dependent (cover-weighted) SHAP contributions."""
    c = compiled
    leaf = kernels.path_dependent_tables(
        c.leaf_d, c.leaf_feat_off, c.leaf_z, c.table_off, c.forest.value
    )
    return merge_tables(compiled, leaf)


def path_dependent(
    compiled: CompiledModel, matrix: np.ndarray, table: np.ndarray | None = None
) -> np.ndarray:
    """Path-dependent SHAP values (rows x features x outputs) of the encoded rows."""
    if table is None:
        table = path_dependent_table(compiled)
    return evaluate(compiled, matrix, table)


def interventional_table(compiled: CompiledModel, background: np.ndarray) -> np.ndarray:
    """Merged tables of interventional SHAP contributions averaged over ``background``."""
    f, c = compiled.forest, compiled
    hist = kernels.pattern_histogram(
        np.ascontiguousarray(background, dtype=np.float64), f.tree_offsets, f.left, f.right,
        f.feature, f.threshold, f.rule, f.missing, f.default_left, f.cat_offsets, f.cat_values,
        c.split_slot, c.leaf_d, c.hist_off,
    )
    leaf = kernels.interventional_tables(c.leaf_d, c.table_off, c.hist_off, hist, f.value)
    return merge_tables(compiled, leaf)


def interventional(
    compiled: CompiledModel, matrix: np.ndarray, background: np.ndarray
) -> np.ndarray:
    """Interventional SHAP values (rows x features x outputs) against a background sample."""
    return evaluate(compiled, matrix, interventional_table(compiled, background))


# ----- once per run ------------------------------------------------------------------------------
def run_rows(ctx: ExplainContext) -> pd.DataFrame:
    """The rows of the whole run: ``ctx.X``, or the run's rows when ``ctx.X`` is a pilot's few."""
    return ctx.X if ctx.background is None else ctx.background


def checked_model(ctx: ExplainContext) -> tuple[CompiledModel, np.ndarray]:
    """The run's compiled model and its constant offset (:func:`model_offset`), checked against
    the library's raw predictions on the first :data:`CHECK_ROWS` rows of the run; built once per
    run (:attr:`ExplainContext.cache`), so a pilot and the run use the same offset.

    Raises :class:`UnsupportedForest` (every time, built once) when the model cannot be done.
    """
    a, rows = ctx.adapter, run_rows(ctx)
    compiled = ctx.cache.get("tableshap.compile", (a,), lambda: compile_model(a))

    def check() -> np.ndarray:
        from threadpoolctl import threadpool_limits

        head = rows.iloc[:CHECK_ROWS]
        # a few hundred rows: one OpenMP thread (scikit-learn's HistGradientBoosting predicts
        # 20x slower on contended cores when each of its trees wakes a thread team)
        with threadpool_limits(1, user_api="openmp"):
            raw = a.predict_raw(head)
        return model_offset(compiled, encode(compiled, head), raw)

    return compiled, ctx.cache.get("tableshap.check", (a, rows), check)


def run_path_dependent_table(ctx: ExplainContext, compiled: CompiledModel) -> np.ndarray:
    """:func:`path_dependent_table` of the run's model, built once per run."""
    return ctx.cache.get(
        "tableshap.path_dependent_table", (ctx.adapter,), lambda: path_dependent_table(compiled)
    )


def run_interventional_table(
    ctx: ExplainContext,
    compiled: CompiledModel,
    background: pd.DataFrame,
    settings: tuple[int, int],
) -> np.ndarray:
    """:func:`interventional_table` against ``background``, built once per run for the
    background sample that ``settings`` (rows, seed) draw from the run's rows."""
    return ctx.cache.get(
        "tableshap.interventional_table",
        (ctx.adapter, run_rows(ctx)),
        lambda: interventional_table(compiled, encode(compiled, background)),
        settings,
    )


def predicted_seconds(
    ctx: ExplainContext, rows: int, threads: int, timer: Callable[[], float]
) -> tuple[float, str]:
    """Path-dependent TreeSHAP's time on ``rows`` rows from two timed slabs of the run's rows.

    The kernel's work comes in blocks of :data:`BLOCK_ROWS` rows run ``threads`` at a time, and
    each call has a fixed cost (waking numba's threads: well under a millisecond on an idle
    machine, 50-100 ms on a busy one). So two slabs of the run's rows are timed on the run's
    tables (built once per run, so this costs the run nothing else), ``k`` = ``threads x``
    :data:`TIMED_ROUNDS` blocks and ``SPAN x k`` rows, each :data:`TIMINGS` times keeping the
    fastest (a preempted timing is not the machine's speed): a fixed cost and a cost per row, so
    the estimate is ``fixed + per_row x rows``. The old way, one block timed once, was a few
    milliseconds: one preemption made it 10x off, and back-to-back estimates differed by as
    much. Raises :class:`UnsupportedForest` where the tables cannot be used.
    """
    compiled, _ = checked_model(ctx)
    table = run_path_dependent_table(ctx, compiled)
    small = min(BLOCK_ROWS * max(1, threads) * TIMED_ROUNDS, len(ctx.X))
    large = min(SPAN * small, len(ctx.X))
    matrix = encode(compiled, ctx.X.iloc[:large])

    def time_slabs() -> tuple[float, float]:
        evaluate(compiled, matrix[:0], table)  # loads the compiled kernels, explains nothing

        def fastest(k: int) -> float:
            times = []
            for _ in range(TIMINGS):
                start = timer()
                evaluate(compiled, matrix[:k], table)
                times.append(timer() - start)
            return min(times)

        return fastest(small), (fastest(large) if large > small else 0.0)

    t_small, t_large = ctx.cache.get(
        "tableshap.slab_seconds", (ctx.adapter, run_rows(ctx)), time_slabs
    )
    if large > small:
        per_row = max(t_large - t_small, 0.0) / (large - small)
        fixed = max(t_small - per_row * small, 0.0)
    else:  # too few rows for two slabs: one, all per row (an overestimate, and a short run)
        per_row, fixed = t_small / max(small, 1), 0.0
    slices = -(-rows // (BLOCK_ROWS * SLICE_BLOCKS * max(1, threads)))
    seconds = fixed * max(1, slices) + per_row * rows
    blocks = -(-rows // BLOCK_ROWS)
    return seconds, (
        f"the tables timed on {small:,} and {large:,} rows (fastest of {TIMINGS}): "
        f"{fixed * 1000:.1f} ms per call + {per_row * 1e6:.1f} us per row, x {blocks:,} blocks"
    )
