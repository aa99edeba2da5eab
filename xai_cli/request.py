"""What the user asked ``xai explain`` for: one frozen, validated request shared by the CLI, the
batch runner (``xai run``), the audit and the Python API, so every entry point runs exactly the
same thing and refuses the same mistakes.

The request checks itself when it is made, before any model is loaded: method ids (with a "did
you mean"), every method's parameters against the model the method declares
(:func:`xai_cli.methods.validate_params`), and the run-wide settings' ranges. Each default lives
here once (``DEFAULT_*``); the CLI options and the config schema use these constants.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from xai_cli.errors import UsageError

if TYPE_CHECKING:
    from xai_cli.methods.base import Explainer
    from xai_cli.methods.params import MethodParams

DEFAULT_METHODS: tuple[str, ...] = ("auto",)
"""Every applicable method that ``auto`` runs."""
DEFAULT_SEED = 0
"""The one seed for sampling, shuffles and background samples."""
DEFAULT_TOP_K = 5
"""k for top-k overlap and the consensus."""
ENGINES = ("local", "dask")
"""Where row-wise methods run: in process, or streamed over every row on Dask."""
DEFAULT_ENGINE = "local"
LEVELS = ("raw", "encoded")
"""How a pipeline's features are reported: its raw input columns, or the encoded features."""

DEFAULT_MAX_ROWS = 10_000
"""Rows the CLI and configs explain by default (a seeded sample); ``all`` explains every row.

Here rather than in :mod:`xai_cli.load.data` so that ``xai explain --help`` can show it without
importing pandas."""


@dataclass(frozen=True)
class ExplainRequest:
    """What the user asked for; every option of ``xai explain``, checked when made.

    ``params`` may be given as ``{method: {name: value}}`` (text is coerced, as from
    ``--param``); it is stored as ``{method: typed params}``. Raises
    :class:`xai_cli.errors.UsageError` (``ParamError`` for parameters, ``MethodError`` for an
    unknown method) on the first problem.
    """

    model_path: str
    data_path: str
    target: str | None = None
    methods: tuple[str, ...] = DEFAULT_METHODS
    max_rows: int | None = None
    """Explain a seeded sample of at most this many rows; ``None``: every row."""
    seed: int = DEFAULT_SEED
    top_k: int = DEFAULT_TOP_K
    trust_model: bool = False
    drop: tuple[str, ...] = ()
    params: Mapping[str, MethodParams] = field(default_factory=dict)
    engine: str = DEFAULT_ENGINE
    scheduler: str | None = None
    chunk_rows: int | None = None
    n_jobs: int | None = None
    """Threads for backends that parallelise over row chunks (their ``n_jobs`` parameter, unless
    set for the method itself); ``None``: theirs."""
    max_model_size: str | int | None = None
    """Cap on the model's (decompressed) size, e.g. ``"8G"``; None: XAI_MAX_MODEL_SIZE or 1 GiB."""
    time_limit: float | None = None
    """Seconds a method may be estimated to take (checked when the run estimates); None: any."""
    rows: tuple[int | str, ...] = ()
    """Rows to explain one by one (``--rows``): 0-based positions in the data, or ids of
    ``id_column`` when it is given. Always explained, even when the run samples ``max_rows``."""
    where: str | None = None
    """A pandas query on the raw data (``--where "age > 60"``) choosing more rows to explain."""
    id_column: str | None = None
    """A column naming the rows (not a feature): ``rows`` are its values, reports show them."""
    level: str = "raw"
    """A pipeline's features in the results: ``raw`` input columns (encoded features' values
    summed per column) or ``encoded`` features (what the final estimator sees)."""
    memory_budget: str | int | None = None
    """Bytes (or ``"4GiB"``) a run may hold for its rows and per-row results before it streams
    on its own (:mod:`xai_cli.run.memory`); ``"none"``: never; None: XAI_MEMORY_BUDGET, else a
    quarter of physical memory, at most 2 GiB."""

    def __post_init__(self) -> None:
        from xai_cli.methods import check_methods, validate_params

        methods = (self.methods,) if isinstance(self.methods, str) else self.methods
        object.__setattr__(self, "methods", check_methods(methods) or DEFAULT_METHODS)
        object.__setattr__(self, "drop", tuple(self.drop))
        object.__setattr__(self, "params", validate_params(self.params))
        _at_least(1, top_k=self.top_k, max_rows=self.max_rows, chunk_rows=self.chunk_rows,
                  n_jobs=self.n_jobs)  # fmt: skip
        _check_selection(self)
        if self.memory_budget is not None:
            from xai_cli.run.memory import parse_budget

            parse_budget(self.memory_budget)
        if self.level not in LEVELS:
            raise UsageError(
                f"unknown level '{self.level}'", hint=f"use one of: {', '.join(LEVELS)}"
            )
        if self.engine not in ENGINES:
            raise UsageError(
                f"unknown engine '{self.engine}'", hint=f"use one of: {', '.join(ENGINES)}"
            )

    @property
    def streamed(self) -> bool:
        """Row-wise methods stream over every row (``--chunk-rows`` or ``--engine dask``)."""
        return self.chunk_rows is not None or self.engine != "local"

    def params_for(self, explainer: Explainer) -> MethodParams:
        """``explainer``'s typed parameters in this run: those given for it, else its defaults,
        with the run-wide ``n_jobs`` where the method declares one and was not given its own."""
        from xai_cli.methods import with_params

        return with_params(explainer, self.params, n_jobs=self.n_jobs)

    def params_dump(self) -> dict[str, dict[str, Any]]:
        """The parameters as given (defaults left out), as JSON-safe data."""
        return {m: p.model_dump(mode="json", exclude_unset=True) for m, p in self.params.items()}


