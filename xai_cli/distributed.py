"""Dask execution of row-wise work: a client on a given scheduler, or a local cluster.

Only this module imports ``dask.distributed``. Workers must have xai-cli installed and see the
model and data files at the same paths (a shared file system), because tasks carry paths, not data.
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
    except ImportError as exc:  # pragma: no cover - a dependency of the package
        raise UsageError("--engine dask needs the 'distributed' package", cause=str(exc)) from exc
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


def map_partitions(
    fn: Callable[..., Any], parts: list[Any], job: Any, scheduler: str | None
) -> list[Any]:
    """``[fn(part, job) for part in parts]`` on Dask, results in the order of ``parts``."""
    with dask_client(scheduler) as client:
        job_future = client.scatter(job, broadcast=True)
        futures = client.map(fn, parts, job=job_future, pure=False)
        return client.gather(futures)
