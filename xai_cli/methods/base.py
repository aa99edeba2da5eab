"""The contract every explanation backend follows.

A backend is a small object with a ``name`` (the method id used in every output), a cheap
``supports`` check that never raises and says *why not*, and ``explain`` which returns one frozen
result. The engine, not the backend, catches failures, times runs and records provenance.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd

from xai_cli.methods.cache import RunCache
from xai_cli.model.adapter import ModelAdapter
from xai_cli.results import ImportanceTable, LocalAttribution


@dataclass(frozen=True)
class Support:
    """Whether a backend can run, and if not, why (shown by ``xai methods`` and in reports)."""

    ok: bool
    reason: str = ""


SUPPORTED = Support(True)


def unsupported(reason: str) -> Support:
    """A :class:`Support` that says no, with the reason."""
    return Support(False, reason)


@dataclass(frozen=True)
class ExplainContext:
    """What a backend gets: the model, the rows to explain and the settings.

    ``y`` is the target encoded for the model: class codes ``0..K-1`` in ``adapter.class_labels``
    order for classifiers, floats for regression, or ``None`` when no target was given.
    """

    adapter: ModelAdapter
    X: pd.DataFrame
    y: np.ndarray | None
    seed: int
    params: dict[str, Any] = field(default_factory=dict)
    task_map: Callable[..., list[Any]] | None = None
    """Runs ``fn(item, **shared)`` for each item somewhere else (Dask), in order; ``None``: in
    process. Only backends with ``distributes = True`` get one."""
    background: pd.DataFrame | None = None
    """The run's rows when ``X`` is only a few of them (a time estimate's pilot): background
    samples and the model check are drawn from these, so a pilot costs and checks what the run
    does; ``None``: ``X`` itself."""
    cache: RunCache = field(default_factory=RunCache)
    """What methods derive from the model once per run (parsed trees, tables), shared by the
    estimate's pilots and the run; see :mod:`xai_cli.methods.cache`."""


class Explainer(Protocol):
    """One explanation method."""

    name: str
    library: str
    needs_target: bool
    description: str
    uses_rows: bool
    """Whether the explained rows change the result (native importances read only the model)."""

    def supports(self, adapter: ModelAdapter) -> Support:
        """Cheap check that never raises."""
        ...

    def explain(self, ctx: ExplainContext) -> ImportanceTable | LocalAttribution:
        """Compute the explanation. May raise; the engine records the failure."""
        ...


def library_version(module_name: str) -> str:
    """Installed version of a library, or ``"unknown"``."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(module_name)
    except PackageNotFoundError:
        return "unknown"


def numeric_view(X: pd.DataFrame) -> np.ndarray:
    """Feature values as floats for plots: categories become their codes, missing stays NaN."""
    out = np.empty(X.shape, dtype=float)
    for j, name in enumerate(X.columns):
        col = X[name]
        if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            out[:, j] = col.to_numpy(dtype=float, na_value=np.nan)
        else:
            codes = col.astype("category").cat.codes.to_numpy().astype(float)
            codes[codes < 0] = np.nan
            out[:, j] = codes
    return out


def reindexed(scores: dict[str, float], features: tuple[str, ...]) -> np.ndarray:
    """A (features x 1) column from a name->score dict, 0 for features the dict omits."""
    return np.array([[float(scores.get(f, 0.0))] for f in features])
