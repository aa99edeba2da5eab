"""The explain flow: prepare (load, adapt, sample, choose backends), estimate, run each, compare.

Each step is a plain function; this module only strings them together. Each method is computed
in memory on the sample or, when the run streams, over every row of the file
(:mod:`xai_cli.run.rowwise`), and recorded by the one method runner
(:func:`xai_cli.run.runner.run_method`), which times it and makes sure one failing backend never
loses the others' results. Work runs in process, except with ``engine="dask"``: row-wise methods
stream over every row and permutation's prediction tasks run on one Dask session for the whole run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import platform
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from xai_cli import __version__
from xai_cli import progress as units
from xai_cli.compare.agreement import additivity, compare, intervals_from_bootstrap, rank_intervals
from xai_cli.errors import MethodError
from xai_cli.load.data import data_columns
from xai_cli.load.models import LoadedModel, load_model
from xai_cli.load.rows import DEFAULT_CHUNK_ROWS, encode_target, load_rows, load_selected
from xai_cli.load.select import ChosenRows
from xai_cli.methods import REGISTRY, ExplainContext, Explainer, unknown_method
from xai_cli.methods.agnostic.budget import affordable
from xai_cli.methods.base import library_version
from xai_cli.methods.cache import RunCache
from xai_cli.model.adapter import ModelAdapter, adapt
from xai_cli.model.names import align_names
from xai_cli.request import ExplainRequest
from xai_cli.results import (
    Additivity,
    Comparison,
    ExplainResult,
    LocalAttribution,
    MethodOutcome,
    RankInterval,
    RunProvenance,
)
from xai_cli.run.distributed import DaskSession
from xai_cli.run.estimate import Estimate, apply_time_limit, estimate
from xai_cli.run.memory import Decision, decide
from xai_cli.run.routes import EncodedRows, encoded_rows, regrouped, route
from xai_cli.run.rowwise import RowwiseJob, streamed
from xai_cli.run.runner import in_memory, run_method

if TYPE_CHECKING:
    from xai_cli.validate.facts import Facts

__all__ = [
    "ExplainRequest",
    "encode_target",
    "estimates",
    "explain",
    "load_rows",
    "prepare",
    "prepare_loaded",
    "run_prepared",
]

Progress = Callable[[str], None]
LIBRARIES = ("numpy", "pandas", "scikit-learn", "xgboost", "lightgbm", "catboost", "shap")


def _quiet(_: str) -> None:
    return None


def choose(
    adapter: ModelAdapter, requested: Sequence[str], has_target: bool, level: str = "raw"
) -> tuple[list[tuple[Explainer, str]], list[MethodOutcome]]:
    """The backends to run (with who chose them) and the skipped ones with why.

    ``auto`` walks the registry and skips what does not apply; a method named by the user that
    cannot run is an error with the reason, never a silent fallback. A pipeline's methods may
    apply through its final estimator (:func:`xai_cli.run.routes.route`).
    """
    chosen: list[tuple[Explainer, str]] = []
    skipped: list[MethodOutcome] = []
    if list(requested) in (["auto"], []):
        for explainer in REGISTRY.values():
            if not explainer.in_auto:
                continue  # opt-in methods run only when named
            support, _ = route(explainer, adapter, level)
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
            raise MethodError(
                unknown_method(name), hint="`xai methods MODEL` lists the methods and which apply"
            )
        explainer = REGISTRY[name]
        support, _ = route(explainer, adapter, level)
        if not support.ok:
            raise MethodError(f"method '{name}' cannot run on this model: {support.reason}")
        if explainer.needs_target and not has_target:
            raise MethodError(
                f"method '{name}' needs labels", hint="pass --target COLUMN with the label column"
            )
        chosen.append((explainer, "user"))
    return chosen, skipped




def model_output(adapter: ModelAdapter, local: LocalAttribution, X: pd.DataFrame) -> np.ndarray:
    """What a method's attributions must add up to: the raw output, or class probabilities when
    the method explains probabilities of a model whose raw output is something else."""
    if local.unit.endswith(":probability") and adapter.raw_space != "probability":
        scores = adapter.predict_scores(X)
        return scores[:, 1:2] if adapter.task == "binary" else scores
    return adapter.predict_raw(X)


def _rowwise_job(request: ExplainRequest, explainer: Explainer, sample_rows: int) -> RowwiseJob:
    return RowwiseJob(
        model_path=str(Path(request.model_path).resolve()),
        trust_model=request.trust_model,
        method=explainer.name,
        target=request.target,
        drop=request.drop,
        seed=request.seed,
        chunk_rows=request.chunk_rows or DEFAULT_CHUNK_ROWS,
        sample_rows=sample_rows,
        params=request.params_for(explainer),
        columns=data_columns(request.data_path),
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


@dataclasses.dataclass(frozen=True)
class Prepared:
    """A run made ready: the model, its rows, the target and the methods to run."""

    loaded: LoadedModel
    adapter: ModelAdapter
    X: pd.DataFrame
    encoded: np.ndarray | None
    data_path: Path
    data_sha256: str
    rows_total: int
    notes: tuple[str, ...]
    chosen: tuple[tuple[Explainer, str], ...]
    skipped: tuple[MethodOutcome, ...]
    cache: RunCache = dataclasses.field(default_factory=RunCache, compare=False, repr=False)
    """What the methods derive from the model once per run (parsed trees, tables), shared by
    the estimate's pilots and the run."""
    chosen_rows: ChosenRows | None = None
    """The rows chosen to be explained one by one (``--rows``/``--where``), among ``X``."""
    pipeline_rows: EncodedRows | None = None
    """A pipeline's rows encoded once, for the methods that run on the encoded matrix."""
    on_encoded: frozenset[str] = frozenset()
    """The methods that run on the encoded matrix through the final estimator."""
    effective: ExplainRequest | None = None
    """The request as the memory check changed it when the run streams on its own
    (:mod:`xai_cli.run.memory`); None: the request as given."""

    def request_for(self, request: ExplainRequest) -> ExplainRequest:
        """The request the run executes: the streamed one when memory chose streaming."""
        return self.effective or request

    def encoded_route(self, explainer: Explainer) -> EncodedRows | None:
        """The encoded rows when ``explainer`` runs on a pipeline's encoded matrix, else None."""
        return self.pipeline_rows if explainer.name in self.on_encoded else None

    @property
    def features(self) -> tuple[str, ...]:
        """The features the run reports on: raw columns, or encoded ones at the encoded level."""
        rows = self.pipeline_rows
        if rows is not None and not rows.regroups:
            return rows.view.encoded_features
        return self.adapter.feature_names

    def context(
        self, request: ExplainRequest, explainer: Explainer, dask: DaskSession | None = None
    ) -> ExplainContext:
        """A backend's context; with the run's Dask session for backends that distribute. A
        method on a pipeline's encoded matrix gets the final estimator and the encoded rows."""
        distributes = dask is not None and explainer.distributes
        rows = self.encoded_route(explainer)
        return ExplainContext(
            adapter=self.adapter if rows is None else rows.view.final,
            X=self.X if rows is None else rows.X,
            y=self.encoded,
            seed=request.seed,
            params=request.params_for(explainer),
            task_map=dask.map if distributes and dask is not None else None,
            cache=self.cache,
        )

    def streams(self, request: ExplainRequest, explainer: Explainer) -> bool:
        """Whether ``explainer`` runs streamed over every row rather than on the sample (a method
        on a pipeline's encoded matrix runs on the sample)."""
        return request.streamed and explainer.row_wise and self.encoded_route(explainer) is None


