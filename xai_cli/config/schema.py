"""The ``xai run`` config file: strict pydantic models, the JSON Schema and the error type.

A config is YAML with a ``schema_version``, an ``output`` section, shared ``defaults`` and a list of
``jobs``; each entry of ``jobs`` is either one job (a model and a dataset) or a ``matrix`` that
pairs every listed model with every listed dataset. Every model forbids unknown keys and is strict
about types (``"5"`` is not a number), because a typo in a config should fail loudly, before
anything runs, rather than be silently ignored.

These models only describe the file's shape. Reading YAML, pointing errors at lines, resolving
paths and environment variables, checking files and building the job list happen in
:mod:`xai_cli.config.load`.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    WithJsonSchema,
    create_model,
    model_validator,
)
from pydantic_core import PydanticCustomError

from xai_cli.errors import XaiError
from xai_cli.methods import REGISTRY, MethodParams, taking_params
from xai_cli.reports.writer import FORMAT_ALIASES, FORMATS
from xai_cli.request import (
    DEFAULT_ENGINE,
    DEFAULT_METHODS,
    DEFAULT_SEED,
    DEFAULT_TOP_K,
    ENGINES,
)
from xai_cli.validate.checks import ValidateOptions

CONFIG_SCHEMA_VERSION = 1
"""The one ``schema_version`` this release reads."""

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
"""Job names become folder names: letters, digits, ``.``, ``_``, ``-``; no leading dot."""

MODEL_FORMATS = ("auto", "pickle", "xgboost", "lightgbm", "catboost")


Loc = tuple[str | int, ...]
"""A key path in the config: ``("jobs", 2, "methods", 0)``."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a config, at a key path (its line is looked up when reported)."""

    loc: Loc
    message: str


def dotted(loc: Loc) -> str:
    """``("jobs", 2, "methods", 0)`` -> ``jobs[2].methods[0]``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


class ConfigError(XaiError):
    """The config file cannot be read or has problems; nothing has run.

    ``problems`` holds one line per problem (``file:line key.path: message``); the message lists
    them all, so the CLI prints every problem at once.
    """

    code = "config"
    default_hint = "`xai schema` prints the config's JSON Schema, `xai init` a commented example"

    def __init__(self, message: str, problems: tuple[str, ...] = (), **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.problems = problems


def _suggest(name: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(name, choices, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _check_method(name: str) -> str:
    if name == "auto" or name in REGISTRY:
        return name
    raise PydanticCustomError(
        "unknown_method",
        "unknown method '{name}'{hint}",
        {"name": name, "hint": _suggest(name, [*REGISTRY, "auto"])},
    )


def _check_format(name: str) -> str:
    if name in FORMATS or name in FORMAT_ALIASES or name == "all":
        return name
    raise PydanticCustomError(
        "unknown_format",
        "unknown report format '{name}'{hint}",
        {"name": name, "hint": _suggest(name, [*FORMATS, "all"])},
    )


MethodName = Annotated[
    str,
    AfterValidator(_check_method),
    WithJsonSchema({"type": "string", "enum": ["auto", *REGISTRY]}),
]
FormatName = Annotated[
    str,
    AfterValidator(_check_format),
    WithJsonSchema({"type": "string", "enum": [*FORMATS, *FORMAT_ALIASES, "all"]}),
]
JobName = Annotated[str, Field(pattern=NAME_PATTERN)]
PositiveInt = Annotated[int, Field(ge=1)]
PositiveFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]
TIME_LIMIT_PATTERN = r"^\s*(none|[0-9]+(\.[0-9]+)?\s*(s|m|min|h)?)\s*$"
"""A duration as ``--time-limit`` takes it (:func:`xai_cli.run.estimate.resolve_time_limit`)."""


def _path_shorthand(value: Any) -> Any:
    """``model: file.joblib`` means ``model: {path: file.joblib}`` (same for ``data``)."""
    if isinstance(value, str):
        return {"path": value}
    if value is not None and not isinstance(value, dict | BaseModel):
        raise PydanticCustomError(
            "path_or_mapping",
            "expected a file path or a mapping with a 'path' key, got {kind}",
            {"kind": type(value).__name__},
        )
    return value


class Strict(BaseModel):
    """Base of every config model: unknown keys are errors, no type coercion, immutable."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class ModelDefaults(Strict):
    """Model settings that ``defaults`` may share across jobs."""

    format: Literal["auto", "pickle", "xgboost", "lightgbm", "catboost"] = Field(
        "auto",
        description="Checked against the file's extension (the extension decides how it loads).",
    )
    trust: bool = Field(
        False, description="Load a pickle with a full unpickler (it can run code): trusted only."
    )
    level: Literal["raw", "encoded"] = Field(
        "raw",
        description="A scikit-learn Pipeline's results on its raw input columns (encoded "
        "features summed per column) or on the encoded features its final estimator sees.",
    )


