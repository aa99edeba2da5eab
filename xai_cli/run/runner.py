"""Running one method and recording its outcome: the one place a :class:`MethodOutcome` is made.

How a method's numbers are computed varies: in memory on the run's sample (:func:`in_memory`,
the method's own ``n_jobs`` or Dask tasks inside it), or streamed over every row of the data file
in partitions, locally or on Dask (:func:`xai_cli.run.rowwise.streamed`). How the result is
recorded does not: :func:`run_method` times the computation, names the library that computed it,
keeps its notes, turns any exception into a ``failed`` outcome with the reason (one failing method
never loses the others' results) and rejects non-finite importances. So a streamed and an in-memory
run of the same method carry the same provenance fields and fail the same way.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from xai_cli.errors import describe
from xai_cli.methods.base import ExplainContext, Explainer, library_version
from xai_cli.results import (
    Additivity,
    ImportanceTable,
    LocalAttribution,
    MethodOutcome,
    MethodProvenance,
)

NON_FINITE = "produced non-finite importances (NaN or infinity)"
"""The reason a method whose importances hold NaN or infinity is recorded as failed."""


@dataclass(frozen=True)
class Computed:
    """What a method computed, before it is recorded.

    ``library`` names the code that computed it when that differs from the backend's default
    (e.g. xai's own TreeSHAP kernels); ``check`` is the additivity check when the computation
    measured it itself (a streamed run checks every row as it goes).
    """

    table: ImportanceTable
    local: LocalAttribution | None = None
    library: str = ""
    notes: tuple[str, ...] = ()
    check: Additivity | None = None


Compute = Callable[[], Computed]
"""A method's computation, run (and timed) by :func:`run_method`; it may raise."""


def in_memory(explainer: Explainer, ctx: ExplainContext) -> Compute:
    """The method on the run's sample rows in this process (``ctx.task_map`` may send its
    prediction tasks to Dask)."""

    def compute() -> Computed:
        output = explainer.explain(ctx)
        if isinstance(output, LocalAttribution):
            return Computed(output.to_global(), output, output.library, output.notes)
        return Computed(output)

    return compute


def default_library(explainer: Explainer, family: str) -> str:
    """The library a backend's numbers come from unless its result names another: the model's own
    library for ``native`` backends (shap's for scikit-learn trees)."""
    if explainer.library == "native":
        return {"sklearn_tree": "shap"}.get(family, family)
    return explainer.library


def run_method(
    explainer: Explainer, chosen_by: str, family: str, compute: Compute
) -> tuple[MethodOutcome, Additivity | None]:
    """Run ``compute`` for ``explainer`` and record the outcome; never raises for the method's own
    failure. Returns the outcome and the additivity check the computation measured, if any."""
    library = default_library(explainer, family)
    provenance: dict[str, Any] = {
        "backend": explainer.name,
        "chosen_by": chosen_by,
        "library": library,
        "library_version": library_version(library),
        "uses_rows": explainer.uses_rows,
    }
    start = time.perf_counter()
    try:
        computed = compute()
    except Exception as exc:  # a backend failure must not lose the other backends' results
        elapsed = time.perf_counter() - start
        return MethodOutcome(
            explainer.name, "failed", describe(exc, 300),
            provenance=MethodProvenance(**provenance, elapsed_s=elapsed),
        ), None  # fmt: skip
    elapsed = time.perf_counter() - start
    if computed.library:
        provenance["library"] = computed.library
        provenance["library_version"] = library_version(computed.library)
    if computed.notes:
        provenance["notes"] = computed.notes
    recorded = MethodProvenance(**provenance, elapsed_s=elapsed)
    if not np.isfinite(computed.table.values).all():
        return MethodOutcome(explainer.name, "failed", NON_FINITE, provenance=recorded), None
    outcome = MethodOutcome(
        explainer.name, "ok", table=computed.table, local=computed.local, provenance=recorded
    )
    return outcome, computed.check
