"""A run's memory, estimated before anything is loaded, and the decision to stream because of it.

``xai explain --max-rows all`` reads the whole file and explains every row at once, so its peak
grows with the rows (measured: 1M x 15 Adult rows, 1.1 GB; 1M x 50, 3.6 GB). Streaming
(:mod:`xai_cli.run.rowwise`) gives row-wise methods the same global importances over every row
with memory bounded by the chunk size. The user should not have to know that: :func:`decide`
estimates the data-dependent part of the run's peak from the file's metadata (rows x columns) and
the chosen methods, and when it is over the memory budget the run streams on its own, with a chunk
size derived from the budget, and says so (one note, printed on stderr and kept in the report's
provenance notes).

The estimate (bytes, 8 per value, :data:`FRAME_COPIES` / :data:`LOCAL_COPIES` copies):

- the rows: ``rows x columns x 8 x FRAME_COPIES`` (the file's Arrow table or parser buffers, the
  pandas frame, the model's typed or numeric view);
- each method that explains rows: its local attributions ``rows x features x outputs x 8`` times
  ``LOCAL_COPIES`` (the values, their absolute values for the global table, the report's copy);
  permutation's shuffled copy and its predictions (``rows x features x 8 x 2``) stay under that;
- methods that read only the model: nothing per row.

It leaves out what does not grow with the rows (the interpreter, the libraries, the model and its
TreeSHAP tables: about 0.45 GB for the sample XGBoost model), since streaming cannot save that.
Calibration: on 1M Adult rows (15 columns, 14 features, one output) it predicts 0.70 GB for
TreeSHAP in memory; the run measured 1.11 GB peak, of which 0.45 GB is that fixed part.

The budget (:func:`resolve_budget`): ``--memory-budget`` / ``memory_budget=`` in the API or the
config, else ``XAI_MEMORY_BUDGET``, else :func:`default_budget`: a quarter of physical memory, at
most 2 GiB. A quarter leaves the rest of a laptop or CI runner to the libraries' fixed part, other
processes and parallel jobs (``xai run --jobs``); the 2 GiB cap because streaming costs a row-wise
method nothing in its numbers (identical global importances) and little time (18.6 s against
16.8 s at 1M rows, benchmarks/results/streaming.md), so there is no reason to let one run take
more. ``none`` turns the automatic choice off.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from xai_cli.errors import UsageError

if TYPE_CHECKING:
    from xai_cli.methods.base import Explainer
    from xai_cli.request import ExplainRequest

VALUE_BYTES = 8
FRAME_COPIES = 3
LOCAL_COPIES = 3
DEFAULT_SHARE = 0.25
"""The default budget's share of physical memory."""
DEFAULT_CAP = 2 << 30
"""The default budget's cap, bytes (2 GiB)."""
CHUNK_SHARE = 4
"""A chunk's working set is at most 1/CHUNK_SHARE of the budget (the rest: the plot sample,
partials, allocator slack)."""
MIN_CHUNK, MAX_CHUNK = 1_000, 50_000
"""Chunk rows are kept within these: below, per-chunk overhead dominates; above, a chunk saves
no time (measured on 100k rows x 50 features, XGBoost 300 trees: 14.7 s in chunks of 10,000,
14.3 s in chunks of 50,000) and only holds memory."""
ROWS_SHARE = 8
"""A chunk is at most 1/ROWS_SHARE of the file's rows: a chunk's working set costs about what the
same rows cost in memory (measured 4.5 KB a row for 50 features against 3.9 KB in memory), so a
chunk near the file's size would make streaming peak above the in-memory run (measured at 100k
rows: 766 MB in chunks of 50,000, 586 MB in chunks of 10,000, 676 MB in memory)."""
OFF = ("none", "off")


def physical_memory() -> int | None:
    """Bytes of physical memory, or None where the platform does not say."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return None


def default_budget() -> int:
    """A quarter of physical memory, at most 2 GiB (2 GiB where memory is unknown)."""
    total = physical_memory()
    return DEFAULT_CAP if total is None else min(int(total * DEFAULT_SHARE), DEFAULT_CAP)


def parse_budget(value: str | int | None, source: str = "--memory-budget") -> int | None:
    """A budget in bytes from ``"4GiB"``, ``"512M"``, a byte count, or ``"none"`` (None: never
    stream on its own); a bad value is a :class:`UsageError` naming ``source``."""
    from xai_cli.load.models import parse_size

    if value is None:
        return default_budget()
    if isinstance(value, str) and value.strip().lower() in OFF:
        return None
    if isinstance(value, bool) or (isinstance(value, int) and value < 1):
        raise UsageError(f"{source} must be a positive size, got {value!r}",
                         hint="use e.g. 512MiB, 2GiB, 4G, a number of bytes, or none")  # fmt: skip
    try:
        return parse_size(value)
    except UsageError:
        raise UsageError(
            f"{source}: not a memory size: {value!r}",
            hint="use e.g. 512MiB, 2GiB, 4G, a number of bytes, or none",
        ) from None


def resolve_budget(value: str | int | None) -> int | None:
    """The run's budget: ``value`` if given, else ``XAI_MEMORY_BUDGET``, else the default."""
    if value is None and os.environ.get("XAI_MEMORY_BUDGET"):
        return parse_budget(os.environ["XAI_MEMORY_BUDGET"], "XAI_MEMORY_BUDGET")
    return parse_budget(value)


