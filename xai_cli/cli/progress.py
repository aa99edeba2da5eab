"""Progress on stderr that tells the truth: elapsed time, units done, an ETA from measured speed.

On a terminal: one live line, redrawn four times a second (rich), e.g.
``⠋ permutation ━━━━━━━╸━━━━━━ 120/325 shuffled copies, 35 s elapsed, 1 min 02 s left``; before a
method has reported any units the ETA is its estimate minus the time spent, marked
``(estimated)``. Anywhere else (a CI log, a pipe): plain timestamped lines at most every
``XAI_PROGRESS_INTERVAL`` seconds (default 10), so a log shows a long run is alive without
flooding it: the running method's state (or the step, such as loading data), and once such a line
has appeared, each method's start and end; a run shorter than the interval prints none.

The facts come from :mod:`xai_cli.progress` (method start and end, units reported by the methods)
and from the engine's step messages (``loading model ...``, ``estimating treeshap``). Imported
only when a command runs (it imports rich), never for ``--help``.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, SpinnerColumn, Task, TextColumn
from rich.text import Text

from xai_cli.progress import MethodProgress, duration, tracking

DEFAULT_INTERVAL = 10.0
"""Seconds between progress lines in a log (``XAI_PROGRESS_INTERVAL`` overrides it)."""


def log_interval() -> float:
    """The seconds between progress lines when stderr is not a terminal."""
    try:
        value = float(os.environ.get("XAI_PROGRESS_INTERVAL", DEFAULT_INTERVAL))
    except ValueError:
        return DEFAULT_INTERVAL
    return value if value > 0 else DEFAULT_INTERVAL


class LogProgress:
    """Plain timestamped lines for a log, at most one every ``interval`` seconds while the run
    goes on. A run shorter than ``interval`` prints nothing (a log, or a test, sees only its
    result); once a line has been printed, methods' starts and ends are printed too."""

    def __init__(self, console: Console, interval: float) -> None:
        self.console = console
        self.interval = interval
        self.lock = threading.Lock()
        self.current: MethodProgress | None = None
        self.step = ""
        self.step_started = time.monotonic()
        self.last_line = time.monotonic()
        self.live = False
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._beat, name="xai-progress", daemon=True)

    def _print(self, text: str) -> None:
        stamp = datetime.now().strftime("%H:%M:%S")
        self.console.print(f"[{stamp}] {text}", highlight=False, markup=False, soft_wrap=True)
        self.last_line, self.live = time.monotonic(), True

    def _beat(self) -> None:
        while not self.stop.wait(min(1.0, self.interval / 4)):
            with self.lock:
                if time.monotonic() - self.last_line < self.interval:
                    continue
                if self.current is not None:
                    self._print(self.current.line())
                elif self.step:
                    elapsed = duration(time.monotonic() - self.step_started)
                    self._print(f"{self.step} ({elapsed} elapsed)")

    def phase(self, message: str) -> None:
        """An engine step (``loading data ...``): shown by the heartbeat while it lasts."""
        with self.lock:
            inner = self.current is not None and "partition" in message
            if not inner and not message.startswith("running "):  # start() says those
                self.step, self.step_started = message, time.monotonic()

    def start(self, progress: MethodProgress) -> None:
        with self.lock:
            self.current = progress
            if self.live:
                guess = progress.estimate
                said = "" if guess is None else f" (estimated {duration(guess)})"
                self._print(f"{progress.method}: started{said}")

    def update(self, progress: MethodProgress) -> None:
        return None  # the heartbeat prints the latest state at its own pace

    def finish(self, progress: MethodProgress) -> None:
        with self.lock:
            self.current, self.step = None, ""
            if self.live:
                self._print(f"{progress.method}: finished in {duration(progress.elapsed())}")


class FactsColumn(ProgressColumn):
    """Units done, elapsed and ETA of the running method, computed at each redraw."""

    def render(self, task: Task) -> Text:
        facts: MethodProgress | None = task.fields.get("facts")
        if facts is None:
            return Text("")
        return Text(facts.line().split(": ", 1)[1], style="dim")


class TerminalProgress:
    """One live line on a terminal (rich), redrawn from the facts at every refresh."""

    def __init__(self, console: Console) -> None:
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(bar_width=24),
            FactsColumn(),
            console=console,
            transient=True,
            refresh_per_second=4,
        )
        self.task = self.progress.add_task("starting…", total=None, facts=None)
        self.console = console

    def phase(self, message: str) -> None:
        if "partition" in message:
            return  # the method's own units say more
        self.progress.update(self.task, description=message, total=None, facts=None)

    def start(self, progress: MethodProgress) -> None:
        self.progress.update(
            self.task, description=progress.method, total=None, completed=0, facts=progress
        )

    def update(self, progress: MethodProgress) -> None:
        self.progress.update(self.task, total=progress.total or None, completed=progress.done)

    def finish(self, progress: MethodProgress) -> None:
        self.progress.update(self.task, facts=None, total=None, completed=0)
        if progress.elapsed() >= 1:
            self.console.print(
                f"{progress.method}: finished in {duration(progress.elapsed())}", highlight=False
            )


@contextmanager
def run_progress(console: Console, *, quiet: bool = False) -> Iterator[object]:
    """Show a run's progress on ``console`` (stderr); yields the engine's step callback."""
    if quiet:
        yield lambda _message: None
        return
    if console.is_terminal:
        display = TerminalProgress(console)
        with display.progress, tracking(display):
            yield display.phase
        return
    log = LogProgress(console, log_interval())
    log.thread.start()
    try:
        with tracking(log):
            yield log.phase
    finally:
        log.stop.set()
        log.thread.join()