class ModelSpec(ModelDefaults):
    """One model file."""

    path: str = Field(description="Model file, relative to the config file; ${VAR} expands.")
    sha256: str | None = Field(
        None, pattern=r"^[0-9a-fA-F]{64}$", description="Expected SHA-256 of the file."
    )
    name: JobName | None = Field(None, description="Label used in derived job names.")

    _shorthand = model_validator(mode="before")(_path_shorthand)


class DataDefaults(Strict):
    """Data settings that ``defaults`` may share across jobs."""

    target: str | None = Field(None, description="Label column (methods needing labels skip).")
    drop: list[str] = Field(default_factory=list, description="Columns to leave out.")
    categorical: list[str] | None = Field(
        None,
        description="The columns the model treats as categorical; checked against the model "
        "before anything runs (the model decides how columns are typed).",
    )
    max_rows: PositiveInt | Literal["all"] | None = Field(
        None, description="Explain a seeded sample of N rows (default 10000), or 'all' rows."
    )
    seed: Annotated[int, Field(ge=0)] = Field(
        DEFAULT_SEED, description="Seed for sampling, permutations."
    )
    rows: list[Annotated[int, Field(ge=0)] | str] = Field(
        default_factory=list,
        description="Rows to explain one by one, every method side by side: 0-based positions "
        "in the data, or ids of id_column. Always explained, even when sampling.",
    )
    where: str | None = Field(
        None, description="Explain the rows matching this pandas query on the data ('age > 60')."
    )
    id_column: str | None = Field(
        None, description="A column naming the rows (not a feature); rows are its values."
    )


class DataSpec(DataDefaults):
    """One dataset file."""

    path: str = Field(description="CSV or Parquet file, relative to the config; ${VAR} expands.")
    name: JobName | None = Field(None, description="Label used in derived job names.")

    _shorthand = model_validator(mode="before")(_path_shorthand)


def _strict(model: type[MethodParams]) -> type[MethodParams]:
    """A method's own parameter model (declared with the method), read strictly as the rest of
    the config is: YAML has types, so ``"5"`` is not a number here (the command line coerces)."""
    return type(
        model.__name__,
        (model,),
        {"__doc__": model.__doc__, "__module__": model.__module__,
         "model_config": ConfigDict(strict=True)},
    )  # fmt: skip


Params: type[Strict] = create_model(
    "Params",
    __base__=Strict,
    __doc__="Per-method parameters; only methods that take parameters have a key. Each method's "
    "model is the one the method declares (``xai_cli.methods``), so there is one source.",
    **{
        name.replace(".", "_"): (_strict(e.params) | None, Field(None, alias=name))  # type: ignore[misc]
        for name, e in taking_params().items()
    },
)


class Defaults(Strict):
    """Settings every job starts from; a job's own keys override them key by key."""

    model: ModelDefaults = Field(default_factory=ModelDefaults)
    data: DataDefaults = Field(default_factory=DataDefaults)
    methods: list[MethodName] = Field(
        default_factory=lambda: list(DEFAULT_METHODS), min_length=1
    )
    params: Params = Field(default_factory=Params)


class Job(Strict):
    """One model explained on one dataset."""

    name: JobName | None = Field(None, description="Folder name; default: <model>__<data>.")
    model: ModelSpec
    data: DataSpec
    methods: list[MethodName] | None = Field(None, min_length=1)
    params: Params | None = None