def prepare(request: ExplainRequest, progress: Progress = _quiet) -> Prepared:
    """Load, check and sample everything a run needs; raises ``XaiError`` on bad input.

    The request checked its options and parameters when it was made, before this loads anything.
    """
    progress(f"loading model {request.model_path}")
    loaded = load_model(
        request.model_path, trust=request.trust_model, max_bytes=request.max_model_size
    )
    adapter = adapt(loaded.obj)
    exclude = (request.target or "", *request.drop)
    columns = data_columns(request.data_path)
    adapter = align_names(adapter, columns, exclude)
    decision = _memory_decision(request, adapter, len(columns))
    request = decision.request
    if decision.streams:
        progress("streaming: every row in memory is estimated over the memory budget")
    progress(f"loading data {request.data_path}")
    X, y, data_path, data_sha, rows_total, notes, chosen = load_selected(request, adapter)
    if decision.note:
        notes = [*notes, decision.note]
    prep = prepare_loaded(
        request, loaded, adapter, X, y, data_path, data_sha, rows_total, notes, chosen
    )
    return dataclasses.replace(prep, effective=request) if decision.streams else prep


def _memory_decision(request: ExplainRequest, adapter: ModelAdapter, columns: int) -> Decision:
    """Whether the run streams because explaining every row in memory would exceed the budget
    (:func:`xai_cli.run.memory.decide`), for the methods the run would choose."""
    try:
        chosen, _ = choose(adapter, request.methods, request.target is not None, request.level)
    except MethodError:  # the same check fails with its own message once the rows are loaded
        return Decision(request, False, None)
    return decide(request, [e for e, _ in chosen], len(adapter.feature_names),
                  len(adapter.outputs), columns)  # fmt: skip


