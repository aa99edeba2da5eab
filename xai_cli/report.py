"""The report schema: one typed, versioned model of ``report.json``.

:class:`Report` is built once from a run's :class:`~xai_cli.results.ExplainResult`
(:meth:`Report.from_result`) and is what every consumer reads: the JSON, CSV, Markdown and HTML
renderers, the terminal summary, ``xai run``'s batch summary, the audit rules, ``xai diff`` and
baselines (:meth:`Report.read`). It holds every number a report shows, rounded once here, so
renderers recompute nothing and a saved ``report.json`` is enough to re-render any format. Per-row
SHAP values are kept for a bounded, seeded sample of rows (for the beeswarm plot).

The JSON keys are the schema (``xai schema report`` prints its JSON Schema); a key that is not a
Python name (``class``) is an alias of a typed field (``output``). ``schema_version`` changes only
when the shape does, and a report of another version is refused rather than misread.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    field_validator,
    model_serializer,
)

from xai_cli import SCHEMA_VERSION, __version__
from xai_cli.errors import DataError, MissingFileError, describe
from xai_cli.report_interactions import EffectsSection
from xai_cli.report_rows import CategoryEntry, ModelMetrics, RowsSection
from xai_cli.report_trust import TrustSection, trust_section
from xai_cli.validate.facts import section
from xai_cli.validate.schema import ValidationSection

if TYPE_CHECKING:
    import numpy as np

    from xai_cli.results import ExplainResult, LocalAttribution

LOCAL_SAMPLE_ROWS = 1000
LOCAL_MAX_FEATURES = 100
"""Per-row values are kept for at most this many features (the most important, plus each
output's top :data:`LOCAL_TOP_PER_OUTPUT`): at 5,000 columns all of them made a 277 MB report."""
LOCAL_TOP_PER_OUTPUT = 20
"""At most this many rows of per-row values go into the report."""
POOLED = "all"
"""The ``class`` of the pooled ranking (all classes together, or the only output)."""

Number = float | None
"""A finite number, or ``null`` where it is undefined or was not finite."""


class _Entry(BaseModel):
    """Frozen, strict about unknown keys, filled and dumped by JSON key (``class``)."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        use_attribute_docstrings=True,
    )


class Tool(_Entry):
    """The program that wrote the report."""

    name: str
    version: str


class Provenance(_Entry):
    """Everything needed to reproduce and trust the run (from
    :class:`~xai_cli.results.RunProvenance`)."""

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
    notes: tuple[str, ...]


_METHOD_PROVENANCE = (
    "backend",
    "chosen_by",
    "library",
    "library_version",
    "elapsed_s",
    "notes",
    "uses_rows",
    "estimated_s",
)


class MethodEntry(_Entry):
    """One method asked about: ``ok`` with its table's unit, outputs and parameters, or
    ``skipped``/``failed`` with why. The provenance keys (``backend`` to ``estimated_s``) are
    present only for a method that was attempted."""

    method: str
    status: Literal["ok", "skipped", "failed"]
    reason: str | None
    unit: str | None
    outputs: tuple[str, ...]
    params: dict[str, Any]
    spread_kind: str | None
    backend: str | None = None
    chosen_by: Literal["user", "auto"] | None = None
    library: str | None = None
    library_version: str | None = None
    elapsed_s: float | None = None
    notes: tuple[str, ...] = ()
    uses_rows: bool | None = None
    """False for importances read from the model alone: the row sample cannot change them."""
    estimated_s: float | None = None
    """The time estimated before the run, to compare with ``elapsed_s``."""

    @model_serializer(mode="wrap")
    def _omit_absent_provenance(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data = handler(self)
        if self.backend is None:  # never attempted: the keys are absent, as they always were
            for key in _METHOD_PROVENANCE:
                data.pop(key, None)
        return data


class ImportanceEntry(_Entry):
    """One feature of one method for one output: raw value, share of the total, rank (1 = top)."""

    method: str
    output: str = Field(alias="class")
    """The output (class) label; ``all`` is the pooled ranking."""
    feature: str
    value: Number
    share: Number
    rank: int
    spread: Number


class AgreementEntry(_Entry):
    """How far two methods agree on one output's ranking (``null``: a constant ranking)."""

    method_a: str
    method_b: str
    output: str = Field(alias="class")
    spearman: Number
    kendall: Number
    topk_jaccard: Number


class RankSpreadEntry(_Entry):
    """A feature's best and worst pooled rank across methods, and each method's rank."""

    feature: str
    best_rank: int
    worst_rank: int
    spread: int
    ranks: dict[str, int]


class AdditivityEntry(_Entry):
    """How far sum(SHAP values) + base value is from the model's raw output."""

    method: str
    max_abs_error: Number
    p99_abs_error: Number
    tolerance: Number
    rows: int
    ok: bool


class RankIntervalEntry(_Entry):
    """A feature's pooled rank and its 95% interval over bootstrap resamples of the rows."""

    method: str
    feature: str
    rank: int
    low: int
    high: int
    resamples: int
    rows: int


class LocalSection(_Entry):
    """Per-row values of one method for a seeded sample of ``rows`` of ``rows_total`` rows."""

    method: str
    unit: str
    features: tuple[str, ...]
    outputs: tuple[str, ...]
    rows_total: int
    rows: int
    values: tuple[tuple[tuple[Number, ...], ...], ...]
    """rows x features x outputs."""
    base_values: tuple[tuple[Number, ...], ...]
    """rows x outputs."""
    data: tuple[tuple[Number, ...], ...]
    """rows x features: the explained rows' values as numbers (categories as codes)."""


AuditStatus = Literal["PASS", "WARN", "FAIL", "ERROR", "SKIP"]


class AuditResult(_Entry):
    """One audit rule's verdict on this job; ``details`` depend on the rule type."""

    rule: str
    type: str
    severity: Literal["fail", "warn"]
    status: AuditStatus
    message: str
    details: dict[str, Any]


class AuditSection(_Entry):
    """What ``xai audit`` found on this job (absent from ``xai explain`` reports)."""

    status: AuditStatus
    summary: dict[str, int]
    baseline: str | None
    results: tuple[AuditResult, ...]


class Report(_Entry):
    """The content of ``report.json``: one run's provenance, every method's outcome, importances,
    agreement, consensus, rank spread, additivity, rank intervals and sampled per-row values."""

    model_config = ConfigDict(title="xai-cli report.json")

    schema_version: str = Field(json_schema_extra={"const": SCHEMA_VERSION})
    tool: Tool
    provenance: Provenance
    features: tuple[str, ...]
    outputs: tuple[str, ...]
    top_k: int
    methods: tuple[MethodEntry, ...]
    importances: tuple[ImportanceEntry, ...]
    agreement: tuple[AgreementEntry, ...]
    consensus: tuple[str, ...]
    """Features in the top-k of every method that ran, in the first method's order."""
    rank_spread: tuple[RankSpreadEntry, ...]
    additivity: tuple[AdditivityEntry, ...]
    rank_intervals: tuple[RankIntervalEntry, ...] = ()
    local: LocalSection | None
    audit: AuditSection | None = None
    metrics: ModelMetrics | None = None
    """The model's accuracy/AUC/log loss or R²/RMSE/MAE on the explained rows; null without a
    target."""
    categories: tuple[CategoryEntry, ...] = ()
    """The labels behind categorical features' codes in ``local.data``."""
    rows: RowsSection | None = None
    """Rows chosen with ``--rows``/``--where``: every local method's attributions side by side."""
    effects: EffectsSection | None = None
    """Interaction values, top pairs and interaction mass (``treeshap.interactions``), partial
    dependence and ICE curves (``partial_dependence``); absent when neither ran."""
    validation: ValidationSection | None = None
    """The verdict, the leak and identifier warnings and (``xai validate``) the scorecard;
    absent from reports written before it existed."""
    trust: TrustSection | None = None
    """How far to trust each approximation: KernelSHAP's standard errors, LIME's stability, IG's
    completeness error and baseline spread, exact Shapley's players; absent when none ran."""

    @field_validator("schema_version")
    @classmethod
    def _known_version(cls, value: str) -> str:
        if value != SCHEMA_VERSION:
            raise ValueError(f"schema_version {value!r} is not {SCHEMA_VERSION!r}")
        return value

    @model_serializer(mode="wrap")
    def _omit_absent_audit(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data = handler(self)
        if self.audit is None:  # only `xai audit` reports carry the key
            data.pop("audit", None)
        for key in ("metrics", "rows"):  # present only when there is something to say
            if getattr(self, key) is None:
                data.pop(key, None)
        if not self.categories:
            data.pop("categories", None)
        if self.effects is None:  # only runs with treeshap.interactions or partial_dependence
            data.pop("effects", None)
        if self.validation is None:  # reports written before the verdict existed
            data.pop("validation", None)
        if self.trust is None:  # only runs with a model-agnostic approximation
            data.pop("trust", None)
        return data

    # ----------------------------------------------------------------------------- reading

    def ok_methods(self) -> list[MethodEntry]:
        """The methods that produced a table, in run order."""
        return [m for m in self.methods if m.status == "ok"]

    def method(self, name: str) -> MethodEntry | None:
        """The entry of method ``name``, or ``None`` when it was not asked about."""
        return next((m for m in self.methods if m.method == name), None)

    def top_features(self, method: str, k: int, output: str = POOLED) -> list[ImportanceEntry]:
        """A method's k highest-ranked rows for one output (rank order, then file order)."""
        rows = [r for r in self.importances if r.method == method and r.output == output]
        return sorted(rows, key=lambda r: r.rank)[:k]

    def pooled(self, method: str) -> list[ImportanceEntry]:
        """A method's rows of the pooled output, in file (feature) order."""
        return [r for r in self.importances if r.method == method and r.output == POOLED]

    def to_json_data(self) -> dict[str, Any]:
        """The JSON-safe dict of ``report.json`` (JSON keys, lists, ``None`` for null)."""
        return self.model_dump(mode="json", by_alias=True)

    # ----------------------------------------------------------------------------- building

    @classmethod
    def from_result(cls, result: ExplainResult) -> Report:
        """The report of a run (numbers rounded once, here)."""
        from dataclasses import asdict

        from xai_cli.report_interactions import section as effects_section

        prov = result.provenance
        comparison = result.comparison
        methods = []
        for o in result.outcomes:
            entry: dict[str, Any] = {
                "method": o.method,
                "status": o.status,
                "reason": o.reason,
                "unit": o.table.unit if o.table else None,
                "outputs": o.table.outputs if o.table else (),
                "params": dict(o.table.params) if o.table else {},
                "spread_kind": o.table.spread_kind if o.table else None,
            }
            if o.provenance is not None:
                p = asdict(o.provenance)
                p["elapsed_s"] = round(p["elapsed_s"], 4)
                p["estimated_s"] = _num(p["estimated_s"], 4)
                entry.update(p)
            methods.append(MethodEntry(**entry))
        local = next((o.local for o in result.outcomes if o.local is not None), None)
        run = asdict(prov)
        run["elapsed_s"] = round(prov.elapsed_s, 3)
        return cls(
            schema_version=SCHEMA_VERSION,
            tool=Tool(name="xai-cli", version=__version__),
            provenance=Provenance(**run),
            features=result.features,
            outputs=result.outputs,
            top_k=comparison.top_k,
            methods=tuple(methods),
            importances=tuple(
                ImportanceEntry(
                    method=r.method,
                    output=r.output,
                    feature=r.feature,
                    value=_num(r.value),
                    share=_num(r.share),
                    rank=r.rank,
                    spread=_num(r.spread),
                )
                for r in comparison.rows
            ),
            agreement=tuple(
                AgreementEntry(
                    method_a=a.method_a,
                    method_b=a.method_b,
                    output=a.output,
                    spearman=_num(a.spearman, 6),
                    kendall=_num(a.kendall, 6),
                    topk_jaccard=_num(a.topk_jaccard, 6),
                )
                for a in comparison.agreement
            ),
            consensus=comparison.consensus,
            rank_spread=tuple(
                RankSpreadEntry(
                    feature=s.feature,
                    best_rank=s.best_rank,
                    worst_rank=s.worst_rank,
                    spread=s.spread,
                    ranks=s.ranks,
                )
                for s in comparison.rank_spread
            ),
            additivity=tuple(
                AdditivityEntry(
                    method=a.method,
                    max_abs_error=_num(a.max_abs_error, 6),
                    p99_abs_error=_num(a.p99_abs_error, 6),
                    tolerance=_num(a.tolerance, 6),
                    rows=a.rows,
                    ok=a.ok,
                )
                for a in comparison.additivity
            ),
            rank_intervals=tuple(
                RankIntervalEntry(**asdict(r)) for r in comparison.rank_intervals
            ),
            local=None if local is None else _local_section(local, prov.seed),
            metrics=result.metrics,
            categories=result.categories,
            rows=result.rows,
            effects=effects_section(result),
            validation=section(result),
            trust=trust_section(result),
        )

    @classmethod
    def read(cls, path: Path) -> Report:
        """A saved ``report.json`` (a baseline, an ``xai diff`` input).

        :class:`MissingFileError` when it does not exist; :class:`DataError` (exit 2) when it is
        not JSON, is not a report, is of another ``schema_version``, or a key is missing, unknown
        or of the wrong type.
        """
        if not path.is_file():
            raise MissingFileError(f"report not found: {path}", hint="check the path")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DataError(f"cannot read {path} as JSON", cause=describe(exc)) from exc
        return cls.from_json_data(data, str(path))

    @classmethod
    def from_json_data(cls, data: Any, shown: str) -> Report:
        """Validate parsed ``report.json`` content; ``shown`` names it in errors."""
        hint = "pass the report.json that `xai explain` or `xai audit` wrote"
        if not isinstance(data, dict) or "schema_version" not in data:
            raise DataError(
                f"{shown} is not an xai report.json (no schema_version)",
                cause=f"top-level keys: {', '.join(map(str, data))[:200]}"
                if isinstance(data, dict)
                else f"the file holds a JSON {type(data).__name__}, not an object",
                hint=hint,
            )
        version = data["schema_version"]
        if version != SCHEMA_VERSION:
            tool = data.get("tool")
            wrote = tool.get("version") if isinstance(tool, dict) else None
            raise DataError(
                f"{shown} is report schema_version {version!r}; this xai-cli reads "
                f"{SCHEMA_VERSION!r}",
                cause=f"written by xai-cli {wrote}" if wrote else None,
                hint=f"re-create it with xai-cli {__version__} (`xai explain` or `xai audit`)",
            )
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise DataError(
                f"{shown} is not an xai report.json of schema_version {SCHEMA_VERSION!r} "
                f"({exc.error_count()} problem(s))",
                cause=_problems(exc),
                hint=hint,
            ) from exc


def report_json_schema() -> dict[str, Any]:
    """The JSON Schema of ``report.json`` (what ``xai schema report`` prints)."""
    schema = Report.model_json_schema(by_alias=True)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


def _problems(exc: ValidationError, shown: int = 3) -> str:
    """The first few validation problems on one line: ``methods.0.status: Input should be ...``."""
    parts = []
    for error in exc.errors()[:shown]:
        where = ".".join(str(p) for p in error["loc"]) or "(top level)"
        parts.append(f"{where}: {error['msg']}")
    more = exc.error_count() - shown
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def _num(value: float | None, digits: int = 8) -> float | None:
    """A JSON-safe float: NaN and infinities become ``None``; rounded to significant digits."""
    if value is None or not math.isfinite(value):
        return None
    return float(f"{value:.{digits}g}")


def _matrix(array: np.ndarray, digits: int = 6) -> tuple[Any, ...]:
    if array.ndim == 1:
        return tuple(_num(float(v), digits) for v in array)
    return tuple(_matrix(row, digits) for row in array)


def _local_features(local: LocalAttribution) -> Any:
    """Indices (in model order) of the features whose per-row values the report keeps: all of
    them up to :data:`LOCAL_MAX_FEATURES`, else the top ones by mean |value| pooled over outputs,
    plus each output's own top :data:`LOCAL_TOP_PER_OUTPUT` (so every plotted class keeps its
    leaders)."""
    import numpy as np

    n_features = local.values.shape[1]
    if n_features <= LOCAL_MAX_FEATURES:
        return np.arange(n_features)
    per_output = np.abs(local.values).mean(axis=0)  # features x outputs
    pooled = per_output.sum(axis=1)
    keep = set(np.argsort(-pooled, kind="stable")[:LOCAL_MAX_FEATURES].tolist())
    for k in range(per_output.shape[1]):
        keep.update(np.argsort(-per_output[:, k], kind="stable")[:LOCAL_TOP_PER_OUTPUT].tolist())
    return np.array(sorted(keep))


def _local_section(local: LocalAttribution, seed: int) -> LocalSection:
    """The per-row values of at most :data:`LOCAL_SAMPLE_ROWS` rows, drawn with ``seed``, for
    the features :func:`_local_features` keeps."""
    import numpy as np

    n = local.values.shape[0]
    rows = np.arange(n)
    if n > LOCAL_SAMPLE_ROWS:
        rows = np.sort(np.random.default_rng(seed).choice(n, LOCAL_SAMPLE_ROWS, replace=False))
    cols = _local_features(local)
    return LocalSection(
        method=local.method,
        unit=local.unit,
        features=tuple(local.features[i] for i in cols),
        outputs=local.outputs,
        rows_total=int(n),
        rows=int(len(rows)),
        values=_matrix(local.values[rows][:, cols]),
        base_values=_matrix(local.base_values[rows]),
        data=_matrix(local.data[rows][:, cols]),
    )
