"""The explain flow: load, adapt, choose backends, run each, compare.

Each step is a plain function; this module only strings them together, times each backend and
makes sure one failing backend never loses the others' results. Work runs in process for now.
"""

from __future__ import annotations

import difflib
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from xai_cli import __version__
from xai_cli.adapters import ModelAdapter, adapt
from xai_cli.compare import additivity, compare, intervals_from_bootstrap, rank_intervals
from xai_cli.errors import DataError, MethodError, MissingFileError, UsageError, describe
from xai_cli.explainers import REGISTRY, ExplainContext, Explainer
from xai_cli.explainers.base import library_version
from xai_cli.io.data import DATA_SUFFIXES, load_data, sample_rows, split_features
from xai_cli.io.models import file_sha256, load_model
from xai_cli.results import (
    Additivity,
    ExplainResult,
    LocalAttribution,
    MethodOutcome,
    MethodProvenance,
    RankInterval,
    RunProvenance,
)
from xai_cli.rowwise import ENGINES, RowwiseJob, run_streamed
from xai_cli.streaming import stream_sample

Progress = Callable[[str], None]
LIBRARIES = ("numpy", "pandas", "scikit-learn", "xgboost", "lightgbm", "catboost", "shap")


@dataclass(frozen=True)
class ExplainRequest:
    """What the user asked for; every option of ``xai explain``."""

    model_path: str
    data_path: str
    target: str | None = None
    methods: tuple[str, ...] = ("auto",)
    max_rows: int | None = None
    seed: int = 0
    top_k: int = 5
    trust_model: bool = False
    drop: tuple[str, ...] = ()
    params: dict[str, dict[str, object]] = field(default_factory=dict)
    engine: str = "local"
    scheduler: str | None = None
    chunk_rows: int | None = None
    n_jobs: int | None = None
    """Threads for backends that parallelise over row chunks (``n_jobs`` param); None: theirs."""

    @property
    def streamed(self) -> bool:
        """Row-wise methods stream over every row (``--chunk-rows`` or ``--engine dask``)."""
        return self.chunk_rows is not None or self.engine != "local"


def _quiet(_: str) -> None:
    return None


def encode_target(
    adapter: ModelAdapter, y: pd.Series
) -> tuple[np.ndarray, ModelAdapter, list[str]]:
    """The target as the model sees it: class codes for classifiers, floats for regression.

    Labels are matched to the model's classes by value; a model that only knows ``0..K-1`` (a raw
    booster, or one fitted on encoded labels) gets the sorted distinct labels, as LabelEncoder
    would have assigned them, and the classes are renamed after them.
    """
    notes: list[str] = []
    if not adapter.is_classifier:
        values = pd.to_numeric(y, errors="coerce")
        if values.isna().any():
            raise DataError(
                f"target column '{y.name}' has non-numeric values but the model is a regressor",
                hint="pass the numeric target column",
            )
        return values.to_numpy(dtype=float), adapter, notes
    labels = adapter.class_labels
    as_text = y.astype(str)
    distinct = sorted(as_text.unique())
    if set(distinct) <= set(labels):
        return as_text.map({c: i for i, c in enumerate(labels)}).to_numpy(dtype=int), adapter, notes
    generic = tuple(str(i) for i in range(len(labels)))
    if labels == generic and len(distinct) <= len(labels):
        try:  # numeric labels sort numerically, text labels as text
            ordered = [str(v) for v in sorted(y.unique())]
        except TypeError:
            ordered = distinct
        if len(ordered) == len(labels):
            notes.append(
                "target labels "
                + ", ".join(f"{c}={i}" for i, c in enumerate(ordered))
                + " mapped to the model's classes in sorted order"
            )
            codes = as_text.map({c: i for i, c in enumerate(ordered)}).to_numpy(dtype=int)
            return codes, adapter.with_class_labels(tuple(ordered)), notes
    raise DataError(
        f"target values {distinct[:6]} do not match the model's classes {list(labels)}",
        hint="pass the column the model was trained to predict",
    )