def prepare_loaded(
    request: ExplainRequest,
    loaded: LoadedModel,
    adapter: ModelAdapter,
    X: pd.DataFrame,
    y: pd.Series | None,
    data_path: Path,
    data_sha: str,
    rows_total: int,
    notes: list[str],
    chosen_rows: ChosenRows | None = None,
) -> Prepared:
    """The part of :func:`prepare` after loading, shared with the object API (:mod:`xai_cli.api`):
    encode the target, check the values, choose the methods."""
    notes = list(notes)
    encoded = None
    if y is not None:
        encoded, adapter, target_notes = encode_target(adapter, y)
        notes.extend(target_notes)
    adapter.typed_frame(X)  # fail early, with one clear error, on values the model cannot take
    chosen, skipped = choose(adapter, request.methods, y is not None, request.level)
    chosen, priced_out = affordable(
        chosen,
        lambda e: ExplainContext(adapter, X, encoded, request.seed, request.params_for(e)),
        request.time_limit,
    )
    skipped = [*skipped, *priced_out]
    on_encoded = frozenset(
        e.name for e, _ in chosen if route(e, adapter, request.level)[1] == "encoded"
    )
    if request.level == "encoded" and adapter.pipeline is None:
        notes.append("--level encoded has no effect: the model does not encode its own inputs")
    pipeline_rows = encoded_rows(adapter, X, request.level) if on_encoded else None
    return Prepared(loaded, adapter, X, encoded, data_path, data_sha, rows_total, tuple(notes),
                    tuple(chosen), tuple(skipped), chosen_rows=chosen_rows,
                    pipeline_rows=pipeline_rows,
                    on_encoded=on_encoded)  # fmt: skip


def estimates(
    request: ExplainRequest, prepared: Prepared, progress: Progress = _quiet, *, pilot: bool = False
) -> tuple[Estimate, ...]:
    """Each chosen method's estimated time: its cost model for a short run, else pilots on a few
    rows (see :mod:`xai_cli.run.estimate`); ``pilot=True`` pilots short runs too.

    A streamed method is estimated for every row of the file, on this machine. What the pilots
    parse and compile stays in ``prepared.cache`` for the run.
    """
    request = prepared.request_for(request)
    out = []
    for explainer, _ in prepared.chosen:
        progress(f"estimating {explainer.name}")
        rows = prepared.rows_total if prepared.streams(request, explainer) else len(prepared.X)
        ctx = prepared.context(request, explainer)
        out.append(estimate(explainer, ctx, rows, pilot=pilot))
    return tuple(out)


@contextlib.contextmanager
def _no_dask() -> Iterator[None]:
    yield None


def _run_method(
    request: ExplainRequest,
    prep: Prepared,
    explainer: Explainer,
    chosen_by: str,
    dask: DaskSession | None,
    progress: Progress,
) -> tuple[MethodOutcome, Additivity | None]:
    """One method: streamed over every row when it is row-wise and the run streams, else on the
    sample (its prediction tasks on Dask when it distributes and the engine is dask)."""
    ctx = prep.context(request, explainer, dask)
    if prep.streams(request, explainer):
        job = _rowwise_job(request, explainer, len(prep.X))
        compute = streamed(ctx, job, Path(request.data_path), request.engine, dask, progress)
    else:
        compute = in_memory(explainer, ctx)
    rows = prep.encoded_route(explainer)
    if rows is not None and rows.regroups:
        compute = regrouped(compute, rows)
    outcome, check = run_method(explainer, chosen_by, ctx.adapter.family, compute)
    if check is not None or outcome.local is None or not outcome.local.additive:
        return outcome, check
    # a pipeline's summed values must still add up to its final estimator's output
    return outcome, additivity(outcome.local, model_output(ctx.adapter, outcome.local, ctx.X))


def explain(
    request: ExplainRequest,
    progress: Progress = _quiet,
    on_estimates: Callable[[tuple[Estimate, ...]], None] | None = None,
) -> ExplainResult:
    """Run ``xai explain``: every chosen method on one model and one dataset, then compare.

    With ``on_estimates``, each method's time is estimated first and handed to it before any
    method runs (the CLI prints them); the estimates are kept in the methods' provenance, and
    ``request.time_limit`` applies to them (:func:`xai_cli.run.estimate.apply_time_limit`).
    Raises :class:`xai_cli.errors.XaiError` for bad input; backend failures are recorded in the
    result instead.
    """
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    prep = prepare(request, progress)
    return run_prepared(request, prep, progress, on_estimates, started=started, t0=t0)


