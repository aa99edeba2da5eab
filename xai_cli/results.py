"""Frozen result types: what a backend returns and what a run produces.

Every numpy array stored here is made read-only, so a renderer or a comparison cannot change a
result by accident. Raw magnitudes of different units are never compared;
:mod:`xai_cli.compare.agreement` works on normalised shares and ranks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

if TYPE_CHECKING:
    from xai_cli.report_rows import CategoryEntry, ModelMetrics, RowsSection

POOLED = "all"
"""Label of the pooled output column (all classes together, or the only output)."""


def _frozen(array: Any, ndim: int, name: str) -> np.ndarray:
    out = np.array(array, dtype=float, copy=True)
    if out.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {out.shape}")
    out.setflags(write=False)
    return out


@dataclass(frozen=True)
class MethodProvenance:
    """How one method's numbers came to be: which code, why it was chosen, how long it took."""

    backend: str
    chosen_by: Literal["user", "auto"]
    library: str
    library_version: str
    elapsed_s: float = 0.0
    notes: tuple[str, ...] = ()
    uses_rows: bool = True
    """False for importances read from the model alone: the row sample cannot change them."""
    estimated_s: float | None = None
    """The time estimated before the run (a timed pilot on a few rows), to compare with
    ``elapsed_s``; None when no estimate was made."""


@dataclass(frozen=True)
class ImportanceTable:
    """Global importances of one method: ``values[i, j]`` is feature ``features[i]`` for output
    ``outputs[j]``. The pooled column is labelled :data:`POOLED`."""

    method: str
    unit: str
    features: tuple[str, ...]
    outputs: tuple[str, ...]
    values: np.ndarray
    spread: np.ndarray | None = None
    spread_kind: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    bootstrap: np.ndarray | None = None
    """Pooled importances recomputed on each bootstrap resample of the rows (resamples x
    features), for methods without per-row values that can reweight rows cheaply (permutation);
    the engine turns it into rank intervals. Not rendered."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", _frozen(self.values, 2, "values"))
        if self.bootstrap is not None:
            object.__setattr__(self, "bootstrap", _frozen(self.bootstrap, 2, "bootstrap"))
            if self.bootstrap.shape[1] != len(self.features):
                raise ValueError(f"{self.method}: bootstrap needs one column per feature")
        if self.values.shape != (len(self.features), len(self.outputs)):
            raise ValueError(
                f"{self.method}: values shape {self.values.shape} does not match "
                f"{len(self.features)} features x {len(self.outputs)} outputs"
            )
        if self.spread is not None:
            object.__setattr__(self, "spread", _frozen(self.spread, 2, "spread"))
            if self.spread.shape != self.values.shape:
                raise ValueError(f"{self.method}: spread shape differs from values shape")

    def column(self, output: str = POOLED) -> np.ndarray:
        """The importance vector for one output label, in feature order."""
        return self.values[:, self.outputs.index(output)]


@dataclass(frozen=True)
class LocalAttribution:
    """Per-row attributions (rows x features x outputs) with their base values (rows x outputs).

    ``data`` holds the explained rows' feature values as numbers (categories as codes), for plots.
    ``library`` (when set) names the code that computed the values, overriding the backend's
    default in the provenance; ``notes`` go into the provenance (e.g. why a fast path was not
    used).
    """

    method: str
    unit: str
    features: tuple[str, ...]
    outputs: tuple[str, ...]
    values: np.ndarray
    base_values: np.ndarray
    data: np.ndarray
    library: str = ""
    notes: tuple[str, ...] = ()
    spread: np.ndarray | None = None
    """The uncertainty of each value (rows x features x outputs): a sampling estimator's
    standard error (KernelSHAP), or the spread over baselines (Integrated Gradients), as
    ``spread_kind`` says; ``to_global`` turns it into the table's spread and the rank intervals
    widen with it. ``None``: the values are exact (or the method has no such error)."""
    spread_kind: str = "stderr"
    additive: bool = True
    """Whether values plus base values add up to the raw prediction (Shapley methods); the
    engine checks additivity only when they should (not LIME, occlusion, gradients)."""
    params: dict[str, Any] = field(default_factory=dict)
    """The method's settings and derived figures (background size, budget, stability), carried
    into the global table's parameters and so into the report."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", _frozen(self.values, 3, "values"))
        object.__setattr__(self, "base_values", _frozen(self.base_values, 2, "base_values"))
        object.__setattr__(self, "data", _frozen(self.data, 2, "data"))
        if self.spread is not None:
            object.__setattr__(self, "spread", _frozen(self.spread, 3, "spread"))
            if self.spread.shape != self.values.shape:
                raise ValueError(f"{self.method}: spread shape differs from values shape")
        n, f, k = self.values.shape
        if f != len(self.features) or k != len(self.outputs):
            raise ValueError(f"{self.method}: values shape {self.values.shape} mismatches labels")
        if self.base_values.shape != (n, k):
            raise ValueError(f"{self.method}: base_values must be ({n}, {k})")
        if self.data.shape != (n, f):
            raise ValueError(f"{self.method}: data must be ({n}, {f})")

    def to_global(self) -> ImportanceTable:
        """Mean |attribution| per output; with several outputs the pooled column is
        mean over rows of the sum over outputs of |attribution|, mirroring how native importances
        pool the trees of all classes."""
        abs_values = np.abs(self.values)
        per_output = abs_values.mean(axis=0)
        if len(self.outputs) == 1:
            values, outputs = per_output, (POOLED,)
        else:
            pooled = abs_values.sum(axis=2).mean(axis=0)[:, None]
            values, outputs = np.hstack([pooled, per_output]), (POOLED, *self.outputs)
        spread = None
        if self.spread is not None:  # |.| is 1-Lipschitz: the mean's error from the rows' errors
            n = max(self.values.shape[0], 1)
            per_output_se = np.sqrt((self.spread**2).sum(axis=0)) / n
            pooled_se = np.sqrt((self.spread**2).sum(axis=(0, 2)))[:, None] / n
            spread = (
                per_output_se if len(self.outputs) == 1 else np.hstack([pooled_se, per_output_se])
            )
        return ImportanceTable(
            method=self.method,
            unit=self.unit,
            features=self.features,
            outputs=outputs,
            values=values,
            spread=spread,
            spread_kind=None if spread is None else self.spread_kind,
            params={**self.params, "aggregation": "mean_abs", "rows": int(self.values.shape[0])},
        )


