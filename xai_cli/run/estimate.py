"""Time estimates before a run: a cheap cost model first, pilots only for long runs.

A method that reads only the model (native importances) is not estimated: its cost does not grow
with rows. A method that explains rows is first put through its cost model when it has one, a
``cost_model(ctx, rows, timer)`` hook returning (seconds, how) or ``None``: TreeSHAP times its
compiled tables on one block of rows and multiplies by the run's blocks over its threads;
permutation times one prediction on a few rows and multiplies by its ``1 + features x repeats``
calls and the rows. A run predicted to take under :data:`QUICK_BELOW` seconds is not piloted (a
pilot would cost a real share of it): the estimate is the prediction, and its basis says so.

Otherwise, or when asked (``xai explain --estimate``), the method is piloted. A method whose cost
is a known multiple of a few timed steps times those steps through its
``estimate_seconds(ctx, rows, timer)`` hook (permutation: one prediction, score and bootstrap
metric on all the rows, x its calls; TreeSHAP: one block, x the blocks); any other (or one whose
hook returns ``None``) runs on a seeded subset, once untimed on ``m`` rows (one-time costs such as
numba compilation), then timed on ``m`` and ``4m`` rows: a fixed cost and a cost per row, so the
estimate is ``fixed + per_row * rows``.

Pilots run with the method's own settings (background sample, repeats, threads) and share the
run's :class:`~xai_cli.methods.cache.RunCache`: what they parse and compile (TreeSHAP's trees,
check and tables) is built once and reused by the run. ``make bench`` (benchmarks/estimate.py)
measures what an estimate adds to a run. Estimates are rough by nature; report.json keeps each
next to the measured time.

The estimate also guards the run (:func:`apply_time_limit`): a method estimated to take longer than
the time limit (``--time-limit``, default 10 min per method) is skipped, with the estimate as the
reason, when ``auto`` chose it, and refused before anything runs when the user named it. Wide data
is where this matters: permutation importance costs one prediction on every row per column and
repeat, so 5,000 columns make 25,000 predictions.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from xai_cli.errors import TimeLimitError, UsageError, describe
from xai_cli.methods import ExplainContext, Explainer
from xai_cli.results import MethodOutcome

QUICK_BELOW = 3.0
"""Seconds: a run its cost model predicts to be shorter is not piloted."""
PILOT_FROM = 2_000
"""Runs on fewer rows than this are not piloted: a pilot would cost about as much as the run."""
PILOT_MIN, PILOT_MAX = 25, 250
"""The small pilot's ``m``: 0.25% of the rows, within these bounds."""
SPAN = 4
"""The large pilot has ``SPAN * m`` rows: a wide gap keeps timing noise out of the per-row cost."""


@dataclass(frozen=True)
class Estimate:
    """A method's estimated time for ``rows`` rows, or ``None`` with the reason in ``basis``."""

    method: str
    seconds: float | None
    rows: int
    basis: str