class Matrix(Strict):
    """Every model paired with every dataset."""

    models: list[ModelSpec] = Field(min_length=1)
    datasets: list[DataSpec] = Field(min_length=1)
    methods: list[MethodName] | None = Field(None, min_length=1)
    params: Params | None = None


class MatrixEntry(Strict):
    """A ``jobs`` entry of the form ``- matrix: {models: [...], datasets: [...]}``."""

    matrix: Matrix


def _entry_kind(value: Any) -> str:
    """Which kind of ``jobs`` entry a value is: a matrix if it has a ``matrix`` key."""
    if isinstance(value, dict):
        return "@matrix" if "matrix" in value else "@job"
    return "@matrix" if isinstance(value, MatrixEntry) else "@job"


JobEntry = Annotated[
    Annotated[Job, Tag("@job")] | Annotated[MatrixEntry, Tag("@matrix")],
    Discriminator(_entry_kind),
]
"""A ``jobs`` entry. The ``@`` tags appear in pydantic's error locations and are stripped there."""


class Output(Strict):
    """Where reports go and which."""

    folder: str = Field(description="Output folder, relative to the config; one sub-folder a job.")
    formats: list[FormatName] = Field(default_factory=lambda: ["all"], min_length=1)
    top_k: PositiveInt = Field(
        DEFAULT_TOP_K, description="k for top-k overlap and the consensus."
    )


class Execution(Strict):
    """Where row-wise methods run, for every job (``--engine --scheduler --chunk-rows``)."""

    engine: Literal[ENGINES] = Field(  # type: ignore[valid-type]
        DEFAULT_ENGINE,
        description="dask streams row-wise methods over every row on a Dask cluster.",
    )
    scheduler: str | None = Field(None, description="Dask scheduler address; default LocalCluster.")
    chunk_rows: PositiveInt | None = Field(
        None, description="Stream row-wise methods over every row, this many rows at a time."
    )
    memory_budget: PositiveInt | str | None = Field(
        None,
        description="Memory a job may hold for its rows and per-row results (e.g. 4GiB, or "
        "none); max_rows all over it streams row-wise methods on its own. Default: "
        "XAI_MEMORY_BUDGET, else a quarter of physical memory, at most 2GiB.",
    )
    time_limit: PositiveFloat | Annotated[str, Field(pattern=TIME_LIMIT_PATTERN)] = Field(
        "10m",
        description="Longest estimated time per method: seconds, or 90s, 10m, 2h, or 'none'. "
        "Over it, a method auto chose is skipped with the reason; one named in methods fails "
        "the job before anything runs.",
    )



# ------------------------------------------------------------------------------------ audit rules
# The ``audit:`` section read by ``xai audit`` (``xai run`` ignores it). Each rule is a mapping with
# a ``type``; the rules themselves are evaluated in :mod:`xai_cli.audit.rules`.

CONSENSUS = "consensus"
"""Where a rule names a method's top-k, ``consensus`` means the top-k of every method that ran."""


def _check_rule_method(name: str) -> str:
    if name in REGISTRY:
        return name
    raise PydanticCustomError(
        "unknown_method",
        "unknown method '{name}'{hint}",
        {"name": name, "hint": _suggest(name, list(REGISTRY))},
    )


def _check_rule_target(name: str) -> str:
    return name if name == CONSENSUS else _check_rule_method(name)


RuleMethod = Annotated[
    str,
    AfterValidator(_check_rule_method),
    WithJsonSchema({"type": "string", "enum": [*REGISTRY]}),
]
RuleTarget = Annotated[
    str,
    AfterValidator(_check_rule_target),
    WithJsonSchema({"type": "string", "enum": [*REGISTRY, CONSENSUS]}),
]
Fraction = Annotated[float, Field(ge=0, le=1)]
Correlation = Annotated[float, Field(ge=-1, le=1)]