def choose(
    adapter: ModelAdapter, requested: Sequence[str], has_target: bool
) -> tuple[list[tuple[Explainer, str]], list[MethodOutcome]]:
    """The backends to run (with who chose them) and the skipped ones with why.

    ``auto`` walks the registry and skips what does not apply; a method named by the user that
    cannot run is an error with the reason, never a silent fallback.
    """
    chosen: list[tuple[Explainer, str]] = []
    skipped: list[MethodOutcome] = []
    if list(requested) in (["auto"], []):
        for explainer in REGISTRY.values():
            if not getattr(explainer, "in_auto", True):
                continue  # opt-in methods run only when named
            support = explainer.supports(adapter)
            if not support.ok:
                skipped.append(MethodOutcome(explainer.name, "skipped", support.reason))
            elif explainer.needs_target and not has_target:
                skipped.append(
                    MethodOutcome(explainer.name, "skipped", "needs labels: pass --target COLUMN")
                )
            else:
                chosen.append((explainer, "auto"))
        return chosen, skipped
    for name in requested:
        if name not in REGISTRY:
            close = difflib.get_close_matches(name, list(REGISTRY), n=1)
            raise MethodError(
                f"unknown method '{name}'" + (f" (did you mean '{close[0]}'?)" if close else ""),
                hint="`xai methods MODEL` lists the methods and which apply",
            )
        explainer = REGISTRY[name]
        support = explainer.supports(adapter)
        if not support.ok:
            raise MethodError(f"method '{name}' cannot run on this model: {support.reason}")
        if explainer.needs_target and not has_target:
            raise MethodError(
                f"method '{name}' needs labels", hint="pass --target COLUMN with the label column"
            )
        chosen.append((explainer, "user"))
    return chosen, skipped


def run_one(explainer: Explainer, chosen_by: str, ctx: ExplainContext) -> MethodOutcome:
    """Run one backend, timing it; any exception becomes a ``failed`` outcome with the reason."""
    library = explainer.library
    if library == "native":
        library = {"sklearn_tree": "shap"}.get(ctx.adapter.family, ctx.adapter.family)
    provenance = {
        "backend": explainer.name,
        "chosen_by": chosen_by,
        "library": library,
        "library_version": library_version(library),
        "uses_rows": explainer.uses_rows,
    }
    start = time.perf_counter()
    try:
        output = explainer.explain(ctx)
    except Exception as exc:  # a backend failure must not lose the other backends' results
        return MethodOutcome(
            explainer.name,
            "failed",
            describe(exc, 300),
            provenance=MethodProvenance(**provenance, elapsed_s=time.perf_counter() - start),
        )
    elapsed = time.perf_counter() - start
    local = output if isinstance(output, LocalAttribution) else None
    if local is not None and local.library:
        provenance["library"] = local.library
        provenance["library_version"] = library_version(local.library)
    if local is not None and local.notes:
        provenance["notes"] = local.notes
    table = local.to_global() if local is not None else output
    if not np.isfinite(table.values).all():
        return MethodOutcome(
            explainer.name,
            "failed",
            "produced non-finite importances (NaN or infinity)",
            provenance=MethodProvenance(**provenance, elapsed_s=elapsed),
        )
    return MethodOutcome(
        explainer.name,
        "ok",
        table=table,
        local=local,
        provenance=MethodProvenance(**provenance, elapsed_s=elapsed),
    )


DEFAULT_CHUNK_ROWS = 50_000
"""Rows per chunk when streaming and ``--chunk-rows`` is not given (``--engine dask``)."""
STREAM_SAMPLE_ROWS = 10_000
"""Rows kept for non-row-wise methods and plots when streaming without ``--max-rows``."""


def _params(request: ExplainRequest, method: str) -> dict[str, object]:
    """A method's params, with the run-wide ``n_jobs`` unless the method sets its own."""
    params = dict(request.params.get(method, {}))
    if request.n_jobs is not None:
        params.setdefault("n_jobs", request.n_jobs)
    return params