def pilot_rows(n: int) -> int:
    """The smaller pilot's row count for a run on ``n`` rows."""
    return int(min(PILOT_MAX, max(PILOT_MIN, n // 400)))


def estimate(
    explainer: Explainer,
    ctx: ExplainContext,
    rows: int,
    timer: Callable[[], float] = time.perf_counter,
    *,
    pilot: bool = False,
) -> Estimate:
    """Estimate ``explainer``'s time on ``rows`` rows: from its cost model when that predicts
    under :data:`QUICK_BELOW` seconds, else from pilots on a seeded subset of ``ctx.X``.

    ``pilot=True`` pilots even a short run (``xai explain --estimate`` asks for the estimate
    itself). Never raises: a failing cost model falls back to pilots, and a failing pilot gives no
    estimate, with the reason (the real run will report its own failure).
    """
    name = explainer.name
    if not explainer.uses_rows:
        return Estimate(name, None, rows, "reads the model only: about constant, not piloted")
    if not pilot:
        predicted = _cost_model(explainer, ctx, rows, timer)
        if predicted is not None and predicted[0] < QUICK_BELOW:
            seconds, how = predicted
            return Estimate(
                name, seconds, rows, f"predicted under {QUICK_BELOW:.0f} s: no pilots ({how})"
            )
    try:
        found = explainer.estimate_seconds(ctx, rows, timer)
    except Exception as exc:  # an estimate must never stop the run
        return Estimate(name, None, rows, f"estimate failed: {describe(exc, 120)}")
    if found is not None:  # None: this run is one the hook cannot time; pilot it
        return Estimate(name, found[0], rows, found[1])
    n = len(ctx.X)
    if n < PILOT_FROM:
        return Estimate(name, None, rows, f"{n} rows: too few to pilot")
    m = pilot_rows(n)
    order = np.random.default_rng(ctx.seed).permutation(n)

    def timed(k: int) -> float:
        picked = np.sort(order[:k])
        sub = dataclasses.replace(
            ctx,
            X=ctx.X.iloc[picked],
            y=None if ctx.y is None else ctx.y[picked],
            background=ctx.X if ctx.background is None else ctx.background,
        )
        start = timer()
        explainer.explain(sub)
        return timer() - start

    try:
        timed(m)  # pays the one-time costs (compilation; the parse the run reuses)
        small, large = timed(m), timed(SPAN * m)
    except Exception as exc:  # an estimate must never stop the run
        return Estimate(name, None, rows, f"pilot failed: {describe(exc, 120)}")
    per_row = max(large - small, 0.0) / ((SPAN - 1) * m)
    fixed = max(small - per_row * m, 0.0)
    return Estimate(name, fixed + per_row * rows, rows, f"pilots on {m} and {SPAN * m} rows")


def _cost_model(
    explainer: Explainer, ctx: ExplainContext, rows: int, timer: Callable[[], float]
) -> tuple[float, str] | None:
    """The method's cheap a-priori prediction (seconds, how), or ``None`` when it has none or
    it fails (then the method is piloted)."""
    try:
        found: tuple[float, str] | None = explainer.cost_model(ctx, rows, timer)
    except Exception:  # a cost model that cannot tell leaves the estimate to the pilots
        return None
    return found


def describe_estimates(estimates: tuple[Estimate, ...]) -> str:
    """One line for the terminal: each estimated method's time, then the others briefly."""
    timed = [e for e in estimates if e.seconds is not None]
    parts = [f"{e.method} {_duration(e.seconds)}" for e in timed if e.seconds is not None]
    model_only = [e.method for e in estimates if e.basis.startswith("reads the model")]
    other = [e for e in estimates if e.seconds is None and e.method not in model_only]
    line = "estimated time: " + (", ".join(parts) if parts else "no method was estimated")
    if timed:
        total = sum(e.seconds for e in timed if e.seconds is not None)
        line += f" (total {_duration(total)}; --estimate shows how)"
    if model_only:
        line += f"; read from the model, fast: {', '.join(model_only)}"
    if other:
        line += "; not estimated: " + ", ".join(f"{e.method} ({e.basis})" for e in other)
    return line


def _duration(seconds: float) -> str:
    if seconds < 1:
        return "<1 s"
    if seconds < 90:
        return f"~{seconds:.0f} s"
    if seconds < 5400:
        return f"~{seconds / 60:.0f} min"
    return f"~{seconds / 3600:.1f} h"


DEFAULT_TIME_LIMIT = 600.0
"""Seconds a method may be estimated to take before it is skipped (auto) or refused (named)."""
_UNITS = {"s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}


def resolve_time_limit(value: str | float | None) -> float | None:
    """A time limit as given: ``None`` -> the default, ``"none"`` -> no limit (``None``), a
    number of seconds or a duration such as ``90s``, ``10m``, ``2h`` -> seconds; anything else is
    a :class:`UsageError`."""
    if value is None:
        return DEFAULT_TIME_LIMIT
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        text = str(value).strip().lower()
        if text == "none":
            return None
        number, unit = text.rstrip("smhin"), text[len(text.rstrip("smhin")) :]
        try:
            seconds = float(number) * _UNITS[unit or "s"]
        except (KeyError, ValueError):
            seconds = -1.0
    if not seconds > 0 or seconds == float("inf"):
        raise UsageError(
            f"--time-limit must be a positive duration (e.g. 600, 90s, 10m, 2h) or 'none', "
            f"got '{value}'",
            hint=f"the default is {DEFAULT_TIME_LIMIT:.0f} seconds per method, as estimated",
        )
    return seconds


def _suggested(seconds: float) -> str:
    """A ``--time-limit`` value comfortably above an estimate: whole minutes or hours."""
    if seconds < 5400:
        return f"{int(seconds * 1.5 // 60) + 1}m"
    return f"{int(seconds * 1.5 // 3600) + 1}h"


def apply_time_limit(
    chosen: tuple[tuple[Explainer, str], ...],
    found: tuple[Estimate, ...],
    limit: float | None,
) -> tuple[tuple[tuple[Explainer, str], ...], tuple[MethodOutcome, ...]]:
    """The methods still to run and those skipped for time, given each method's estimate.

    A method ``auto`` chose whose estimate exceeds ``limit`` is skipped, the estimate and the
    option that runs it recorded as the reason; a method the user named raises
    :class:`TimeLimitError` (before any method has run). Methods without an estimate run.
    """
    if limit is None:
        return chosen, ()
    by_method = {e.method: e for e in found}
    keep: list[tuple[Explainer, str]] = []
    skipped: list[MethodOutcome] = []
    for explainer, chosen_by in chosen:
        known = by_method.get(explainer.name)
        guess = None if known is None else known.seconds
        if known is None or guess is None or guess <= limit:
            keep.append((explainer, chosen_by))
            continue
        bound = _duration(limit).lstrip("~")
        over = f"estimated {_duration(guess)}, over the time limit of {bound} per method"
        run_it = f"--time-limit {_suggested(guess)} (or none)"
        if chosen_by == "user":
            raise TimeLimitError(
                f"method '{explainer.name}' would take too long: {over}",
                cause=f"the estimate: {known.basis}",
                hint=f"pass {run_it} to run it anyway, or leave it out of --methods",
            )
        skipped.append(MethodOutcome(explainer.name, "skipped", f"{over}; pass {run_it} to run it"))
    return tuple(keep), tuple(skipped)
