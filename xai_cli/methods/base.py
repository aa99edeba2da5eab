"""The contract every explanation backend follows.

A backend is a small object with a ``name`` (the method id used in every output), a cheap
``supports`` check that never raises and says *why not*, and ``explain`` which returns one frozen
result. It declares, once, its parameters (``params``: a :class:`MethodParams` model with types,
bounds, defaults and descriptions) and its capabilities (``in_auto``, ``row_wise``,
``distributes``, ``uses_rows`` and the ``estimate_seconds`` cost model); the engine, the CLI, the
config and the estimate read these declarations, never ``getattr`` with a default. The engine, not
the backend, catches failures, times runs and records provenance.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, TypeVar

import numpy as np
import pandas as pd

from xai_cli.methods.cache import RunCache
from xai_cli.methods.params import MethodParams, parse
from xai_cli.model.adapter import ModelAdapter
from xai_cli.results import ImportanceTable, LocalAttribution

P = TypeVar("P", bound=MethodParams)
Timer = Callable[[], float]


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
    params: MethodParams | Mapping[str, Any] = field(default_factory=dict)
    """The method's parameters: its typed model (the engine passes one), or a mapping that the
    method validates through its model when it reads them (:func:`read_params`)."""
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
    """One explanation method: what it is, what it takes, what it can do, and how it runs.

    Every attribute is declared explicitly by each backend (the registry refuses one that is
    missing, see :func:`check_declared`), so no caller guesses a capability.
    """

    name: str
    library: str
    needs_target: bool
    description: str
    uses_rows: bool
    """Whether the explained rows change the result (native importances read only the model)."""
    params: ClassVar[type[MethodParams]]
    """The method's parameters: names, types, bounds, defaults (:class:`NoParams` for none)."""
    in_auto: ClassVar[bool]
    """Whether ``auto`` runs it; ``False``: only when named (costly or needs a choice)."""
    row_wise: ClassVar[bool]
    """Whether each row's values depend only on that row, so it can stream over chunks."""
    distributes: ClassVar[bool]
    """Whether its independent tasks run on Dask (``ctx.task_map``) with ``--engine dask``."""

    def supports(self, adapter: ModelAdapter) -> Support:
        """Cheap check that never raises."""
        ...

    def explain(self, ctx: ExplainContext) -> ImportanceTable | LocalAttribution:
        """Compute the explanation. May raise; the engine records the failure."""
        ...

    def cost_model(
        self, ctx: ExplainContext, rows: int, timer: Timer
    ) -> tuple[float, str] | None:
        """A cheap a-priori time for ``rows`` rows and how it was found (one timed block or
        prediction); ``None`` when the method has none. A run predicted short is not piloted."""
        ...

    def estimate_seconds(
        self, ctx: ExplainContext, rows: int, timer: Timer
    ) -> tuple[float, str] | None:
        """This run's seconds from a few timed steps, when piloting; ``None`` when the method has
        no such model (then it is estimated from timed pilots on rows)."""
        ...


CAPABILITIES: dict[str, type] = {
    "in_auto": bool,
    "row_wise": bool,
    "distributes": bool,
    "uses_rows": bool,
    "needs_target": bool,
}
"""The declared capabilities and their types (checked for every registered backend)."""


def check_declared(explainer: Any) -> None:
    """Raise ``TypeError`` unless ``explainer`` declares every part of :class:`Explainer`.

    Run over the registry at import: a backend missing a declaration is a programming error,
    found at once rather than answered by a silent default.
    """
    name = getattr(explainer, "name", type(explainer).__name__)
    missing = [a for a in ("name", "params", *CAPABILITIES) if not hasattr(explainer, a)]
    if missing:
        raise TypeError(f"method {name} does not declare {', '.join(missing)}")
    wrong = [a for a, kind in CAPABILITIES.items() if not isinstance(getattr(explainer, a), kind)]
    if wrong:
        raise TypeError(f"method {name}: {', '.join(wrong)} must be declared as True or False")
    if not (isinstance(explainer.params, type) and issubclass(explainer.params, MethodParams)):
        raise TypeError(f"method {name}: params must be a MethodParams model")
    for hook in ("supports", "explain", "cost_model", "estimate_seconds"):
        if not callable(getattr(explainer, hook, None)):
            raise TypeError(f"method {name} does not define {hook}()")


def read_params(ctx: ExplainContext, model: type[P], method: str) -> P:
    """``ctx.params`` as ``method``'s typed parameters (a mapping is validated first)."""
    parsed = parse(method, model, ctx.params)
    assert isinstance(parsed, model)
    return parsed


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