def _at_least_one(*keys: str) -> Any:
    """A model validator: at least one of ``keys`` must be set (a rule that checks nothing is a
    mistake, not a pass)."""

    def check(model: Any) -> Any:
        if all(getattr(model, k) is None for k in keys):
            raise PydanticCustomError(
                "rule_checks_nothing",
                "the rule checks nothing: set at least one of {keys}",
                {"keys": ", ".join(keys)},
            )
        return model

    return model_validator(mode="after")(check)


class RuleBase(Strict):
    """What every audit rule has: a name (default: its type) and a severity."""

    name: JobName | None = Field(None, description="Shown in every output; default: the type.")
    severity: Literal["fail", "warn"] = Field(
        "fail", description="A broken `fail` rule fails the audit (exit 1); `warn` only warns."
    )


class AgreementRule(RuleBase):
    """Every pair of the named methods agrees at least this much (pooled ranking)."""

    type: Literal["agreement"]
    methods: list[RuleMethod] = Field(min_length=2, description="Methods compared pairwise.")
    min_spearman: Correlation | None = None
    min_kendall: Correlation | None = None
    min_topk_jaccard: Fraction | None = None

    _checks = _at_least_one("min_spearman", "min_kendall", "min_topk_jaccard")


class AdditivityRule(RuleBase):
    """SHAP values plus base value reproduce the raw model output within ``max_error``."""

    type: Literal["additivity"]
    max_error: Annotated[float, Field(ge=0)] = Field(
        description="Largest allowed |sum of SHAP values + base value - raw output| over rows."
    )


class RequiredFeaturesRule(RuleBase):
    """Each feature is in the top-k of every named method (or of the consensus)."""

    type: Literal["required_features"]
    features: list[str] = Field(min_length=1)
    in_top_k_of: list[RuleTarget] = Field(min_length=1)
    top_k: PositiveInt | None = Field(None, description="Default: the report's top_k.")


class ForbiddenFeaturesRule(RuleBase):
    """Protected attributes, identifiers and leaks stay out of the top-k and/or under a share.

    ``features`` may hold shell-style patterns (``income*``, ``*_id``).
    """

    type: Literal["forbidden_features"]
    features: list[str] = Field(min_length=1)
    not_in_top_k_of: list[RuleTarget] | None = Field(None, min_length=1)
    max_share: Fraction | None = Field(
        None, description="Largest allowed share of the total importance (0.02 = 2%)."
    )
    share_of: list[RuleMethod] = Field(
        default_factory=lambda: ["treeshap"], min_length=1, description="Methods for max_share."
    )
    top_k: PositiveInt | None = Field(None, description="Default: the report's top_k.")

    _checks = _at_least_one("not_in_top_k_of", "max_share")


class NoiseFloorRule(RuleBase):
    """No top-k feature is indistinguishable from a random probe (held-out permutation test)."""

    type: Literal["noise_floor"]
    methods: list[RuleTarget] | None = Field(
        None, min_length=1, description="Whose top-k is checked; default: every method that ran."
    )
    top_k: PositiveInt | None = Field(None, description="Default: the report's top_k.")
    repeats: Annotated[int, Field(ge=5, le=1000)] = Field(
        30, description="Bootstrap-and-permute repeats per feature."
    )
    confidence: Annotated[float, Field(gt=0.5, lt=1)] = Field(
        0.95, description="Two-sided level of each feature's importance interval."
    )


class StabilityRule(RuleBase):
    """Each method ranks features alike on bootstrap resamples of the rows."""

    type: Literal["stability"]
    methods: list[RuleMethod] | None = Field(
        None, min_length=1, description="Default: every method that ran."
    )
    resamples: Annotated[int, Field(ge=5, le=1000)] = 20
    min_spearman: Correlation = Field(
        description="Lowest allowed 5th percentile of the Spearman correlation between the "
        "ranking on a resample and on all rows."
    )


class DriftRule(RuleBase):
    """With ``--baseline``: the ranking stays close to the baseline report's."""

    type: Literal["drift"]
    methods: list[RuleMethod] | None = Field(
        None, min_length=1, description="Default: every method in both reports."
    )
    top_k: PositiveInt | None = Field(None, description="Default: the report's top_k.")
    min_spearman: Correlation | None = None
    min_topk_jaccard: Fraction | None = None

    _checks = _at_least_one("min_spearman", "min_topk_jaccard")


