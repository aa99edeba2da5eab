"""Executing a row-wise method over every row of a data file, locally or on Dask.

This module runs things; :mod:`xai_cli.load.streaming` only reads and sums. Here:
:func:`explain_partition` explains one partition with one method (locally with the run's loaded
model; a Dask worker loads the model itself, once per process, so it needs only file paths, never
a pickled model); :func:`run_rowwise` maps it over the file's partitions with the chosen engine
and reduces the partials in partition order; :func:`streamed` turns the reduced sums into the
method's table, sample values and additivity check, as a computation that
:func:`xai_cli.run.runner.run_method` runs and records exactly as it records an in-memory run.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from xai_cli import progress as units
from xai_cli.errors import UsageError
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
from xai_cli.methods.base import ExplainContext, numeric_view
from xai_cli.methods.cache import RunCache
from xai_cli.methods.params import MethodParams
from xai_cli.model.adapter import ModelAdapter, adapt
from xai_cli.request import ENGINES
from xai_cli.results import POOLED, Additivity, ImportanceTable, LocalAttribution
from xai_cli.run.runner import Compute, Computed


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
    columns: tuple[str, ...] = ()
    """The data's columns, so a worker matches the model's stored names to them as the run did
    (:func:`xai_cli.model.names.align_names`)."""


@functools.lru_cache(maxsize=4)
def _adapter(model_path: str, trust: bool, mtime_ns: int) -> ModelAdapter:
    """The model of a job, loaded once per process (keyed by its modification time too)."""
    return adapt(load_model(model_path, trust=trust).obj)


def explain_partition(
    part: Partition,
    job: RowwiseJob,
    adapter: ModelAdapter | None = None,
    cache: RunCache | None = None,
) -> Partial:
    """Explain every row of one partition, chunk by chunk; return its sums and sample.

    ``adapter`` and ``cache`` are the run's loaded model and what its methods derived from it
    (parsed trees, tables) when the partition runs in the run's own process; a Dask worker passes
    neither, loads the model from ``job.model_path`` (once per process) and derives anew.
    """
    if adapter is None:
        mtime = Path(job.model_path).stat().st_mtime_ns
        adapter = _adapter(job.model_path, job.trust_model, mtime)
        if job.columns:
            from xai_cli.model.names import align_names

            adapter = align_names(adapter, job.columns, (job.target or "", *job.drop))
    explainer = REGISTRY[job.method]
    total: Partial | None = None
    offset = 0
    if cache is None:  # the partition's chunks parse and compile the model once between them
        cache = RunCache()
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
        if y is not None and y.isna().any():  # copies only when a row must be left out
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
    adapter: ModelAdapter | None = None,
    cache: RunCache | None = None,
) -> Partial:
    """Explain every row of ``data_path`` with ``job.method``; partials reduced in order.

    ``scheduler`` is a Dask address, a run's :class:`~xai_cli.run.distributed.DaskSession`, or None
    (a ``LocalCluster``); only the dask engine uses it. ``adapter`` and ``cache``: the run's loaded
    model and its derived trees and tables, which the local engine uses instead of loading and
    parsing the model again (Dask workers load it themselves).
    """
    parts = partitions(data_path, job.chunk_rows)
    if engine == "local":
        # each partition's partial is folded in as it comes (the same left fold, in the same
        # order, as reduce_partials), so memory holds one sample, not one per partition
        reduced: Partial | None = None
        total, done = sum(p.rows for p in parts), 0
        for i, part in enumerate(parts):
            progress(f"{job.method}: partition {i + 1}/{len(parts)}")
            with units.suppressed():  # the file's rows are the units here, not a chunk's
                one = explain_partition(part, job, adapter, cache)
            reduced = one if reduced is None else reduced.merge(one, job.sample_rows)
            done += part.rows
            units.advance(done, total, "rows")
        if reduced is None:
            raise ValueError(f"{data_path} has no partitions to explain")
        return reduced
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


def streamed(
    ctx: ExplainContext,
    job: RowwiseJob,
    data_path: Path,
    engine: str,
    scheduler: Any,
    progress: Callable[[str], None],
) -> Compute:
    """The computation of a row-wise method over every row of the file, for
    :func:`xai_cli.run.runner.run_method` to run and record.

    The table covers all rows; the local values kept for plots are those of the sample rows
    (``ctx.X``), which are the same rows the streamed sample kept. The additivity check covers
    every row too.
    """

    def compute() -> Computed:
        a = ctx.adapter
        partial = run_rowwise(data_path, job, engine, scheduler, progress, a, ctx.cache)
        if len(partial.keys) != len(ctx.X):
            raise RuntimeError(
                f"streamed sample has {len(partial.keys)} rows, the loaded sample {len(ctx.X)}"
            )
        n_parts = len(partitions(data_path, job.chunk_rows))
        table = table_from(
            partial, job.method, a.feature_names, a.outputs,
            {"streamed": True, "engine": engine, "chunk_rows": job.chunk_rows},
        )  # fmt: skip
        local = LocalAttribution(
            method=job.method,
            unit=partial.unit,
            features=a.feature_names,
            outputs=a.outputs,
            values=partial.values,
            base_values=partial.base,
            data=numeric_view(ctx.X),
        )
        note = (
            f"streamed over all {partial.rows} rows in {n_parts} partitions, chunks of at most "
            f"{job.chunk_rows} rows, engine {engine}; plots use the {len(partial.keys)}-row sample"
        )
        scale = max(1.0, partial.raw_max - partial.raw_min)
        check = Additivity(
            method=job.method,
            max_abs_error=partial.max_error,
            p99_abs_error=float(np.percentile(partial.errors, 99)) if len(partial.errors) else 0.0,
            tolerance=1e-4 * scale,
            rows=partial.rows,
        )
        return Computed(table, local, partial.library, (*partial.notes, note), check)

    return compute