def human(n: float) -> str:
    """Bytes as KiB, MiB or GiB."""
    if n >= 1 << 30:
        return f"{n / (1 << 30):.2f} GiB"
    return f"{n / (1 << 20):.0f} MiB" if n >= 1 << 20 else f"{n / 1024:.0f} KiB"


def count_rows(path: Path) -> int:
    """The data file's rows: Parquet from its metadata; CSV by counting its lines in 1 MiB
    blocks (a scan that holds one block; a 1 GB CSV takes well under a second)."""
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        return int(pq.ParquetFile(path).metadata.num_rows)
    lines, last = 0, b"\n"
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            lines += block.count(b"\n")
            last = block[-1:]
    lines += last != b"\n"  # a last line without its newline
    return max(0, lines - 1)


@dataclass(frozen=True)
class MemoryEstimate:
    """The data-dependent part of a run's peak, in bytes, with its parts."""

    rows: int
    columns: int
    data_bytes: int
    method_bytes: dict[str, int]

    @property
    def total(self) -> int:
        """Rows plus every method's per-row memory."""
        return self.data_bytes + sum(self.method_bytes.values())


def per_row_bytes(columns: int, explainers: Sequence[Explainer], features: int,
                  outputs: int) -> dict[str, int]:  # fmt: skip
    """Bytes per row: the rows themselves (key ``""``) and each method's."""
    out = {"": columns * VALUE_BYTES * FRAME_COPIES}
    for e in explainers:
        if e.uses_rows:
            out[e.name] = features * outputs * VALUE_BYTES * LOCAL_COPIES
    return out


def estimate_memory(rows: int, columns: int, explainers: Sequence[Explainer], features: int,
                    outputs: int) -> MemoryEstimate:  # fmt: skip
    """The estimate for ``rows`` rows in memory."""
    per = per_row_bytes(columns, explainers, features, outputs)
    data = per.pop("") * rows
    return MemoryEstimate(rows, columns, data, {k: v * rows for k, v in per.items()})


def chunk_rows_for(budget: int, columns: int, explainers: Sequence[Explainer], features: int,
                   outputs: int, rows: int | None = None) -> int:  # fmt: skip
    """Rows per chunk so that one chunk's working set is 1/CHUNK_SHARE of the budget and at most
    1/ROWS_SHARE of the file's ``rows``, within ``MIN_CHUNK .. MAX_CHUNK``."""
    per_row = sum(per_row_bytes(columns, explainers, features, outputs).values())
    chunk = budget // (CHUNK_SHARE * max(1, per_row))
    if rows is not None:
        chunk = min(chunk, rows // ROWS_SHARE)
    return int(min(MAX_CHUNK, max(MIN_CHUNK, chunk)))


@dataclass(frozen=True)
class Decision:
    """Whether the run streams because of memory, the request it then runs, and why."""

    request: ExplainRequest
    streams: bool
    note: str | None
    estimate: MemoryEstimate | None = None


def decide(
    request: ExplainRequest,
    explainers: Sequence[Explainer],
    features: int,
    outputs: int,
    columns: int,
) -> Decision:
    """Stream when explaining every row in memory is estimated over the budget.

    Only a run that would load every row (``max_rows`` None) and has a row-wise method is
    considered: a sampled run already reads only its sample (in chunks when the file is large),
    a run the user made streamed is left as asked, and ``--rows``/``--where`` need the file whole.
    The streamed run keeps a sample for the other methods and the plots: the default streamed
    sample, fewer when that would not fit a quarter of the budget.
    """
    from xai_cli.load.rows import STREAM_SAMPLE_ROWS

    budget = resolve_budget(request.memory_budget)
    selecting = bool(request.rows or request.where is not None or request.id_column)
    if (
        budget is None
        or request.streamed
        or selecting
        or request.max_rows is not None
        or not any(e.row_wise for e in explainers)
    ):
        return Decision(request, False, None)
    rows = count_rows(Path(request.data_path))
    found = estimate_memory(rows, columns, explainers, features, outputs)
    if found.total <= budget:
        return Decision(request, False, None, found)
    chunk = chunk_rows_for(budget, columns, explainers, features, outputs, rows)
    per_row = found.total // max(1, rows)
    sample = int(min(STREAM_SAMPLE_ROWS, max(MIN_CHUNK, budget // (CHUNK_SHARE * max(1, per_row)))))
    note = (
        f"streaming on its own: explaining all {rows:,} rows in memory is estimated at "
        f"{human(found.total)} ({found.columns} columns; the rows and "
        f"{', '.join(found.method_bytes) or 'no method'}), over the memory budget of "
        f"{human(budget)}; row-wise methods stream in chunks of {chunk:,} rows, the other methods "
        f"and the plots use a seeded sample of {sample:,} rows (--memory-budget or "
        "XAI_MEMORY_BUDGET sets the budget, 'none' turns this off)"
    )
    streamed = dataclasses.replace(request, chunk_rows=chunk, max_rows=sample)
    return Decision(streamed, True, note, found)
