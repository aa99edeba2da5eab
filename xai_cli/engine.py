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

import numpy as np
import pandas as pd

from xai_cli import __version__
from xai_cli.adapters import ModelAdapter, adapt
from xai_cli.compare import additivity, compare
from xai_cli.errors import DataError, MethodError, describe
from xai_cli.explainers import REGISTRY, ExplainContext, Explainer
from xai_cli.explainers.base import library_version
from xai_cli.io.data import load_data, sample_rows, split_features
from xai_cli.io.models import load_model
from xai_cli.results import (
    Additivity,
    ExplainResult,
    LocalAttribution,
    MethodOutcome,
    MethodProvenance,
    RunProvenance,
)

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
    n_jobs: int | None = None
    """Threads for backends that parallelise over row chunks (``n_jobs`` param); None: theirs."""


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
        data_path=str(data.path),
        data_sha256=data.sha256,
        family=adapter.family,
        task=adapter.task,
        target=request.target,
        rows_total=len(data.frame),
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
        comparison=compare(tables, request.top_k, tuple(checks)),
    )
