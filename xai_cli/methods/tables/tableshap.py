"""xai's own exact TreeSHAP: compile a model's trees once, then explain rows.

Two exact engines, chosen per model by a cost model (:func:`compile_parsed`): per-leaf tables
(fastest for shallow trees) and the quadrature kernel (:mod:`xai_cli.methods.tables.quadrature`,
linear in the nodes, for deep trees whose tables would not fit).

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
from xai_cli.methods.tables import groups, kernels, quadrature
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
TABLE_NS_PER_OP = 3.0
"""Measured cost of the table kernel per node pattern and per table addition, per row (ns)."""
QUADRATURE_NS_PER_OP = 0.8
"""Measured cost of the quadrature kernel per node and quadrature point, per row (ns): 0.78-0.79
beside 2.65-3.21 for the tables per op, one thread, CPU time, XGBoost 100 trees of depth 6 and 8
(``benchmarks/results/deep.md``); 4.2 before the kernel of issue 15's second round."""
BUILD_NS_PER_OP = 1.0
"""Measured cost of building the tables per pattern and feature pair (ns), paid once."""
AMORTISED_ROWS = 1_000
"""Rows the one-off table build is spread over when the cost model compares the engines."""
TABLES = "tables"
QUADRATURE = "quadrature"


@dataclass(frozen=True)
class DeepStructure:
    """What the quadrature kernel (:mod:`xai_cli.methods.tables.quadrature`) needs per node
    (parent, depth) and per tree (quadrature size and its nodes and weights)."""

    parent: np.ndarray
    depth: np.ndarray
    tree_q: np.ndarray
    tree_q_off: np.ndarray
    rule_nodes: np.ndarray
    flags: np.ndarray


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
    engine: str = TABLES
    reason: str = ""
    deep: DeepStructure | None = None

    @property
    def forest(self) -> Forest:
        return self.parsed.forest

    @property
    def max_path_features(self) -> int:
        return int(self.leaf_d.max()) if len(self.leaf_d) else 0


def supported(adapter: ModelAdapter) -> bool:
    """Whether a parser exists for the model's family (cheap; parsing may still refuse)."""
    return adapter.family in PARSERS


def compile_model(adapter: ModelAdapter, rows: int = AMORTISED_ROWS) -> CompiledModel:
    """Parse the model and choose its engine by :func:`compile_parsed` for a run of ``rows``
    rows; raises :class:`UnsupportedForest` with why not."""
    if adapter.family not in PARSERS:
        raise UnsupportedForest(f"no tree parser for the {adapter.family} family")
    return compile_parsed(PARSERS[adapter.family](adapter), rows=rows)