def model_output(adapter: ModelAdapter, local: LocalAttribution, X: pd.DataFrame) -> np.ndarray:
    """What a method's attributions must add up to: the raw output, or class probabilities when
    the method explains probabilities of a model whose raw output is something else."""
    if local.unit.endswith(":probability") and adapter.raw_space != "probability":
        scores = adapter.predict_scores(X)
        return scores[:, 1:2] if adapter.task == "binary" else scores
    return adapter.predict_raw(X)


def _streamed_sample(
    request: ExplainRequest, adapter: ModelAdapter
) -> tuple[pd.DataFrame, pd.Series | None, Path, str, int, list[str]]:
    """The seeded sample of a streamed run, read chunk by chunk, and its notes."""
    path = Path(request.data_path)
    if not path.is_file():
        raise MissingFileError(f"data file not found: {path}", hint="check the path")
    if path.suffix.lower() not in DATA_SUFFIXES:
        raise DataError(f"unknown data file type '{path.suffix or path.name}'",
                        hint="use a .csv or .parquet file")  # fmt: skip
    if request.chunk_rows is not None and request.chunk_rows < 1:
        raise MethodError("--chunk-rows must be at least 1")
    if request.engine not in ENGINES:
        raise MethodError(f"unknown engine '{request.engine}'",
                          hint=f"use one of: {', '.join(ENGINES)}")  # fmt: skip
    if request.engine == "dask" and path.suffix.lower() != ".parquet":
        raise UsageError(
            "--engine dask reads Parquet files (their row groups are the partitions)",
            hint="convert the CSV to Parquet, or use --chunk-rows N with the local engine",
        )
    chunk = request.chunk_rows or DEFAULT_CHUNK_ROWS
    keep = request.max_rows or STREAM_SAMPLE_ROWS
    frame, total, missing = stream_sample(path, chunk, request.seed, keep, request.target)
    X, y = split_features(
        frame,
        adapter.feature_names,
        target=request.target,
        drop=request.drop,
        by_position=not adapter.feature_names_known,
    )
    notes = list(adapter.notes)
    if missing:
        notes.append(f"{missing} rows with a missing target were left out")
    notes.append(
        f"streamed: row-wise methods explain all {total - missing} rows in chunks of {chunk}; "
        f"the other methods and the plots use a seeded sample of {len(X)} rows (not stratified)"
    )
    return X, y, path, file_sha256(path), total, notes


def load_rows(
    request: ExplainRequest, adapter: ModelAdapter
) -> tuple[pd.DataFrame, pd.Series | None, Path, str, int, list[str]]:
    """The rows a run explains: features ``X``, target ``y`` (raw labels), the data file's path,
    SHA-256 and row count, and notes on what was left out or sampled.

    In memory, the file is read whole, rows with a missing target are left out and a seeded sample
    (stratified for classifiers) of ``max_rows`` is taken; streamed, the sample is read chunk by
    chunk. Other commands (``xai audit``) call this to work on exactly the rows ``explain`` uses.
    """
    if request.streamed:
        return _streamed_sample(request, adapter)
    data = load_data(request.data_path)
    X, y = split_features(
        data.frame,
        adapter.feature_names,
        target=request.target,
        drop=request.drop,
        by_position=not adapter.feature_names_known,
    )
    notes = list(adapter.notes)
    if y is not None and y.isna().any():
        keep = y.notna().to_numpy()
        notes.append(f"{int((~keep).sum())} rows with a missing target were left out")
        X, y = X[keep], y[keep]
    X, y = sample_rows(X, y, request.max_rows, seed=request.seed, stratify=adapter.is_classifier)
    return X, y, data.path, data.sha256, len(data.frame), notes


def _rowwise_job(request: ExplainRequest, method: str, sample_rows: int) -> RowwiseJob:
    return RowwiseJob(
        model_path=str(Path(request.model_path).resolve()),
        trust_model=request.trust_model,
        method=method,
        target=request.target,
        drop=request.drop,
        seed=request.seed,
        chunk_rows=request.chunk_rows or DEFAULT_CHUNK_ROWS,
        sample_rows=sample_rows,
        params=_params(request, method),
    )


