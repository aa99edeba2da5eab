"""Progress of a run as facts: which method runs, since when, how many of its units are done.

The engine says when a method starts and ends (:func:`method`); a method says how far it is in
its own units (:func:`advance`: rows for TreeSHAP, shuffled copies for permutation, partitions
for a streamed run). Both go to the :class:`Tracker` installed for the current run with
:func:`tracking` (the CLI's display; a context variable, so nothing changes the methods'
signatures and a run without a tracker pays one lookup). Work outside a method (the estimate's
pilots) reports to nobody.

:class:`MethodProgress` turns the facts into what a user reads: elapsed time, done/total, and an
ETA from the measured rate once units are done (before that, from the estimate, marked as such).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Protocol


@dataclass
class MethodProgress:
    """One method's progress: started at ``started`` (``time.monotonic``), ``done`` of ``total``
    ``unit`` so far (``total`` 0 until the method reports), its estimate in seconds if any."""

    method: str
    estimate: float | None = None
    started: float = field(default_factory=time.monotonic)
    done: int = 0
    total: int = 0
    unit: str = ""
    first_done_at: float | None = None
    """When the first units were reported: the rate is measured from then, so a method's set-up
    (parsing, compiling tables) does not count as slow progress."""
    first_done: int = 0
    stage_started: float | None = None
    """When the current stage (a change of ``unit``) began; ``None``: with the method."""
    later_stage: bool = False
    """Past the first stage, the method's estimate no longer tells the time left."""

    def elapsed(self, now: float | None = None) -> float:
        """Seconds since the method started."""
        return (time.monotonic() if now is None else now) - self.started

    def eta(self, now: float | None = None) -> tuple[float | None, bool]:
        """Seconds left and whether that is measured (``True``) or the estimate's (``False``).

        Measured: the units done since the first report, at the rate since then. Before two
        reports, the estimate minus the time spent (never below 0); ``None`` without either.
        """
        now = time.monotonic() if now is None else now
        if self.total and self.done >= self.total:
            return 0.0, True
        if self.first_done_at is not None and self.done > self.first_done:
            rate = (self.done - self.first_done) / max(now - self.first_done_at, 1e-9)
            return (self.total - self.done) / rate, True
        if self.total and self.done and self.first_done_at is not None:
            # one report so far: the set-up before it is the best rate we have
            began = self.started if self.stage_started is None else self.stage_started
            rate = self.done / max(self.first_done_at - began, 1e-9)
            return (self.total - self.done) / rate, True
        if self.estimate is not None and not self.later_stage:
            return max(self.estimate - self.elapsed(now), 0.0), False
        return None, False

    def line(self, now: float | None = None) -> str:
        """One plain line: ``permutation: 120/325 shuffles, 35 s elapsed, ~1 min left``."""
        now = time.monotonic() if now is None else now
        parts = [f"{self.method}:"]
        if self.total:
            parts.append(f"{self.done:,}/{self.total:,} {self.unit},")
        parts.append(f"{duration(self.elapsed(now))} elapsed")
        left, measured = self.eta(now)
        if left is not None:
            parts[-1] += ","
            parts.append(f"{duration(left)} left" + ("" if measured else " (estimated)"))
        return " ".join(parts)


def duration(seconds: float) -> str:
    """``42 s``, ``3 min 05 s``, ``1 h 02 min``: short and exact enough for a progress line."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"


class Tracker(Protocol):
    """What receives a run's progress (the CLI's terminal or log display)."""

    def start(self, progress: MethodProgress) -> None:
        """A method started."""

    def update(self, progress: MethodProgress) -> None:
        """The running method reported units."""

    def finish(self, progress: MethodProgress) -> None:
        """The running method ended (ok or failed)."""


@dataclass
class _Active:
    tracker: Tracker
    current: MethodProgress | None = None
    muted: int = 0


_ACTIVE: ContextVar[_Active | None] = ContextVar("xai_progress", default=None)


@contextlib.contextmanager
def tracking(tracker: Tracker) -> Iterator[None]:
    """Send the progress of runs inside this block to ``tracker``."""
    token = _ACTIVE.set(_Active(tracker))
    try:
        yield
    finally:
        _ACTIVE.reset(token)


@contextlib.contextmanager
def method(name: str, estimate: float | None = None) -> Iterator[None]:
    """The engine runs method ``name`` inside this block (estimated to take ``estimate`` s)."""
    active = _ACTIVE.get()
    if active is None:
        yield
        return
    active.current = MethodProgress(name, estimate)
    active.tracker.start(active.current)
    try:
        yield
    finally:
        done, active.current = active.current, None
        active.tracker.finish(done)


def advance(done: int, total: int, unit: str) -> None:
    """The running method has done ``done`` of ``total`` ``unit`` (cumulative, not a step)."""
    active = _ACTIVE.get()
    if active is None or active.current is None or active.muted:
        return
    p = active.current
    if unit != p.unit and p.unit:  # a new stage of the method: its rate is measured afresh
        p.stage_started, p.first_done_at, p.first_done = time.monotonic(), None, 0
        p.later_stage = True
    if p.first_done_at is None and done > 0:
        p.first_done_at, p.first_done = time.monotonic(), done
    p.done, p.total, p.unit = done, total, unit
    active.tracker.update(p)


def reporting() -> bool:
    """Whether a method's units are being watched now (so a method may skip slicing its work)."""
    active = _ACTIVE.get()
    return active is not None and active.current is not None and not active.muted


@contextlib.contextmanager
def suppressed() -> Iterator[None]:
    """Inner work reports nothing inside this block (its caller counts coarser units)."""
    active = _ACTIVE.get()
    if active is None:
        yield
        return
    active.muted += 1
    try:
        yield
    finally:
        active.muted -= 1
