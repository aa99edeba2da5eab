"""The per-run cache (:mod:`xai_cli.methods.cache`): one build per key, even from threads; keys by
identity, so another model or other rows never get a stale value; failures remembered; values
freed with their rows; a pickled copy starts empty."""

from __future__ import annotations

import gc
import pickle
import threading
import time

import pandas as pd
import pytest

from xai_cli.methods.cache import RunCache


class Model:
    """Stands for a model adapter: only its identity matters."""


def test_one_build_per_key_even_when_threads_ask_together() -> None:
    cache, model, built = RunCache(), Model(), []

    def build() -> str:
        built.append(1)
        time.sleep(0.05)  # long enough for every thread to be waiting on the same key
        return "tables"

    got: list[str] = []
    workers = [
        threading.Thread(target=lambda: got.append(cache.get("t", (model,), build)))
        for _ in range(8)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert got == ["tables"] * 8 and built == [1] and cache.builds == {"t": 1}


def test_keys_are_the_owners_identity_and_the_settings() -> None:
    cache, a, b = RunCache(), Model(), Model()
    assert cache.get("t", (a,), lambda: 1) == 1
    assert cache.get("t", (a,), lambda: 2) == 1  # the same model: reused
    assert cache.get("t", (b,), lambda: 3) == 3  # another model: its own
    assert cache.get("t", (a,), lambda: 4, settings=(1000, 0)) == 4
    assert cache.get("u", (a,), lambda: 5) == 5
    assert cache.builds == {"t": 3, "u": 1}


def test_a_failed_build_is_remembered_not_retried() -> None:
    cache, model, tries = RunCache(), Model(), []

    def build() -> None:
        tries.append(1)
        raise ValueError("cannot parse")

    for _ in range(3):
        with pytest.raises(ValueError, match="cannot parse"):
            cache.get("t", (model,), build)
    assert tries == [1]


def test_values_go_with_their_rows_and_with_clear() -> None:
    cache, model = RunCache(), Model()
    rows = pd.DataFrame({"a": [1.0, 2.0]})
    cache.get("check", (model, rows), lambda: 0.5)
    cache.get("compile", (model,), lambda: "forest")
    assert len(cache) == 2
    del rows
    gc.collect()
    assert len(cache) == 1  # a streamed chunk's check does not keep the chunk alive
    cache.clear()
    assert len(cache) == 0


def test_a_pickled_cache_starts_empty_and_works() -> None:
    cache, model = RunCache(), Model()
    cache.get("t", (model,), lambda: 1)
    copy = pickle.loads(pickle.dumps(cache))
    assert len(copy) == 0 and copy.get("t", (model,), lambda: 2) == 2