@dataclass(frozen=True)
class Additivity:
    """How far sum(contributions) + base value is from the model's raw prediction."""

    method: str
    max_abs_error: float
    p99_abs_error: float
    tolerance: float
    rows: int

    @property
    def ok(self) -> bool:
        return self.max_abs_error <= self.tolerance


Status = Literal["ok", "skipped", "failed"]


@dataclass(frozen=True)
class MethodOutcome:
    """The result of asking one method to run: a table (and maybe local values), or why not."""

    method: str
    status: Status
    reason: str | None = None
    table: ImportanceTable | None = None
    local: LocalAttribution | None = None
    provenance: MethodProvenance | None = None


@dataclass(frozen=True)
class RunProvenance:
    """Everything needed to reproduce and trust a run."""

    tool_version: str
    model_path: str
    model_sha256: str
    model_format: str
    model_class: str
    data_path: str
    data_sha256: str
    family: str
    task: str
    target: str | None
    rows_total: int
    rows_used: int
    seed: int
    top_k: int
    library_versions: dict[str, str]
    started_at: str
    elapsed_s: float
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ImportanceRow:
    """One feature of one method for one output: raw value, share of the total, rank (1 = top)."""

    method: str
    output: str
    feature: str
    value: float
    share: float
    rank: int
    spread: float | None = None


@dataclass(frozen=True)
class AgreementRow:
    """How far two methods agree on one output's ranking."""

    method_a: str
    method_b: str
    output: str
    spearman: float | None
    kendall: float | None
    topk_jaccard: float


@dataclass(frozen=True)
class RankSpread:
    """A feature's best and worst rank across methods (pooled output)."""

    feature: str
    best_rank: int
    worst_rank: int
    ranks: dict[str, int]

    @property
    def spread(self) -> int:
        return self.worst_rank - self.best_rank


@dataclass(frozen=True)
class RankInterval:
    """A feature's pooled rank from a method's per-row values, and its bootstrap interval.

    ``low`` and ``high`` are the 2.5th and 97.5th percentiles of the feature's rank over
    ``resamples`` bootstrap resamples of the ``rows`` explained rows: a wide interval says the
    sample was too small to rank that feature.
    """

    method: str
    feature: str
    rank: int
    low: int
    high: int
    resamples: int
    rows: int


@dataclass(frozen=True)
class Comparison:
    """Everything :mod:`xai_cli.compare.agreement` derives from a run's tables."""

    top_k: int
    rows: tuple[ImportanceRow, ...]
    agreement: tuple[AgreementRow, ...]
    consensus: tuple[str, ...]
    rank_spread: tuple[RankSpread, ...]
    additivity: tuple[Additivity, ...]
    rank_intervals: tuple[RankInterval, ...] = ()


@dataclass(frozen=True)
class ExplainResult:
    """A whole ``xai explain`` run: provenance, every method's outcome and the comparison."""

    provenance: RunProvenance
    features: tuple[str, ...]
    outputs: tuple[str, ...]
    outcomes: tuple[MethodOutcome, ...]
    comparison: Comparison
    rows: RowsSection | None = None
    """The rows chosen with ``--rows``/``--where``, every local method side by side."""
    metrics: ModelMetrics | None = None
    """The model's quality on the explained rows (``None`` without labels)."""
    categories: tuple[CategoryEntry, ...] = ()
    """The labels behind categorical features' codes in the per-row data."""
    validation: Any = None
    """The facts behind the report's verdict (:class:`xai_cli.validate.facts.Facts`): leak and
    identifier findings, and the scorecard after ``xai validate``; ``None``: not screened."""

    @property
    def tables(self) -> tuple[ImportanceTable, ...]:
        return tuple(o.table for o in self.outcomes if o.table is not None)
