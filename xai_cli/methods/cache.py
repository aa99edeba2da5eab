"""Per-run memo of what a method derives from the model alone, so it is built once per run.

xai's TreeSHAP parses the model's trees, checks the parse against the library's own predictions
and compiles per-leaf tables before it explains a single row; that costs about a second on 500
trees. The time estimate's pilots and the real run explain rows of the same model, so they share
one :class:`RunCache`: the pilots pay for the parse, the run reuses it.

A cache belongs to one run (the engine makes one per prepared run and hands it to every
method's :class:`~xai_cli.methods.base.ExplainContext`); nothing is global, so nothing leaks from
one run, or one model, to the next. Entries are keyed by a name, by hashable settings and by the
*identity* of the objects they were derived from (the model adapter, the rows), held weakly: an
entry goes when one of its objects goes, so a value never outlives its rows and an identity is
never matched by a later object.
Each key is built once even when threads ask for it together. A cache pickles as an empty one (a
Dask task that carries a context rebuilds what it needs), and a build that raises is remembered
too, so a model that cannot be parsed is not parsed again just to fail again.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass
class _Entry:
    refs: tuple[Callable[[], Any], ...]
    """The owners, weakly where they allow it: a value dies with the rows it was derived from."""
    lock: threading.Lock = field(default_factory=threading.Lock)
    done: bool = False
    value: Any = None
    error: BaseException | None = None

    def owned_by(self, owners: tuple[Any, ...]) -> bool:
        return all(ref() is o for ref, o in zip(self.refs, owners, strict=True))


class RunCache:
    """Values derived from a run's model (and rows), each built once; see the module docstring."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[tuple[Hashable, ...], _Entry] = {}
        self.builds: dict[str, int] = {}
        """How many times each name was built (at most once per key): for tests and reports."""

    def get(
        self,
        name: str,
        owners: tuple[Any, ...],
        build: Callable[[], T],
        settings: tuple[Hashable, ...] = (),
    ) -> T:
        """The value for ``name`` derived from ``owners`` (by identity) with ``settings``;
        ``build()`` runs only when no such value exists yet. Re-raises a build's exception."""
        key = (name, *(id(o) for o in owners), *settings)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or not entry.owned_by(owners):
                entry = self._entries[key] = _Entry(tuple(self._ref(o, key) for o in owners))
        with entry.lock:  # one build per key; other keys are built concurrently
            if not entry.done:
                with self._lock:
                    self.builds[name] = self.builds.get(name, 0) + 1
                try:
                    entry.value = build()
                except Exception as exc:
                    entry.error = exc
                entry.done = True
        if entry.error is not None:
            raise entry.error
        return entry.value

    def _ref(self, owner: Any, key: tuple[Hashable, ...]) -> Callable[[], Any]:
        """A weak reference to ``owner`` that drops the entry when the owner goes (so a
        streamed partition's chunks are not kept alive), or a strong one where weak ones are
        not allowed. Either way an identity cannot be reused while the entry can match it."""
        entries = self._entries

        def drop(_: object) -> None:
            entries.pop(key, None)  # atomic; runs before the owner's id can be reused

        try:
            return weakref.ref(owner, drop)
        except TypeError:
            return lambda: owner

    def clear(self) -> None:
        """Drop every value (a run's end: its tables need not outlive it)."""
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def __getstate__(self) -> dict[str, Any]:
        return {}  # locks do not pickle, and arrays need not travel: a copy starts empty

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__()  # type: ignore[misc]
