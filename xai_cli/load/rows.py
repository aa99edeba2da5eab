"""The rows a run explains: read (whole or streamed), sampled, and the target encoded.

Split from the engine so that every command (``explain``, ``audit``) picks rows the same way.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from xai_cli.errors import DataError, MethodError, MissingFileError, UsageError
from xai_cli.load.chunked import read_sample, reads_in_chunks
from xai_cli.load.data import DATA_SUFFIXES, load_data, sample_index, split_features
from xai_cli.load.models import file_sha256
from xai_cli.load.select import (
    ChosenRows,
    RowSelectionError,
    describe_request,
    display,
    split_ids,
    wanted,
)
from xai_cli.load.streaming import stream_sample
from xai_cli.model.adapter import ModelAdapter
from xai_cli.request import ExplainRequest
from xai_cli.run.rowwise import ENGINES


def encode_target(
    adapter: ModelAdapter, y: pd.Series
) -> tuple[np.ndarray, ModelAdapter, list[str]]:
    """The target as the model sees it: class codes for classifiers, floats for regression.

    Labels are matched to the model's classes by value; a model that only knows ``0..K-1`` (a raw
    booster, or one fitted on encoded labels) gets the sorted distinct labels, as LabelEncoder
    would have assigned them, and the classes are renamed after them.
    """
    notes: list[str] = []
    if not adapter.is_classifier:
        values = pd.to_numeric(y, errors="coerce")
        if values.isna().any():
            raise DataError(
                f"target column '{y.name}' has non-numeric values but the model is a regressor",
                hint="pass the numeric target column",
            )
        return values.to_numpy(dtype=float), adapter, notes
    labels = adapter.class_labels
    as_text = y.astype(str)
    distinct = sorted(as_text.unique())
    if set(distinct) <= set(labels):
        return as_text.map({c: i for i, c in enumerate(labels)}).to_numpy(dtype=int), adapter, notes
    generic = tuple(str(i) for i in range(len(labels)))
    if labels == generic and len(distinct) <= len(labels):
        try:  # numeric labels sort numerically, text labels as text
            ordered = [str(v) for v in sorted(y.unique())]
        except TypeError:
            ordered = distinct
        if len(ordered) == len(labels):
            notes.append(
                "target labels "
                + ", ".join(f"{c}={i}" for i, c in enumerate(ordered))
                + " mapped to the model's classes in sorted order"
            )
            codes = as_text.map({c: i for i, c in enumerate(ordered)}).to_numpy(dtype=int)
            return codes, adapter.with_class_labels(tuple(ordered)), notes
    raise DataError(
        f"target values {distinct[:6]} do not match the model's classes {list(labels)}",
        hint="pass the column the model was trained to predict",
    )


DEFAULT_CHUNK_ROWS = 50_000
"""Rows per chunk when streaming and ``--chunk-rows`` is not given (``--engine dask``)."""
STREAM_SAMPLE_ROWS = 10_000
"""Rows kept for non-row-wise methods and plots when streaming without ``--max-rows``."""


def _streamed_sample(
    request: ExplainRequest, adapter: ModelAdapter
) -> tuple[pd.DataFrame, pd.Series | None, Path, str, int, list[str]]:
    """The seeded sample of a streamed run, read chunk by chunk, and its notes."""
    path = Path(request.data_path)
    if not path.is_file():
        raise MissingFileError(f"data file not found: {path}", hint="check the path")
    if path.suffix.lower() not in DATA_SUFFIXES:
        raise DataError(f"unknown data file type '{path.suffix or path.name}'",
                        hint="use a .csv or .parquet file")  # fmt: skip
    if request.chunk_rows is not None and request.chunk_rows < 1:
        raise MethodError("--chunk-rows must be at least 1")
    if request.engine not in ENGINES:
        raise MethodError(f"unknown engine '{request.engine}'",
                          hint=f"use one of: {', '.join(ENGINES)}")  # fmt: skip
    if request.engine == "dask" and path.suffix.lower() != ".parquet":
        raise UsageError(
            "--engine dask reads Parquet files (their row groups are the partitions)",
            hint="convert the CSV to Parquet, or use --chunk-rows N with the local engine",
        )
    chunk = request.chunk_rows or DEFAULT_CHUNK_ROWS
    keep = request.max_rows or STREAM_SAMPLE_ROWS
    frame, total, missing = stream_sample(path, chunk, request.seed, keep, request.target)
    X, y = split_features(
        frame,
        adapter.feature_names,
        target=request.target,
        drop=request.drop,
        by_position=not adapter.feature_names_known,
    )
    notes = list(adapter.notes)
    if missing:
        notes.append(f"{missing} rows with a missing target were left out")
    notes.append(
        f"streamed: row-wise methods explain all {total - missing} rows in chunks of {chunk}; "
        f"the other methods and the plots use a seeded sample of {len(X)} rows (not stratified)"
    )
    return X, y, path, file_sha256(path), total, notes


def load_rows(
    request: ExplainRequest, adapter: ModelAdapter
) -> tuple[pd.DataFrame, pd.Series | None, Path, str, int, list[str]]:
    """The rows a run explains: features ``X``, target ``y`` (raw labels), the data file's path,
    SHA-256 and row count, and notes on what was left out or sampled.

    In memory, the file is read whole, rows with a missing target are left out and a seeded sample
    (stratified for classifiers) of ``max_rows`` is taken; streamed, the sample is read chunk by
    chunk. Other commands (``xai audit``) call this to work on exactly the rows ``explain`` uses.
    """
    X, y, path, sha, total, notes, _ = load_selected(request, adapter)
    return X, y, path, sha, total, notes


def load_selected(
    request: ExplainRequest, adapter: ModelAdapter
) -> tuple[pd.DataFrame, pd.Series | None, Path, str, int, list[str], ChosenRows | None]:
    """:func:`load_rows` with the rows chosen by ``--rows``/``--where`` (always among the rows).

    A selection needs the file read whole (a position or a query is over every row): it is
    refused when the run streams, and it reads a large file whole instead of in chunks.
    """
    selecting = bool(request.rows or request.where is not None or request.id_column)
    if request.streamed and selecting:
        raise UsageError(
            "--rows, --where and --id-column need the data read whole, not streamed",
            hint="leave out --chunk-rows/--engine dask to explain chosen rows",
        )
    if request.streamed:
        return (*_streamed_sample(request, adapter), None)
    if (
        not selecting
        and request.max_rows is not None
        and reads_in_chunks(request.data_path, request.max_rows)
    ):
        return (*_chunked_sample(request, adapter), None)
    data = load_data(request.data_path)
    X, y, notes, chosen = select_from_frame(data.frame, adapter, request)
    return X, y, data.path, data.sha256, len(data.frame), notes, chosen


def rows_from_frame(
    frame: pd.DataFrame, adapter: ModelAdapter, request: ExplainRequest
) -> tuple[pd.DataFrame, pd.Series | None, list[str]]:
    """The rows a run explains from a frame in memory (a file read whole, or the Python API's
    ``X``): the model's features and the target, rows with a missing target left out, a seeded
    sample (stratified for classifiers) of ``max_rows``, and notes on what was done."""
    X, y, notes, _ = select_from_frame(frame, adapter, request)
    return X, y, notes


def select_from_frame(
    frame: pd.DataFrame, adapter: ModelAdapter, request: ExplainRequest
) -> tuple[pd.DataFrame, pd.Series | None, list[str], ChosenRows | None]:
    """:func:`rows_from_frame` and the rows chosen by the request's selection.

    The chosen rows are located in the data as given (positions, ids, query), then added to the
    seeded sample, so they are explained whatever ``max_rows`` is; the id column is split off
    first and is never a feature.
    """
    frame, ids = split_ids(frame, request)
    picked, select_notes = wanted(frame, ids, request)
    X, y = split_features(
        frame,
        adapter.feature_names,
        target=request.target,
        drop=request.drop,
        by_position=not adapter.feature_names_known,
    )
    notes = list(adapter.notes)
    positions = np.arange(len(X))
    if y is not None and y.isna().any():
        keep = y.notna().to_numpy()
        missing = [int(p) for p in picked if not keep[p]]
        asked = [p for p in missing if p in _asked(request, ids)]
        if asked:
            raise RowSelectionError(
                f"a chosen row has no value in the target column '{request.target}'",
                cause="row " + (ids.iloc[asked[0]] if ids is not None else str(asked[0])),
                hint="choose rows with a target, or leave out --target",
            )
        if missing:
            picked = np.array([p for p in picked if keep[p]], dtype=int)
            if not len(picked):
                raise RowSelectionError(
                    f"--where matched only rows without a target: {request.where}",
                    hint="rows with a missing target are left out; leave out --target to "
                    "explain them",
                )
            select_notes.append(f"{len(missing)} rows --where matched have no target; left out")
        notes.append(f"{int((~keep).sum())} rows with a missing target were left out")
        positions = positions[keep]
    sampled = sample_index(
        len(positions), None if y is None else y.iloc[positions], request.max_rows,
        seed=request.seed, stratify=adapter.is_classifier,
    )  # fmt: skip
    kept = positions if sampled is None else positions[sampled]
    final = np.union1d(kept, picked).astype(int)
    if len(final) > len(kept):
        notes.append(f"{len(final) - len(kept)} chosen rows added to the sample of {len(kept)}")
    notes.extend(select_notes)
    X_out, y_out = X.iloc[final], (None if y is None else y.iloc[final])
    if not len(picked):
        return X_out, y_out, notes, None
    raw = frame.iloc[picked]
    chosen = ChosenRows(
        positions=tuple(int(i) for i in np.searchsorted(final, picked)),
        labels=tuple(ids.iloc[picked]) if ids is not None else tuple(str(p) for p in picked),
        raw=tuple(
            tuple(display(v) for v in row)
            for row in X.iloc[picked].itertuples(index=False, name=None)
        ),
        targets=tuple(
            display(v) for v in (raw[request.target] if request.target else [None] * len(picked))
        ),
        id_column=request.id_column,
        asked=describe_request(request),
    )
    return X_out, y_out, notes, chosen


def _asked(request: ExplainRequest, ids: pd.Series | None) -> set[int]:
    """Positions named by ``--rows`` (not found by ``--where``)."""
    if ids is None:
        return {int(p) for p in request.rows}
    where = {v: i for i, v in enumerate(ids)}
    return {where[str(r)] for r in request.rows if str(r) in where}


def _chunked_sample(
    request: ExplainRequest, adapter: ModelAdapter
) -> tuple[pd.DataFrame, pd.Series | None, Path, str, int, list[str]]:
    """:func:`load_rows` for a large file: the same sample, read in chunks (see
    :mod:`xai_cli.load.chunked`), so memory holds the sample and not the file."""
    assert request.max_rows is not None
    sampled = read_sample(
        request.data_path,
        request.target,
        request.max_rows,
        seed=request.seed,
        stratify=adapter.is_classifier,
    )
    X, y = split_features(
        sampled.frame,
        adapter.feature_names,
        target=request.target,
        drop=request.drop,
        by_position=not adapter.feature_names_known,
    )
    notes = list(adapter.notes)
    if sampled.missing_target:
        notes.append(f"{sampled.missing_target} rows with a missing target were left out")
    path = Path(request.data_path)
    return X, y, path, file_sha256(path), sampled.rows_total, notes