def compile_parsed(
    parsed: ParsedModel, engine: str = "auto", rows: int = AMORTISED_ROWS
) -> CompiledModel:
    """Lay out the chosen engine's structure for a parsed forest.

    ``engine="auto"`` compares the per-row cost of the two exact engines on a run of ``rows``
    rows: the tables (one pattern per node plus one addition per merged-table feature, and their
    one-off build spread over the rows) and the quadrature kernel (nodes x quadrature points).
    Tables
    that would pass :data:`MAX_TABLE_ENTRIES` or :data:`MAX_PATH_FEATURES` are not built. The
    choice and its reason are kept (:attr:`CompiledModel.engine`, :attr:`CompiledModel.reason`).
    """
    f = parsed.forest
    parent, depth, tree_d = quadrature.tree_shape(
        f.tree_offsets, f.left, f.right, f.feature, f.n_features
    )
    try:
        tree_q, tree_q_off, rule_nodes = quadrature.tree_rules(tree_d)
    except ValueError as exc:
        raise UnsupportedForest(str(exc)) from exc
    flags = quadrature.node_flags(f.tree_offsets, f.left, f.feature, parent)
    deep = DeepStructure(parent, depth, tree_q, tree_q_off, rule_nodes, flags)
    sizes = np.diff(f.tree_offsets)
    quad_ns = QUADRATURE_NS_PER_OP * float((sizes * tree_q).sum())
    most = int(tree_d.max()) if len(tree_d) else 0
    quad_cost = f"quadrature {quad_ns / 1e3:,.1f} us/row ({int(tree_q.max(initial=1))} points)"
    if engine == QUADRATURE or most > MAX_PATH_FEATURES:
        why = "requested" if engine == QUADRATURE else (
            f"a path tests {most} distinct features (tables need 2**d rows per leaf, "
            f"limit {MAX_PATH_FEATURES})"
        )
        return _quadrature_only(parsed, deep, f"{why}; {quad_cost}")
    slot, node_d, leaf_d, feat_off, feats, z, ok = kernels.path_structure(
        f.tree_offsets, f.left, f.right, f.feature, f.cover, most + 1
    )
    sizes_t = np.where(leaf_d > 0, (1 << leaf_d) * leaf_d, 0).astype(np.int64)
    table_off = np.zeros(len(sizes_t) + 1, dtype=np.int64)
    table_off[1:] = np.cumsum(sizes_t)
    if table_off[-1] > MAX_TABLE_ENTRIES:
        return _quadrature_only(
            parsed, deep,
            f"the per-leaf tables would hold {table_off[-1]:,} values (limit "
            f"{MAX_TABLE_ENTRIES:,}); {quad_cost}",
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
        return _quadrature_only(parsed, deep, f"the merged tables would be too large; {quad_cost}")
    rows = max(1, rows)
    build = BUILD_NS_PER_OP * float((sizes_t * leaf_d).sum()) / rows
    table_ns = TABLE_NS_PER_OP * float(f.n_nodes + len(grouping[-2])) + build
    costs = f"tables {table_ns / 1e3:,.1f} us/row (their build spread over {rows:,} rows), " \
        f"{quad_cost}"
    chosen = TABLES if engine == TABLES or table_ns <= quad_ns else QUADRATURE
    why = "requested" if engine == TABLES else "the cheaper by the cost model"
    tree_group_off = grouping[0]
    g_tree = np.repeat(np.arange(f.n_trees, dtype=np.int64), np.diff(tree_group_off))
    return CompiledModel(
        parsed, slot, leaf_d, feat_off, feats, z, table_off, hist_off, node_d, height,
        tree_group_off, g_tree, *grouping[1:], engine=chosen, reason=f"{why}: {costs}", deep=deep,
    )


def _quadrature_only(parsed: ParsedModel, deep: DeepStructure, reason: str) -> CompiledModel:
    """A compiled model without tables: only the quadrature kernel can explain it."""
    empty = np.zeros(0, dtype=np.int64)
    zero = np.zeros(1, dtype=np.int64)
    return CompiledModel(
        parsed, empty, empty, zero, empty, np.zeros(0), zero, zero, empty, 0, zero, empty,
        empty, empty, empty, zero, empty, zero, empty, zero, engine=QUADRATURE, reason=reason,
        deep=deep,
    )


def describe(compiled: CompiledModel) -> str:
    """The engine and why, for the provenance notes."""
    name = {TABLES: "per-leaf tables", QUADRATURE: "Gauss-Legendre quadrature (linear in depth)"}
    return f"engine {name[compiled.engine]}, {compiled.reason}"


def require_tables(compiled: CompiledModel) -> None:
    """Raise :class:`UnsupportedForest` when the model has no tables (interventional needs them)."""
    if compiled.engine != TABLES and len(compiled.table_off) <= 1:
        raise UnsupportedForest(f"interventional SHAP needs the tables: {compiled.reason}")


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
    return checked_offset(raw[:rows], predict_leaves(compiled, matrix[:rows]))


def checked_offset(raw: np.ndarray, leaves: np.ndarray) -> np.ndarray:
    """The constant ``raw - leaves`` per output (rows x outputs each), or
    :class:`UnsupportedForest` when it differs between rows beyond rounding."""
    rows = len(leaves)
    gaps = np.asarray(raw[:rows], dtype=float) - leaves
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

    return sliced(kernel, matrix, f.n_outputs, BLOCK_ROWS)


def sliced(
    kernel: Callable[[np.ndarray], np.ndarray], matrix: np.ndarray, n_outputs: int, block: int
) -> np.ndarray:
    """``kernel(matrix)``, in slices of :data:`SLICE_BLOCKS` blocks of ``block`` rows per thread
    reported as rows done while a run watches progress (one call otherwise)."""
    import numba

    step = block * SLICE_BLOCKS * numba.get_num_threads()
    n = len(matrix)
    if not progress.reporting() or n <= step:
        return kernel(matrix)
    out = np.empty((n, matrix.shape[1], n_outputs), dtype=np.float64)
    for start in range(0, n, step):
        stop = min(n, start + step)
        out[start:stop] = kernel(matrix[start:stop])
        progress.advance(stop, n, "rows")
    return out


def path_dependent_table(compiled: CompiledModel) -> np.ndarray:
    """Merged tables of path-dependent (cover-weighted) SHAP contributions (none when the
    quadrature engine was chosen)."""
    c = compiled
    if c.engine == QUADRATURE:
        return np.zeros(0)
    leaf = kernels.path_dependent_tables(
        c.leaf_d, c.leaf_feat_off, c.leaf_z, c.table_off, c.forest.value
    )
    return merge_tables(compiled, leaf)


def path_dependent(
    compiled: CompiledModel, matrix: np.ndarray, table: np.ndarray | None = None
) -> np.ndarray:
    """Path-dependent SHAP values (rows x features x outputs) of the encoded rows, by the
    compiled model's engine."""
    if compiled.engine == QUADRATURE:
        return quadrature_path_dependent(compiled, matrix)
    if table is None:
        table = path_dependent_table(compiled)
    return evaluate(compiled, matrix, table)


def quadrature_path_dependent(compiled: CompiledModel, matrix: np.ndarray) -> np.ndarray:
    """Path-dependent SHAP values by the quadrature kernel (any depth), in progress slices like
    :func:`evaluate` (each row's arithmetic does not depend on its slice)."""
    f, q = compiled.forest, compiled.deep
    assert q is not None

    def kernel(rows: np.ndarray) -> np.ndarray:
        return quadrature.path_dependent(
            rows, f.n_outputs, quadrature.BLOCK_ROWS, f.tree_offsets, f.tree_output, f.left,
            f.right, f.feature, f.threshold, f.rule, f.missing, f.default_left, f.cat_offsets,
            f.cat_values, f.value, f.cover, q.parent, q.depth, q.tree_q, q.tree_q_off,
            q.rule_nodes, q.flags,
        )

    matrix = np.ascontiguousarray(matrix, dtype=np.float64)
    return sliced(kernel, matrix, f.n_outputs, quadrature.BLOCK_ROWS)


def interventional_table(compiled: CompiledModel, background: np.ndarray) -> np.ndarray:
    """Merged tables of interventional SHAP contributions averaged over ``background``."""
    require_tables(compiled)
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
    compiled = ctx.cache.get(
        "tableshap.compile", (a,), lambda: compile_model(a, rows=len(rows))
    )

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
        path_dependent(compiled, matrix[:0], table)  # loads the compiled kernels only

        def fastest(k: int) -> float:
            times = []
            for _ in range(TIMINGS):
                start = timer()
                path_dependent(compiled, matrix[:k], table)
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
    kernel = "the tables" if compiled.engine == TABLES else "the quadrature kernel"
    return seconds, (
        f"{kernel} timed on {small:,} and {large:,} rows (fastest of {TIMINGS}): "
        f"{fixed * 1000:.1f} ms per call + {per_row * 1e6:.1f} us per row, x {blocks:,} blocks"
    )
