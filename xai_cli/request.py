"""What the user asked ``xai explain`` for: one frozen request shared by the CLI, the batch
runner and the audit, so every entry point runs exactly the same thing."""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_MAX_ROWS = 10_000
"""Rows the CLI and configs explain by default (a seeded sample); ``all`` explains every row.

Here rather than in :mod:`xai_cli.load.data` so that ``xai explain --help`` can show it without
importing pandas."""


@dataclass(frozen=True)
class ExplainRequest:
    """What the user asked for; every option of ``xai explain``."""

    model_path: str
    data_path: str
    target: str | None = None
    methods: tuple[str, ...] = ("auto",)
    max_rows: int | None = None
    seed: int = 0
    top_k: int = 5
    trust_model: bool = False
    drop: tuple[str, ...] = ()
    params: dict[str, dict[str, object]] = field(default_factory=dict)
    engine: str = "local"
    scheduler: str | None = None
    chunk_rows: int | None = None
    n_jobs: int | None = None
    """Threads for backends that parallelise over row chunks (``n_jobs`` param); None: theirs."""

    @property
    def streamed(self) -> bool:
        """Row-wise methods stream over every row (``--chunk-rows`` or ``--engine dask``)."""
        return self.chunk_rows is not None or self.engine != "local"