def run_prepared(
    request: ExplainRequest,
    prep: Prepared,
    progress: Progress = _quiet,
    on_estimates: Callable[[tuple[Estimate, ...]], None] | None = None,
    *,
    started: datetime | None = None,
    t0: float | None = None,
) -> ExplainResult:
    """Estimate (when asked), run every chosen method of a prepared run, then compare.

    The one place a run's methods are executed, whether the run started from files
    (:func:`explain`) or from objects (:func:`xai_cli.api.explain`).
    """
    started = started or datetime.now(UTC)
    t0 = time.perf_counter() if t0 is None else t0
    request = prep.request_for(request)
    adapter, X = prep.adapter, prep.X
    guessed: dict[str, float | None] = {}
    chosen, over_time = prep.chosen, ()
    if on_estimates is not None:
        found = estimates(request, prep, progress)
        on_estimates(found)
        guessed = {e.method: e.seconds for e in found}
        chosen, over_time = apply_time_limit(prep.chosen, found, request.time_limit)
    results: list[MethodOutcome] = []
    checks: list[Additivity] = []
    with DaskSession(request.scheduler) if request.engine == "dask" else _no_dask() as dask:
        for explainer, chosen_by in chosen:
            guess = guessed.get(explainer.name)
            progress(f"running {explainer.name}" + (f" (~{guess:.1f} s)" if guess else ""))
            with units.method(explainer.name, guess):
                outcome, check = _run_method(request, prep, explainer, chosen_by, dask, progress)
            if outcome.provenance is not None and guess is not None:
                provenance = dataclasses.replace(outcome.provenance, estimated_s=guess)
                outcome = dataclasses.replace(outcome, provenance=provenance)
            results.append(outcome)
            checks.extend([check] if check is not None else [])
    described = _describe(request, prep, results, progress)
    prep.cache.clear()  # the parsed trees and tables are this run's; a kept result holds no copy
    tables = tuple(o.table for o in results if o.table is not None)
    versions = {name: library_version(name) for name in LIBRARIES}
    versions["python"] = platform.python_version()
    provenance = RunProvenance(
        tool_version=__version__,
        model_path=str(prep.loaded.path),
        model_sha256=prep.loaded.sha256,
        model_format=prep.loaded.format,
        model_class=adapter.model_class,
        data_path=str(prep.data_path),
        data_sha256=prep.data_sha256,
        family=adapter.family,
        task=adapter.task,
        target=request.target,
        rows_total=prep.rows_total,
        rows_used=len(X),
        seed=request.seed,
        top_k=request.top_k,
        library_versions=versions,
        started_at=started.isoformat(timespec="seconds"),
        elapsed_s=time.perf_counter() - t0,
        notes=prep.notes,
    )
    comparison = compare(tables, request.top_k, tuple(checks), _intervals(results, request))
    return ExplainResult(
        provenance=provenance,
        features=prep.features,
        outputs=adapter.outputs,
        outcomes=tuple(results) + over_time + prep.skipped,
        comparison=comparison,
        validation=screened(prep, comparison, request.seed, progress),
        **described,
    )


def _describe(
    request: ExplainRequest, prep: Prepared, results: list[MethodOutcome], progress: Progress
) -> dict[str, Any]:
    """The chosen rows side by side, the model's metrics and the category labels."""
    from xai_cli.compare.per_row import explain_rows
    from xai_cli.run.describe import category_entries, model_metrics

    out: dict[str, Any] = {"categories": category_entries(prep.adapter, prep.X)}
    if prep.encoded is not None:
        progress("scoring the model")
        out["metrics"] = model_metrics(prep.adapter, prep.X, prep.encoded)
    if prep.chosen_rows is not None:
        progress("explaining the chosen rows")
        locals_ = [
            o.local for o in results
            if o.local is not None and o.local.values.shape[0] == len(prep.X)
        ]  # fmt: skip
        out["rows"] = explain_rows(
            prep.chosen_rows, prep.adapter, prep.X, locals_, request.top_k
        )
    return out


def screened(prep: Prepared, comparison: Comparison, seed: int, progress: Progress) -> Facts:
    """Every run's leak, identifier and importance-outlier screen (:mod:`xai_cli.validate.leaks`);
    a screen that cannot run says why in the verdict instead of failing the run."""
    from xai_cli.validate.facts import Facts
    from xai_cli.validate.leaks import screen

    progress("screening for leaks and identifiers")
    try:
        found = screen(prep.X, prep.encoded, prep.adapter.is_classifier, comparison, seed)
    except Exception as exc:  # the screen is advice: it never loses the run's results
        return Facts(screen_error=f"{type(exc).__name__}: {exc}")
    return Facts(findings=found)
