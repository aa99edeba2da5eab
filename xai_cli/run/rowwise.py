"""Running one row-wise method over every row of a data file: in this process or on Dask.

:func:`explain_partition` is the unit of work; it loads the model itself (once per process), so a
Dask worker needs only the file paths, never a pickled model object. :func:`run_rowwise` maps it
over the file's partitions with the chosen engine and reduces the results in partition order.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from xai_cli.errors import UsageError, describe
from xai_cli.load.data import split_features
from xai_cli.load.models import load_model
from xai_cli.load.streaming import (
    Partial,
    Partition,
    chunk_partial,
    partitions,
    read_chunks,
    reduce_partials,
    row_keys,
)
from xai_cli.methods import REGISTRY
from xai_cli.methods.base import ExplainContext, Explainer, library_version, numeric_view
from xai_cli.methods.cache import RunCache
from xai_cli.methods.params import MethodParams
from xai_cli.model.adapter import ModelAdapter, adapt
from xai_cli.request import ENGINES
from xai_cli.results import (
    POOLED,
    Additivity,
    ImportanceTable,
    LocalAttribution,
    MethodOutcome,
    MethodProvenance,
)


@dataclass(frozen=True)
class RowwiseJob:
    """Everything a worker needs to explain partitions of a file with one method."""

    model_path: str
    trust_model: bool
    method: str
    target: str | None
    drop: tuple[str, ...]
    seed: int
    chunk_rows: int
    sample_rows: int
    params: MethodParams | dict[str, Any] = field(default_factory=dict)
    """The method's typed parameters (or a mapping its model validates)."""


@functools.lru_cache(maxsize=4)
def _adapter(model_path: str, trust: bool, mtime_ns: int) -> ModelAdapter:
    """The model of a job, loaded once per process (keyed by its modification time too)."""
    return adapt(load_model(model_path, trust=trust).obj)


def explain_partition(part: Partition, job: RowwiseJob) -> Partial:
    """Explain every row of one partition, chunk by chunk; return its sums and sample."""
    adapter = _adapter(job.model_path, job.trust_model, Path(job.model_path).stat().st_mtime_ns)
    explainer = REGISTRY[job.method]
    total: Partial | None = None
    offset = 0
    cache = RunCache()  # the partition's chunks parse and compile the model once between them
    for frame in read_chunks(part, job.chunk_rows):
        keys = row_keys(job.seed, part.start + offset, len(frame))
        offset += len(frame)
        X, y = split_features(
            frame,
            adapter.feature_names,
            target=job.target,
            drop=job.drop,
            by_position=not adapter.feature_names_known,
        )
        if y is not None:
            keep = y.notna().to_numpy()
            X, keys, frame = X[keep], keys[keep], frame[keep]
        if len(X) == 0:
            continue
        ctx = ExplainContext(
            adapter=adapter, X=X, y=None, seed=job.seed, params=job.params, cache=cache
        )
        local = explainer.explain(ctx)
        if not isinstance(local, LocalAttribution):
            raise TypeError(f"{job.method} is not a row-wise method")
        raw = np.asarray(adapter.predict_raw(X), dtype=float)
        part_ = chunk_partial(
            local.values, local.base_values, raw, frame, keys, job.sample_rows, local.unit,
            local.library, local.notes,
        )  # fmt: skip
        total = part_ if total is None else total.merge(part_, job.sample_rows)
    if total is None:
        raise ValueError(f"partition {part.index} of {part.path} has no rows to explain")
    return total


def run_rowwise(
    data_path: Path,
    job: RowwiseJob,
    engine: str = "local",
    scheduler: Any = None,
    progress: Callable[[str], None] = lambda _m: None,
) -> Partial:
    """Explain every row of ``data_path`` with ``job.method``; partials reduced in order.

    ``scheduler`` is a Dask address, a run's :class:`~xai_cli.run.distributed.DaskSession`, or None
    (a ``LocalCluster``); only the dask engine uses it.
    """
    parts = partitions(data_path, job.chunk_rows)
    if engine == "local":
        results = []
        for i, part in enumerate(parts):
            progress(f"{job.method}: partition {i + 1}/{len(parts)}")
            results.append(explain_partition(part, job))
    elif engine == "dask":
        from xai_cli.run.distributed import map_partitions

        if data_path.suffix.lower() != ".parquet":
            raise UsageError(
                "--engine dask reads Parquet files (their row groups are the partitions)",
                hint="convert the CSV to Parquet, or use --engine local",
            )
        progress(f"{job.method}: {len(parts)} partitions on dask")
        results = map_partitions(explain_partition, parts, job, scheduler)
    else:
        raise UsageError(f"unknown engine '{engine}'", hint=f"use one of: {', '.join(ENGINES)}")
    return reduce_partials(results, job.sample_rows)


