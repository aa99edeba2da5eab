"""Which exact engine computes interventional TreeSHAP for a model, and why.

Two exact engines compute the same numbers:

* **tables** (:func:`xai_cli.methods.tables.tableshap.interventional`): a per-leaf histogram of
  the background's ``2**d`` path patterns, turned into per-leaf tables once per run; each row then
  costs one pass down each tree. Fastest for shallow trees, impossible where the tables pass
  :data:`~xai_cli.methods.tables.tableshap.MAX_TABLE_ENTRIES` (depth ~8 and deeper).
* **pairwise** (:mod:`xai_cli.methods.tables.pairwise`): one walk per (row, background row) pair
  and tree, no tables, any depth; each row costs the nodes its walks visit.

The cost model (:func:`choose`) compares their time per row on the run: the tables' pass and
their one-off build spread over the run's rows, against the pairwise walk's visits, *measured* on
a few rows against a slice of the background (the visits depend on how the data spread over the
splits, which no formula of the tree shape gives) and scaled to the whole background. The chosen
engine and the figures behind it go into the provenance notes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xai_cli.methods.tables import pairwise, tableshap

TABLES = "tables"
PAIRWISE = "pairwise"
TABLE_NS_PER_OP = tableshap.TABLE_NS_PER_OP
"""Cost of the table kernel per node pattern and per table addition, per row (ns)."""
BUILD_NS_PER_OP = 1.0
"""Cost of the tables' build per background row and node (histogram) and per pattern pair and
feature (tables), paid once per run (ns)."""
PAIR_NS_PER_VISIT = 20.0
"""Measured cost of the pairwise walk per node visited (ns; 22.5 on one thread of the shared
2-core machine at load 4, measured the way the tables' constants were: on a busy machine)."""
NODE_NS = 2.0
"""Cost of routing one row (or background row) at one node, once per tree (ns)."""
SAMPLE_ROWS = 4
"""Rows whose walks the cost model times."""
SAMPLE_BACKGROUND = 32
"""Background rows the sample rows walk against (the visits scale linearly with them)."""


@dataclass(frozen=True)
class Choice:
    """An engine and the reason the provenance gives for it."""

    engine: str
    reason: str


def _table_ns(compiled: tableshap.CompiledModel, background: int, rows: int) -> float:
    """Per-row cost of the table engine, its build spread over ``rows`` rows (ns)."""
    f = compiled.forest
    d = compiled.leaf_d[(f.left < 0) & (compiled.leaf_d > 0)].astype(np.float64)
    patterns = np.exp2(d)
    build = BUILD_NS_PER_OP * (
        background * f.n_nodes + float((patterns * np.minimum(patterns, background) * d).sum())
    )
    return TABLE_NS_PER_OP * float(f.n_nodes + len(compiled.g_node)) + build / max(1, rows)


def pairwise_ns(
    model: pairwise.PairwiseModel, matrix: np.ndarray, background: np.ndarray, rows: int
) -> tuple[float, float]:
    """Per-row cost of the pairwise engine (ns) and the visits per row it rests on, measured on
    :data:`SAMPLE_ROWS` rows against :data:`SAMPLE_BACKGROUND` distinct background rows."""
    distinct, _ = pairwise.unique_background(background)
    picked = distinct[:: max(1, len(distinct) // SAMPLE_BACKGROUND)][:SAMPLE_BACKGROUND]
    sample = matrix[:: max(1, len(matrix) // SAMPLE_ROWS)][:SAMPLE_ROWS]
    visits = pairwise.visits_per_row(model, sample, picked) * len(distinct) / max(1, len(picked))
    nodes = model.forest.n_nodes
    per_row = PAIR_NS_PER_VISIT * visits + NODE_NS * nodes
    return per_row + NODE_NS * len(distinct) * nodes / max(1, rows), visits


def choose(
    compiled: tableshap.CompiledModel,
    model: pairwise.PairwiseModel | None,
    matrix: np.ndarray,
    background: np.ndarray,
    engine: str = "auto",
    rows: int | None = None,
) -> Choice:
    """The engine for explaining ``matrix`` against ``background`` (both encoded).

    ``engine`` may name one (``tables`` / ``pairwise``); ``auto`` takes the tables when the pairwise
    walk cannot run (a path with more than :data:`~xai_cli.methods.tables.pairwise.MAX_SLOTS`
    distinct features), the pairwise walk when the tables do not fit, and otherwise the cheaper
    by the cost model for a run of ``rows`` rows (default: those of ``matrix``; a time
    estimate's pilot passes the run's, so it times the engine the run will use).
    """
    has_tables = compiled.engine == tableshap.TABLES or len(compiled.table_off) > 1
    rows, n_bg = (len(matrix) if rows is None else rows), len(background)
    if engine == TABLES or model is None:
        why = "requested" if engine == TABLES else "the pairwise walk cannot run"
        return Choice(TABLES, why)
    if engine == PAIRWISE:
        return Choice(PAIRWISE, "requested")
    if not has_tables:
        return Choice(PAIRWISE, f"no tables: {compiled.reason.split(';')[0]}")
    pair, visits = pairwise_ns(model, matrix, background, rows)
    table = _table_ns(compiled, n_bg, rows)
    chosen = TABLES if table <= pair else PAIRWISE
    return Choice(chosen, (
        f"the cheaper by the cost model: tables {table / 1e3:,.1f} us/row (their build spread "
        f"over {rows:,} rows), pairwise {pair / 1e3:,.1f} us/row ({visits:,.0f} nodes visited "
        "per row, measured)"
    ))


def describe(choice: Choice) -> str:
    """The engine and why, for the provenance notes."""
    name = {
        TABLES: "per-leaf pattern tables",
        PAIRWISE: "pairwise walk (Independent Tree SHAP, any depth)",
    }
    return f"engine {name[choice.engine]}, {choice.reason}"
