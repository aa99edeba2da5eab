"""``treeshap.interactions``: exact path-dependent SHAP interaction values of tree models.

xai's own kernels (:mod:`xai_cli.methods.tables.interaction_kernels`) evaluate per-leaf tables
of the parsed, parity-checked forest (the same parse and check as ``treeshap``, shared through
the run's :class:`~xai_cli.methods.cache.RunCache`). The values equal XGBoost's
``predict(pred_interactions=True)`` and shap's ``shap_interaction_values``: off-diagonal
``phi_ij = phi_ji`` is half the Shapley interaction index, the diagonal is the main effect, and
each row of a row's matrix sums to that feature's SHAP value.

A row's matrix is features x features x outputs, so the rows are explained in chunks of bounded
memory (:data:`CHUNK_BYTES`): each chunk adds to the mean |interaction| matrix and gives up the
rows of a seeded sample (:data:`SAMPLE_ROWS` by default); only the SHAP values (row sums) are
kept for every row. Peak memory therefore does not grow with rows beyond the SHAP values.

The global table is the mean |SHAP| of the row sums, the same measure as ``treeshap`` (so the
engine's additivity check and bootstrap rank intervals, which read the per-row values, describe
the table). What is new is in the report's ``effects.interactions`` section: per feature the
split of its mean |attribution| into main effect and interactions (the *interaction mass*), one
measured reason why gain, SHAP and permutation rank features differently. Where the kernels
cannot run, XGBoost's ``pred_interactions`` or shap's
``shap_interaction_values`` compute the values and the provenance says why.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import ClassVar, Literal

import numpy as np
import pandas as pd
from pydantic import Field

from xai_cli.methods.base import (
    ExplainContext,
    Support,
    numeric_view,
    read_params,
)
from xai_cli.methods.params import MethodParams
from xai_cli.methods.tables import interaction_kernels as ik
from xai_cli.methods.tables import tableshap
from xai_cli.methods.treeshap import FAST_LIBRARY, LIBRARY, N_JOBS_DESCRIPTION, TreeShap
from xai_cli.model.adapter import ModelAdapter
from xai_cli.model.forest import UnsupportedForest
from xai_cli.results import LocalAttribution

SAMPLE_ROWS = 100
"""Per-row interaction matrices kept (a seeded sample), by default."""
CHUNK_BYTES = 16 << 20
"""Most memory one chunk's interaction matrices may take (rows x features^2 x outputs floats)."""
MAX_TABLE_ENTRIES = 1 << 26
"""Largest total size of the per-leaf interaction tables (float64 entries, 512 MiB)."""


class InteractionParams(MethodParams):
    """Parameters of ``treeshap.interactions``."""

    engine: Literal["auto", "native"] = Field(
        "auto",
        description="auto: xai's interaction kernels, the library's own as fallback; "
        "native: always XGBoost's pred_interactions or shap's shap_interaction_values.",
    )
    n_jobs: int | None = Field(None, ge=1, description=N_JOBS_DESCRIPTION)
    sample_rows: int = Field(
        SAMPLE_ROWS, ge=0, le=10_000,
        description="per-row interaction matrices kept (a seeded sample of the rows)",
    )


@dataclass(frozen=True)
class InteractionSummary:
    """What the run keeps of the interaction values: bounded in rows.

    ``mean_abs[i, j, k]``: mean over all rows of |phi_ij| for output ``k`` (``phi_ij`` is half
    the pair's interaction index, the diagonal the main effect); ``sample``: the full matrices of
    the rows at ``sample_rows``; ``categories``: the labels of categorical features' codes (code
    ``c`` of ``data`` is ``categories[name][c]``), for plots.
    """

    features: tuple[str, ...]
    outputs: tuple[str, ...]
    rows: int
    mean_abs: np.ndarray
    sample_rows: np.ndarray
    sample: np.ndarray
    categories: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def pooled(self) -> np.ndarray:
        """Mean |phi_ij| summed over outputs (features x features)."""
        return self.mean_abs.sum(axis=2)

    def mass(self) -> np.ndarray:
        """Per feature and output: the share of its mean |attribution| that is interaction,
        ``sum_{j != i} mean|phi_ij| / sum_j mean|phi_ij|`` (features x outputs; 0 where the
        feature has no attribution at all)."""
        total = self.mean_abs.sum(axis=1)
        diag = np.einsum("iik->ik", self.mean_abs)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(total > 0, (total - diag) / total, 0.0)


@dataclass(frozen=True)
class InteractionAttribution(LocalAttribution):
    """The rows' SHAP values (the interaction matrices' row sums, so additivity is checked as for
    ``treeshap``) with the :class:`InteractionSummary` of the matrices."""

    interactions: InteractionSummary | None = None


# ----- xai's kernels -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Tables:
    """Per-leaf main and pair factors of a compiled model (see the kernel module)."""

    main_off: np.ndarray
    pair_off: np.ndarray
    main: np.ndarray
    pair: np.ndarray