def table_from(partial: Partial, method: str, features: tuple[str, ...], outputs: tuple[str, ...],
               params: dict[str, Any]) -> ImportanceTable:  # fmt: skip
    """Mean |attribution| over every row, from the running sums (as ``LocalAttribution.to_global``
    computes it from the values)."""
    n = partial.rows
    per_output = partial.sum_abs / n
    if len(outputs) == 1:
        values, labels = per_output, (POOLED,)
    else:
        values = np.hstack([(partial.sum_abs_pooled / n)[:, None], per_output])
        labels = (POOLED, *outputs)
    return ImportanceTable(
        method=method,
        unit=partial.unit,
        features=features,
        outputs=labels,
        values=values,
        params={"aggregation": "mean_abs", "rows": int(n), **params},
    )


def run_streamed(
    explainer: Explainer,
    chosen_by: str,
    ctx: ExplainContext,
    job: RowwiseJob,
    data_path: Path,
    engine: str,
    scheduler: Any,
    progress: Callable[[str], None],
) -> tuple[MethodOutcome, Additivity | None]:
    """Run a row-wise method over every row of the file; a failure is an outcome, not an error.

    The table covers all rows; the local values kept for plots are those of the sample rows
    (``ctx.X``), which are the same rows the streamed sample kept.
    """
    a = ctx.adapter
    provenance = {
        "backend": explainer.name,
        "chosen_by": chosen_by,
        "library": {"sklearn_tree": "shap"}.get(a.family, a.family),
    }
    provenance["library_version"] = library_version(provenance["library"])
    start = time.perf_counter()
    try:
        partial = run_rowwise(data_path, job, engine, scheduler, progress)
        if len(partial.keys) != len(ctx.X):
            raise RuntimeError(
                f"streamed sample has {len(partial.keys)} rows, the loaded sample {len(ctx.X)}"
            )
        n_parts = len(partitions(data_path, job.chunk_rows))
        table = table_from(
            partial, explainer.name, a.feature_names, a.outputs,
            {"streamed": True, "engine": engine, "chunk_rows": job.chunk_rows},
        )  # fmt: skip
        local = LocalAttribution(
            method=explainer.name,
            unit=partial.unit,
            features=a.feature_names,
            outputs=a.outputs,
            values=partial.values,
            base_values=partial.base,
            data=numeric_view(ctx.X),
        )
    except Exception as exc:  # a backend failure must not lose the other backends' results
        elapsed = time.perf_counter() - start
        reason = describe(exc, 300)
        return MethodOutcome(
            explainer.name, "failed", reason,
            provenance=MethodProvenance(**provenance, elapsed_s=elapsed),
        ), None  # fmt: skip
    elapsed = time.perf_counter() - start
    if partial.library:
        provenance["library"] = partial.library
        provenance["library_version"] = library_version(partial.library)
    note = (
        f"streamed over all {partial.rows} rows in {n_parts} partitions, chunks of at most "
        f"{job.chunk_rows} rows, engine {engine}; plots use the {len(partial.keys)}-row sample"
    )
    if not np.isfinite(table.values).all():
        return MethodOutcome(
            explainer.name, "failed", "produced non-finite importances (NaN or infinity)",
            provenance=MethodProvenance(**provenance, elapsed_s=elapsed,
                                         notes=(*partial.notes, note)),
        ), None  # fmt: skip
    scale = max(1.0, partial.raw_max - partial.raw_min)
    check = Additivity(
        method=explainer.name,
        max_abs_error=partial.max_error,
        p99_abs_error=float(np.percentile(partial.errors, 99)) if len(partial.errors) else 0.0,
        tolerance=1e-4 * scale,
        rows=partial.rows,
    )
    return MethodOutcome(
        explainer.name, "ok", table=table, local=local,
        provenance=MethodProvenance(**provenance, elapsed_s=elapsed, notes=(*partial.notes, note)),
    ), check  # fmt: skip
