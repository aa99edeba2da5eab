"""Dask execution of row-wise work and independent tasks: a client on a given scheduler, or a
local cluster.

Only this module imports ``dask.distributed``. Workers must have xai-cli installed and see the
model and data files at the same paths (a shared file system): row-wise tasks carry paths, not
data. Permutation importance sends its sample rows and the loaded model to each worker once.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from typing import Any

from xai_cli.errors import UsageError, describe


@contextlib.contextmanager
def dask_client(scheduler: str | None) -> Iterator[Any]:
    """A ``distributed.Client`` on ``scheduler``, or on a fresh ``LocalCluster`` when ``None``."""
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:  # the [dask] extra is not installed
        raise UsageError(
            "--engine dask needs Dask, which is an optional part of xai-cli",
            cause=str(exc),
            hint="pip install 'xai-cli[dask]' (or pipx inject xai-cli 'dask[distributed]')",
        ) from exc
    if scheduler:
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise UsageError(
                f"cannot reach the Dask scheduler at {scheduler}",
                cause=describe(exc, 200),
                hint="check the address (tcp://host:8786), or drop --scheduler for a local cluster",
            ) from exc
        with client:
            yield client
        return
    workers = max(1, min(4, os.cpu_count() or 1))
    with (
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=40,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


class DaskSession:
    """One Dask client for a whole run, started on first use and closed when the run ends, so
    the methods of one run share a cluster (a ``LocalCluster`` takes seconds to start)."""

    def __init__(self, scheduler: str | None) -> None:
        self.scheduler = scheduler
        self._stack = contextlib.ExitStack()
        self._client: Any = None
        self._scattered: dict[int, tuple[Any, Any]] = {}

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = self._stack.enter_context(dask_client(self.scheduler))
        return self._client

    def map(self, fn: Callable[..., Any], items: list[Any], **shared: Any) -> list[Any]:
        """``[fn(item, **shared) for item in items]`` on the cluster, in the order of ``items``;
        each ``shared`` value is sent to every worker once."""
        client = self.client
        scattered = {k: self._scatter(v) for k, v in shared.items()}
        return client.gather(client.map(fn, items, **scattered, pure=False))

    def _scatter(self, value: Any) -> Any:
        """``value`` on every worker, sent once per session: later maps over the same object
        reuse its future (re-scattering equal data under the same key races its release)."""
        held = self._scattered.get(id(value))
        if held is None or held[0] is not value:
            held = (value, self.client.scatter(value, broadcast=True, hash=False))
            self._scattered[id(value)] = held
        return held[1]

    def close(self) -> None:
        self._scattered.clear()
        self._stack.close()
        self._client = None

    def __enter__(self) -> DaskSession:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def map_partitions(
    fn: Callable[..., Any], parts: list[Any], job: Any, scheduler: str | DaskSession | None
) -> list[Any]:
    """``[fn(part, job) for part in parts]`` on Dask, results in the order of ``parts``; on the
    run's session when given one, else on a client of its own."""
    if isinstance(scheduler, DaskSession):
        return scheduler.map(fn, parts, job=job)
    with DaskSession(scheduler) as session:
        return session.map(fn, parts, job=job)