MAX_CHOSEN_ROWS = 100
"""Rows explained one by one at most: more than this from ``--where`` keeps the first ones."""


def _check_selection(request: ExplainRequest) -> None:
    """Normalise ``rows`` (a comma-separated string is split) and check it before any loading:
    without ``id_column`` each entry must be a position (a non-negative integer)."""
    rows = request.rows
    if isinstance(rows, str | int):
        rows = (rows,)
    items: list[int | str] = []
    for item in rows:
        parts = item.split(",") if isinstance(item, str) else [item]
        items.extend(p.strip() if isinstance(p, str) else p for p in parts)
    items = [i for i in items if i != ""]
    if request.id_column is None:
        positions = []
        for item in items:
            text = str(item)
            if isinstance(item, bool) or not text.isdigit():
                raise UsageError(
                    f"--rows takes 0-based row positions, got '{text}'",
                    hint="pass --id-column COLUMN to choose rows by the values of an id column",
                )
            positions.append(int(text))
        items = list(dict.fromkeys(positions))
    else:
        items = list(dict.fromkeys(str(i) for i in items))
    if len(items) > MAX_CHOSEN_ROWS:
        raise UsageError(
            f"--rows names {len(items)} rows; at most {MAX_CHOSEN_ROWS} are explained one by one",
            hint="the whole-data summaries already cover every row; pick the rows to look at",
        )
    object.__setattr__(request, "rows", tuple(items))
    if request.where is not None and not request.where.strip():
        raise UsageError("--where is empty", hint='pass a pandas query, e.g. --where "age > 60"')
    if request.id_column is not None and request.id_column in request.drop:
        raise UsageError(f"--id-column '{request.id_column}' is also in --drop")
    if request.id_column is not None and request.id_column == request.target:
        raise UsageError(f"--id-column '{request.id_column}' is the target column")


def _at_least(low: int, **values: int | None) -> None:
    """A :class:`UsageError` for the first value given below ``low`` (as its option name)."""
    for name, value in values.items():
        if value is not None and value < low:
            option = "--" + name.replace("_", "-")
            raise UsageError(f"{option} must be at least {low} (got {value})")