def build_tables(compiled: tableshap.CompiledModel) -> Tables:
    """The interaction tables of ``compiled``; :class:`UnsupportedForest` when too large."""
    d = compiled.leaf_d.astype(np.int64)
    main_sizes = np.where(d > 0, d << np.maximum(d - 1, 0), 0)
    pair_sizes = np.where(d > 1, (d * (d - 1) // 2) << np.maximum(d - 2, 0), 0)
    main_off = np.concatenate([[0], np.cumsum(main_sizes)]).astype(np.int64)
    pair_off = np.concatenate([[0], np.cumsum(pair_sizes)]).astype(np.int64)
    if main_off[-1] + pair_off[-1] > MAX_TABLE_ENTRIES:
        raise UnsupportedForest(
            f"the interaction tables would hold {main_off[-1] + pair_off[-1]:,} values "
            f"(limit {MAX_TABLE_ENTRIES:,}); the trees are too deep or too many"
        )
    main, pair = ik.interaction_tables(
        compiled.leaf_d, compiled.leaf_feat_off, compiled.leaf_z, main_off, pair_off
    )
    return Tables(main_off, pair_off, main, pair)


def interaction_values(
    compiled: tableshap.CompiledModel, matrix: np.ndarray, tables: Tables
) -> np.ndarray:
    """Interaction values (rows x features x features x outputs) of encoded rows."""
    f, c = compiled.forest, compiled
    return ik.evaluate_interactions(
        np.ascontiguousarray(matrix, dtype=np.float64), f.n_outputs, tableshap.BLOCK_ROWS,
        f.tree_offsets, f.tree_output, f.left, f.right, f.feature, f.threshold, f.rule,
        f.missing, f.default_left, f.cat_offsets, f.cat_values, c.split_slot, c.leaf_d,
        c.leaf_feat_off, c.leaf_feats, c.leaf_z, f.value, tables.main_off, tables.pair_off,
        tables.main, tables.pair,
    )


def _fast(ctx: ExplainContext) -> tuple[Callable[[pd.DataFrame], np.ndarray], np.ndarray]:
    """xai's kernels: a function from rows to their matrices, and the base value per output."""
    compiled, offset = tableshap.checked_model(ctx)
    tables = ctx.cache.get("interactions.tables", (ctx.adapter,), lambda: build_tables(compiled))
    base = offset + tableshap.expected_leaves(compiled)
    return lambda X: interaction_values(compiled, tableshap.encode(compiled, X), tables), base


# ----- the libraries' own ------------------------------------------------------------------------
def _native(
    adapter: ModelAdapter, X: pd.DataFrame
) -> tuple[Callable[[pd.DataFrame], np.ndarray], np.ndarray]:
    """XGBoost's ``pred_interactions`` or shap's ``shap_interaction_values`` in xai's layout,
    and the base value per output (XGBoost's bias term, read from one row of ``X``)."""
    n_feat = len(adapter.feature_names)
    if adapter.family == "xgboost":
        def native(rows: pd.DataFrame) -> np.ndarray:
            out = adapter.native.predict(
                adapter.prepare(rows), pred_interactions=True,
                iteration_range=(0, adapter.n_iterations or 0),
            )
            return np.asarray(out, dtype=float).reshape(len(rows), -1, n_feat + 1, n_feat + 1)

        def compute(rows: pd.DataFrame) -> np.ndarray:
            return np.transpose(native(rows)[:, :, :n_feat, :n_feat], (0, 2, 3, 1))

        return compute, native(X.iloc[:1])[0, :, n_feat, n_feat]
    import shap

    explainer = shap.TreeExplainer(adapter.native)

    def compute_shap(X: pd.DataFrame) -> np.ndarray:
        values = np.asarray(explainer.shap_interaction_values(adapter.prepare(X)), dtype=float)
        if values.ndim == 3:
            values = values[:, :, :, None]
        elif values.shape[0] != len(X):  # a list per class
            values = np.moveaxis(values, 0, -1)
        if adapter.task == "binary" and values.shape[-1] == 2:
            values = values[..., 1:2]
        if values.shape[-1] != len(adapter.outputs):  # seen: a multiclass LightGBM Booster
            raise ValueError(
                f"shap's interaction values have {values.shape[-1]} output(s), the model has "
                f"{len(adapter.outputs)}; use engine=auto (xai's kernels)"
            )
        return values

    base = np.atleast_1d(np.asarray(explainer.expected_value, dtype=float))
    if adapter.task == "binary" and len(base) == 2:
        base = base[1:2]
    if len(base) != len(adapter.outputs):
        raise ValueError(
            f"shap's TreeExplainer sees {len(base)} output(s), the model has "
            f"{len(adapter.outputs)}; use engine=auto (xai's kernels)"
        )
    return compute_shap, base


# ----- streaming over rows -----------------------------------------------------------------------
def chunks(n_rows: int, n_features: int, n_outputs: int) -> Iterator[slice]:
    """Row slices whose matrices fit in :data:`CHUNK_BYTES` (at least one block each)."""
    per_row = max(1, n_features * n_features * n_outputs * 8)
    size = max(tableshap.BLOCK_ROWS * tableshap.thread_count(None), CHUNK_BYTES // per_row)
    for start in range(0, n_rows, size):
        yield slice(start, min(n_rows, start + size))


def accumulate(
    compute: Callable[[pd.DataFrame], np.ndarray],
    X: pd.DataFrame,
    n_features: int,
    n_outputs: int,
    sample_rows: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Explain ``X`` chunk by chunk: the SHAP values (rows x features x outputs), the mean
    |interaction| matrix and the matrices of the rows in ``sample_rows`` (sorted)."""
    n = len(X)
    shap_values = np.empty((n, n_features, n_outputs))
    abs_sum = np.zeros((n_features, n_features, n_outputs))
    sample = np.empty((len(sample_rows), n_features, n_features, n_outputs))
    for part in chunks(n, n_features, n_outputs):
        values = compute(X.iloc[part])
        shap_values[part] = values.sum(axis=2)
        abs_sum += np.abs(values).sum(axis=0)
        lo, hi = np.searchsorted(sample_rows, [part.start, part.stop])
        sample[lo:hi] = values[sample_rows[lo:hi] - part.start]
    return shap_values, abs_sum / max(n, 1), sample


def category_labels(X: pd.DataFrame) -> dict[str, tuple[str, ...]]:
    """Labels of the codes :func:`numeric_view` gives the non-numeric columns of ``X``."""
    out = {}
    for name in X.columns:
        col = X[name]
        if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            continue
        out[str(name)] = tuple(str(c) for c in col.astype("category").cat.categories)
    return out


@dataclass(frozen=True)
class TreeShapInteractions:
    """Exact path-dependent SHAP interaction values; global value = mean |SHAP| (row sums)."""

    name: str = "treeshap.interactions"
    library: str = "native"
    needs_target: bool = False
    uses_rows: bool = True
    description: str = (
        "exact path-dependent SHAP interaction values (xai kernels), top pairs and interaction "
        "mass; global = mean |SHAP|"
    )
    params: ClassVar[type[InteractionParams]] = InteractionParams
    in_auto: ClassVar[bool] = False
    """Not in ``auto``: per leaf it costs ``d(d+1)/2`` look-ups where ``treeshap`` costs ``d``
    (measured about 5x its time at depth 6: 1.7 s against 0.3 s for 1,000 rows of the benchmark's
    500 trees), and a matrix of features^2 x outputs per row."""
    row_wise: ClassVar[bool] = False
    """It streams over chunks of the rows itself; the summary is not a per-row value."""
    distributes: ClassVar[bool] = False

    def supports(self, adapter: ModelAdapter) -> Support:
        return TreeShap().supports(adapter)

    def cost_model(
        self, ctx: ExplainContext, rows: int, timer: Callable[[], float]
    ) -> tuple[float, str] | None:
        """No a-priori model: the estimate pilots it on a few rows."""
        return None

    estimate_seconds = cost_model

    def explain(self, ctx: ExplainContext) -> InteractionAttribution:
        a = ctx.adapter
        params = read_params(ctx, self.params, self.name)
        n_feat, n_out = len(a.feature_names), len(a.outputs)
        fast = None
        notes: tuple[str, ...] = ()
        if params.engine == "auto":
            try:
                fast = _fast(ctx)
            except UnsupportedForest as exc:
                notes = (f"fast path not used: {exc}; computed by {LIBRARY[a.family]}'s own",)
        compute, base = fast if fast is not None else _native(a, ctx.X)
        rng = np.random.default_rng(ctx.seed)
        n = len(ctx.X)
        sample_rows = np.sort(rng.choice(n, min(n, params.sample_rows), replace=False))
        with tableshap.threads(params.n_jobs):
            values, mean_abs, sample = accumulate(compute, ctx.X, n_feat, n_out, sample_rows)
        if fast is not None:
            library = FAST_LIBRARY
            notes = ("computed by xai's interaction kernels (exact path-dependent, numba); the "
                     f"parsed trees reproduced {LIBRARY[a.family]}'s raw predictions before use",)
        else:
            library = "xgboost" if a.family == "xgboost" else "shap"
        summary = InteractionSummary(
            features=a.feature_names, outputs=a.outputs, rows=n, mean_abs=mean_abs,
            sample_rows=sample_rows, sample=sample, categories=category_labels(ctx.X),
        )
        return InteractionAttribution(
            method=self.name,
            unit=f"mean_abs_shap:{a.raw_space}",
            features=a.feature_names,
            outputs=a.outputs,
            values=values,
            base_values=np.tile(base, (n, 1)),
            data=numeric_view(ctx.X),
            library=library,
            notes=notes,
            interactions=summary,
        )


EXPLAINERS = (TreeShapInteractions(),)
