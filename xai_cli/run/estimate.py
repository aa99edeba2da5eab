"""Time estimates before a run: each method timed on a few rows, extrapolated to the real run.

A method that reads only the model (native importances) is not piloted: its cost does not grow
with rows. A method that explains rows is run on a seeded subset twice on ``m`` rows and twice on
``4m`` rows (the faster of each pair counts; the first run also pays one-time costs such as
imports and numba compilation, which the real run then no longer pays). The two sizes give a
fixed cost and a cost per row, so the estimate is ``fixed + per_row * rows``; the pilots cost
about 5% of the run. A method whose cost is a known multiple of a few timed steps (permutation:
one prediction and one score per shuffled column and repeat) times those steps instead, through
the cost model every method declares, ``estimate_seconds(ctx, timer)`` (``None``: none, pilot
it): its fixed per-call costs would swamp a small pilot.
Pilots use the method's own settings (background sample, repeats, threads), so the estimate is
for this run on this machine, not a cost model.
Estimates are rough by nature; report.json keeps each next to the measured time.

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

PILOT_FROM = 2_000
"""Runs on fewer rows than this are not piloted: a pilot would cost about as much as the run."""
PILOT_MIN, PILOT_MAX = 25, 250
"""The small pilot's ``m``: 0.5% of the rows, within these bounds."""
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
    return int(min(PILOT_MAX, max(PILOT_MIN, n // 200)))


def estimate(
    explainer: Explainer,
    ctx: ExplainContext,
    rows: int,
    timer: Callable[[], float] = time.perf_counter,
) -> Estimate:
    """Estimate ``explainer``'s time on ``rows`` rows from pilots on a seeded subset of ``ctx.X``.

    Never raises: a pilot that fails gives no estimate, with the reason (the real run will
    report its own failure).
    """
    name = explainer.name
    if not explainer.uses_rows:
        return Estimate(name, None, rows, "reads the model only: about constant, not piloted")
    try:
        modelled = explainer.estimate_seconds(ctx, timer)
    except Exception as exc:  # an estimate must never stop the run
        return Estimate(name, None, rows, f"estimate failed: {describe(exc, 120)}")
    if modelled is not None:
        seconds, basis = modelled
        return Estimate(name, seconds, rows, basis)
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
        small = min(timed(m), timed(m))  # the first also pays the one-time costs
        large = min(timed(SPAN * m), timed(SPAN * m))
    except Exception as exc:  # an estimate must never stop the run
        return Estimate(name, None, rows, f"pilot failed: {describe(exc, 120)}")
    per_row = max(large - small, 0.0) / ((SPAN - 1) * m)
    fixed = max(small - per_row * m, 0.0)
    return Estimate(name, fixed + per_row * rows, rows, f"pilots on {m} and {SPAN * m} rows")


def describe_estimates(estimates: tuple[Estimate, ...]) -> str:
    """One line for the terminal: each piloted method's estimate, then the others briefly."""
    timed = [e for e in estimates if e.seconds is not None]
    parts = [f"{e.method} {_duration(e.seconds)}" for e in timed if e.seconds is not None]
    model_only = [e.method for e in estimates if e.basis.startswith("reads the model")]
    other = [e for e in estimates if e.seconds is None and e.method not in model_only]
    line = "estimated time: " + (", ".join(parts) if parts else "no method was piloted")
    if timed:
        total = sum(e.seconds for e in timed if e.seconds is not None)
        line += f" (total {_duration(total)}, from timed pilots; --estimate shows how)"
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
