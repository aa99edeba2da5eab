"""A seeded row sample of a large CSV or Parquet file, read in chunks (bounded memory).

Reading a 1M-row file whole to keep 10,000 rows costs the whole file in memory (pandas' parsed
frame, plus the copies that selecting columns and rows make). Here the file is read twice instead:

1. the target column alone (or, without a target, the row count), from which
   :func:`xai_cli.load.data.sample_index` picks the rows, exactly as it picks them from a file read
   whole (same seed, same stratification by the target, same positions);
2. every column, keeping only the picked rows: a CSV a chunk of rows at a time, a Parquet file a
   row group at a time, a few columns at a time within a large row group.

So the sample is the one the whole-file path takes, row for row (the test checks it), and memory is
one chunk plus the sample plus the target column. Chunks are sized in cells (:data:`CHUNK_CELLS`),
so a wide file gets fewer rows or columns per chunk. One difference: a CSV column's dtype is
inferred per chunk (an integer column with a gap in one chunk reads as float there); the values
are the same.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from xai_cli.load.data import check_data_path, no_rows, sample_index, unreadable

WHOLE_FILE_BYTES = 64 * 2**20
"""Files smaller than this are read whole (one pass is faster, and memory is no concern)."""
CHUNK_CELLS = 2_000_000
"""Cells (rows x columns) per chunk of the second pass: about 16 MB of floats per chunk."""
MIN_CHUNK_ROWS = 1_000


@dataclass(frozen=True)
class SampledFile:
    """The picked rows (all columns, index = row position in the file) and what was read."""

    frame: pd.DataFrame
    rows_total: int
    missing_target: int


def reads_in_chunks(path: str | Path, max_rows: int | None) -> bool:
    """Whether a sample of ``max_rows`` rows is read chunk by chunk: a file of at least
    :data:`WHOLE_FILE_BYTES` and a row limit (``all`` rows are read whole, as asked)."""
    path = Path(path)
    return max_rows is not None and path.is_file() and path.stat().st_size >= WHOLE_FILE_BYTES


def _columns(path: Path) -> list[str]:
    """The file's data columns, from the CSV header or the Parquet schema (a stored pandas index
    is not a data column: ``read_parquet`` restores it as the index)."""
    if path.suffix.lower() == ".csv":
        return [str(c) for c in pd.read_csv(path, nrows=0).columns]
    schema = pq.ParquetFile(path).schema_arrow
    stored = (schema.pandas_metadata or {}).get("index_columns", [])
    index = {c for c in stored if isinstance(c, str)}
    return [name for name in schema.names if name not in index]


def _target_column(path: Path, target: str) -> pd.Series:
    """The whole target column (the first pass), as ``read_csv``/``read_parquet`` would type it."""
    if path.suffix.lower() == ".csv":
        return pd.read_csv(path, usecols=[target])[target]
    return pq.read_table(path, columns=[target]).column(target).to_pandas()


def _row_count(path: Path, first: str) -> int:
    """The number of data rows (the first pass without a target): Parquet's metadata, or the CSV's
    first column parsed (a line count would miscount quoted newlines)."""
    if path.suffix.lower() == ".csv":
        return len(pd.read_csv(path, usecols=[first]))
    return int(pq.ParquetFile(path).metadata.num_rows)


def iter_chunks(path: Path, chunk_rows: int) -> Iterator[pd.DataFrame]:
    """A CSV file's rows, ``chunk_rows`` at a time, indexed by their position in the file."""
    with pd.read_csv(path, chunksize=chunk_rows) as reader:
        yield from reader  # pandas numbers the chunks' rows on from the previous chunk


def read_block(parquet: pq.ParquetFile, group: int, columns: list[str]) -> pa.Table:
    """Some columns of one Parquet row group (the unit the reader decodes)."""
    return parquet.read_row_group(group, columns=columns)


def _csv_picked(path: Path, columns: list[str], wanted: np.ndarray) -> Iterator[pd.DataFrame]:
    """The ``wanted`` rows of a CSV file (sorted positions), read a chunk of rows at a time."""
    for chunk in iter_chunks(path, chunk_rows_for(len(columns))):
        lo, hi = np.searchsorted(wanted, [chunk.index[0], chunk.index[-1] + 1])
        if hi > lo:
            yield chunk.loc[wanted[lo:hi]]


def _parquet_picked(path: Path, columns: list[str], wanted: np.ndarray) -> Iterator[pd.DataFrame]:
    """The ``wanted`` rows of a Parquet file, a row group at a time and, within a large row group,
    a few columns at a time: a row group is decoded whole, so reading it in row batches would
    still hold all of it (a file written by pandas is one group of up to a million rows)."""
    parquet = pq.ParquetFile(path)
    start = 0
    for group in range(parquet.num_row_groups):
        rows = parquet.metadata.row_group(group).num_rows
        lo, hi = np.searchsorted(wanted, [start, start + rows])
        if hi > lo:
            local = pa.array(wanted[lo:hi] - start)
            step = max(1, CHUNK_CELLS // max(rows, 1))
            arrays = [
                array
                for at in range(0, len(columns), step)
                for array in read_block(parquet, group, columns[at : at + step]).take(local).columns
            ]
            table = pa.Table.from_arrays(arrays, names=columns)
            frame = table.replace_schema_metadata(parquet.schema_arrow.metadata).to_pandas()
            frame.index = pd.Index(wanted[lo:hi])
            yield frame
        start += rows


def chunk_rows_for(columns: int) -> int:
    """Rows per chunk for a file of ``columns`` columns: :data:`CHUNK_CELLS` cells, at least
    :data:`MIN_CHUNK_ROWS` rows."""
    return max(MIN_CHUNK_ROWS, CHUNK_CELLS // max(columns, 1))


def read_sample(
    path: str | Path, target: str | None, max_rows: int, *, seed: int, stratify: bool
) -> SampledFile:
    """The seeded sample ``load_data`` + ``sample_rows`` would take, read in two chunked passes.

    Rows with a missing target are left out before sampling, as in the whole-file path. A target
    that is not a column gives an empty frame with the file's columns, for
    :func:`split_features` to report with its hints.
    """
    path = check_data_path(path)
    try:
        columns = _columns(path)
        if target is not None and target not in columns:  # split_features names it, with hints
            return SampledFile(pd.DataFrame(columns=columns), 0, 0)
        y = _target_column(path, target) if target is not None else None
        total = len(y) if y is not None else (_row_count(path, columns[0]) if columns else 0)
    except Exception as exc:  # parser errors, Arrow errors, decoding errors
        raise unreadable(path, exc) from exc
    if total == 0:
        raise no_rows(path)
    kept = np.arange(total) if y is None else np.flatnonzero(y.notna().to_numpy())
    y_kept = None if y is None else y.iloc[kept]
    index = sample_index(len(kept), y_kept, max_rows, seed=seed, stratify=stratify)
    wanted = kept if index is None else kept[index]  # file positions, sorted
    picked = _csv_picked if path.suffix.lower() == ".csv" else _parquet_picked
    try:
        parts = list(picked(path, columns, wanted))
    except Exception as exc:
        raise unreadable(path, exc) from exc
    frame = pd.concat(parts) if parts else pd.DataFrame(columns=columns)
    frame.columns = [str(c) for c in frame.columns]
    if y is not None:  # the first pass's typing, which is the whole-file read's
        frame[target] = y.iloc[wanted]  # both are indexed by file position
    return SampledFile(frame=frame, rows_total=total, missing_target=total - len(kept))