def _intervals(results: list[MethodOutcome], request: ExplainRequest) -> tuple[RankInterval, ...]:
    """Bootstrap rank intervals for every method whose ranking depends on the sampled rows.

    From the per-row values where there are some, else from the importances the method itself
    recomputed per resample (permutation). A streamed method explained every row, so its ranking
    has no row-sampling uncertainty; native importances read the trees, not the rows.
    """
    out: list[RankInterval] = []
    for o in results:
        if o.table is None or o.table.params.get("streamed"):
            continue
        if o.local is not None:
            out.extend(rank_intervals(o.local, seed=request.seed))
        elif o.table.bootstrap is not None:
            rows = int(o.table.params.get("rows", 0))
            out.extend(
                intervals_from_bootstrap(
                    o.method, o.table.features, o.table.column(), o.table.bootstrap, rows
                )
            )
    return tuple(out)


def explain(request: ExplainRequest, progress: Progress = _quiet) -> ExplainResult:
    """Run ``xai explain``: every chosen method on one model and one dataset, then compare.

    Raises :class:`xai_cli.errors.XaiError` for bad input; backend failures are recorded in the
    result instead.
    """
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    if request.top_k < 1:
        raise MethodError("--top-k must be at least 1")
    progress(f"loading model {request.model_path}")
    loaded = load_model(request.model_path, trust=request.trust_model)
    adapter = adapt(loaded.obj)
    progress(f"loading data {request.data_path}")
    X, y, data_path, data_sha, rows_total, notes = load_rows(request, adapter)
    encoded = None
    if y is not None:
        encoded, adapter, target_notes = encode_target(adapter, y)
        notes.extend(target_notes)
    adapter.typed_frame(X)  # fail early, with one clear error, on values the model cannot take
    chosen, outcomes = choose(adapter, request.methods, y is not None)
    results: list[MethodOutcome] = []
    checks: list[Additivity] = []
    for explainer, chosen_by in chosen:
        progress(f"running {explainer.name}")
        ctx = ExplainContext(
            adapter=adapter,
            X=X,
            y=encoded,
            seed=request.seed,
            params=_params(request, explainer.name),
        )
        if request.streamed and getattr(explainer, "row_wise", False):
            outcome, check = run_streamed(
                explainer, chosen_by, ctx, _rowwise_job(request, explainer.name, len(X)),
                Path(request.data_path), request.engine, request.scheduler, progress,
            )  # fmt: skip
            results.append(outcome)
            checks.extend([check] if check is not None else [])
            continue
        outcome = run_one(explainer, chosen_by, ctx)
        results.append(outcome)
        if outcome.local is not None:
            checks.append(additivity(outcome.local, model_output(adapter, outcome.local, X)))
    all_outcomes = tuple(results + outcomes)
    tables = tuple(o.table for o in results if o.table is not None)
    versions = {name: library_version(name) for name in LIBRARIES}
    versions["python"] = platform.python_version()
    provenance = RunProvenance(
        tool_version=__version__,
        model_path=str(loaded.path),
        model_sha256=loaded.sha256,
        model_format=loaded.format,
        model_class=adapter.model_class,
        data_path=str(data_path),
        data_sha256=data_sha,
        family=adapter.family,
        task=adapter.task,
        target=request.target,
        rows_total=rows_total,
        rows_used=len(X),
        seed=request.seed,
        top_k=request.top_k,
        library_versions=versions,
        started_at=started.isoformat(timespec="seconds"),
        elapsed_s=time.perf_counter() - t0,
        notes=tuple(notes),
    )
    return ExplainResult(
        provenance=provenance,
        features=adapter.feature_names,
        outputs=adapter.outputs,
        outcomes=all_outcomes,
        comparison=compare(tables, request.top_k, tuple(checks), _intervals(results, request)),
    )