CHECK_NAMES = (
    "additivity",
    "exact_shapley",
    "routing_parity",
    "parameter_randomisation",
    "label_randomisation",
    "prediction_gap",
    "noise_floor",
    "noise_probe",
    "cardinality_probe",
    "twin_probe",
    "resample_stability",
    "seed_stability",
)
"""The scorecard's checks (:mod:`xai_cli.validate`), as a ``validation`` rule names them."""


class ValidationRule(RuleBase):
    """The named scorecard checks pass for the named methods (``xai validate`` runs on the
    job; settings from the config's ``validate:`` block)."""

    type: Literal["validation"]
    methods: list[RuleMethod] | None = Field(
        None, min_length=1, description="Default: every method that ran."
    )
    checks: list[Literal[CHECK_NAMES]] | None = Field(  # type: ignore[valid-type]
        None, min_length=1, description="Default: every check. Model checks (routing_parity, "
        "noise_floor) count for every method.",
    )
    allow_warn: bool = Field(True, description="false: a WARN breaks the rule as a FAIL does.")


class LeaksRule(RuleBase):
    """No feature is flagged as a leak, an identifier or (opt-in) an importance outlier (the
    screen every ``xai explain`` runs)."""

    type: Literal["leaks"]
    kinds: list[Literal["leak", "identifier", "importance_outlier"]] = Field(
        default_factory=lambda: ["leak", "identifier"], min_length=1,
        description="Which findings break the rule.",
    )


RULE_TYPES: dict[str, type[RuleBase]] = {
    "agreement": AgreementRule,
    "additivity": AdditivityRule,
    "required_features": RequiredFeaturesRule,
    "forbidden_features": ForbiddenFeaturesRule,
    "noise_floor": NoiseFloorRule,
    "stability": StabilityRule,
    "drift": DriftRule,
    "validation": ValidationRule,
    "leaks": LeaksRule,
}


def _rule_kind(value: Any) -> str | None:
    """The tag of a rule entry (``@agreement``...), from its ``type`` key."""
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return f"@{kind}" if isinstance(kind, str) and kind in RULE_TYPES else None


Rule = Annotated[
    Annotated[AgreementRule, Tag("@agreement")]
    | Annotated[AdditivityRule, Tag("@additivity")]
    | Annotated[RequiredFeaturesRule, Tag("@required_features")]
    | Annotated[ForbiddenFeaturesRule, Tag("@forbidden_features")]
    | Annotated[NoiseFloorRule, Tag("@noise_floor")]
    | Annotated[StabilityRule, Tag("@stability")]
    | Annotated[DriftRule, Tag("@drift")]
    | Annotated[ValidationRule, Tag("@validation")]
    | Annotated[LeaksRule, Tag("@leaks")],
    Discriminator(
        _rule_kind,
        custom_error_type="rule_kind",
        custom_error_message="a rule needs a 'type', one of: " + ", ".join(RULE_TYPES),
    ),
]
"""One audit rule; its ``type`` picks the model."""


class Audit(Strict):
    """The rules ``xai audit`` checks on every job."""

    rules: list[Rule] = Field(min_length=1)


class Config(Strict):
    """A whole ``xai run`` config file."""

    model_config = ConfigDict(title="xai-cli run config")

    schema_version: Literal[1] = Field(description="Version of this format; 1.")
    output: Output
    defaults: Defaults = Field(default_factory=Defaults)
    execution: Execution = Field(default_factory=Execution)
    jobs: list[JobEntry] = Field(min_length=1)
    audit: Audit | None = Field(None, description="Rules for `xai audit` (`xai run` skips).")
    validate_: ValidateOptions = Field(
        default_factory=ValidateOptions, alias="validate",
        description="Settings of the scorecard a `validation` audit rule runs (`xai validate`).",
    )


def json_schema() -> dict[str, Any]:
    """The config's JSON Schema (draft 2020-12), for editors and CI linting."""
    schema = Config.model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
