"""Shared pieces of the fuzz tests: example counts, a time and memory bound, and the property.

The property every fuzz test checks: a loader given any input ends in a result or an
:class:`~xai_cli.errors.XaiError` (which the CLI prints as ``error[code]: message``, exit 2);
never another exception, never a hang, never unbounded memory.

Counts are kept small so the whole fuzz set stays around a minute of CPU in CI; the
``xai-ci`` profile (registered in ``tests/conftest.py``) derandomizes them so CI is reproducible.
Set ``XAI_FUZZ_EXAMPLES=2000`` (and ``XAI_FUZZ_PROFILE=xai-explore`` for fresh random examples)
to search harder locally.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings

from xai_cli.errors import XaiError

T = TypeVar("T")

LOAD_SECONDS = 10.0
"""How long one in-process load may take before the example counts as a hang."""

LOAD_MEMORY = 4 << 30
"""Address space one in-process load may add (4 GiB): more is a memory blow-up, not a load.
Not less: Arrow's allocator reserves address space in large chunks, and with 1 GiB a second
Parquet or CSV read failed with ``ArrowMemoryError: malloc of size 64 failed``."""


def examples(default: int) -> int:
    """``default`` examples, or ``XAI_FUZZ_EXAMPLES`` when set (to fuzz harder locally)."""
    return int(os.environ.get("XAI_FUZZ_EXAMPLES", default))


def fuzz_settings(default: int, **extra: Any) -> settings:
    """Hypothesis settings for one fuzz test: ``default`` examples and no per-example deadline.

    The deadline is off because the first example of a test pays for imports (xgboost, pandas);
    :func:`bounded` is the real time limit. ``too_slow`` and ``data_too_large`` are suppressed
    because the inputs are whole files (real model pickles, CSV text) by design.
    """
    return settings(
        max_examples=examples(default),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        **extra,
    )


class FileBytes(bytes):
    """Bytes whose repr is short: hypothesis prints fixtures and strategy arguments with a
    failing example, and these are whole files."""

    def __repr__(self) -> str:
        return f"<{len(self)} bytes>"


class LoadTimeout(BaseException):  # noqa: N818 - a BaseException so `except Exception` cannot eat it
    """Raised into a load that ran past its time bound (a hang)."""


def _address_space() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


@contextlib.contextmanager
def bounded(seconds: float = LOAD_SECONDS, memory: int = LOAD_MEMORY) -> Iterator[None]:
    """Run a block with a time bound (``SIGALRM`` raises :class:`LoadTimeout` between Python
    bytecodes) and a soft address-space cap ``memory`` above what the process uses now, so a
    fuzzed input that asks for gigabytes gets a ``MemoryError`` instead of exhausting the shared
    machine. Both are restored afterwards."""

    def on_alarm(signum: int, frame: Any) -> None:
        raise LoadTimeout(f"the load ran for more than {seconds:g}s")

    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = _address_space() + memory
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    previous = signal.signal(signal.SIGALRM, on_alarm)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def assert_user_error(exc: XaiError, *, one_line: bool = True) -> None:
    """An error fit for the terminal: a non-empty message on one line (the CLI prints it after
    ``error[code]:``), with no control characters that could redraw the terminal."""
    assert exc.message.strip(), f"{type(exc).__name__} with an empty message"
    lines = exc.message.splitlines()
    if one_line:
        assert len(lines) == 1, f"{type(exc).__name__} message spans lines: {exc.message!r}"
    allowed = {"\t"} if one_line else {"\t", "\n"}
    for part in (exc.message, exc.cause or "", exc.hint or ""):
        bad = {c for c in part if not (c.isprintable() or c in allowed)}
        assert not bad, f"control characters {sorted(bad)!r} in {part!r}"


def outcome(call: Callable[[], T], *, one_line: bool = True, **bound: Any) -> T | XaiError:
    """Run ``call`` under :func:`bounded`: its result, or the :class:`XaiError` it raised (checked
    by :func:`assert_user_error`). Any other exception propagates and fails the example."""
    try:
        with bounded(**bound):
            return call()
    except XaiError as exc:
        assert_user_error(exc, one_line=one_line)
        return exc
