"""Dataset loading, column matching and seeded sampling.

Only this module and :mod:`xai_cli.load.models` read user files. Errors name the file or the columns
and say what to do.
"""

from __future__ import annotations

import difflib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from xai_cli.errors import (
    ColumnMismatchError,
    DataError,
    MissingFileError,
    UsageError,
    describe,
    printable,
)
from xai_cli.load.models import file_sha256
from xai_cli.request import DEFAULT_MAX_ROWS

DATA_SUFFIXES = (".csv", ".parquet", ".pq")


@dataclass(frozen=True)
class LoadedData:
    """A data frame with where it came from and the file's SHA-256."""

    frame: pd.DataFrame
    path: Path
    sha256: str


def check_data_path(path: str | Path) -> Path:
    """The path of an existing ``.csv``/``.parquet`` file; raises :class:`MissingFileError` or
    :class:`DataError` otherwise (every reader calls this first, so the messages are the same)."""
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"data file not found: {path}", hint="check the path")
    suffix = path.suffix.lower()
    if suffix not in DATA_SUFFIXES:
        raise DataError(
            f"unknown data file type '{suffix or path.name}'", hint="use a .csv or .parquet file"
        )
    return path


def unreadable(path: Path, exc: Exception) -> DataError:
    """The :class:`DataError` for a file pandas or Arrow could not parse."""
    if isinstance(exc, pd.errors.EmptyDataError):
        return DataError(f"data file is empty: {path}", hint="pass a file with a header and rows")
    return DataError(
        f"could not read data file {path}",
        cause=describe(exc),
        hint="check that it is a valid CSV (comma-separated, with a header) or Parquet file",
    )


def no_rows(path: Path) -> DataError:
    """The :class:`DataError` for a file with a header but no rows."""
    return DataError(f"data file has no rows: {path}", hint="pass a file with at least one row")


def load_data(path: str | Path) -> LoadedData:
    """Read a CSV or Parquet file. Raises :class:`MissingFileError` or :class:`DataError`."""
    path = check_data_path(path)
    try:
        frame = pd.read_csv(path) if path.suffix.lower() == ".csv" else pd.read_parquet(path)
    except Exception as exc:  # parser errors, Arrow errors, decoding errors
        raise unreadable(path, exc) from exc
    if frame.empty:
        raise no_rows(path)
    frame.columns = [str(c) for c in frame.columns]
    return LoadedData(frame=frame, path=path, sha256=file_sha256(path))


def data_columns(path: str | Path) -> tuple[str, ...]:
    """The column names of a CSV or Parquet file from its header alone; empty when it cannot be
    read (loading the file reports why)."""
    try:
        path = Path(path)
        if path.suffix.lower() == ".parquet":
            import pyarrow.parquet as pq

            return tuple(str(c) for c in pq.read_schema(path).names)
        return tuple(str(c) for c in pd.read_csv(path, nrows=0).columns)
    except Exception:  # a missing or unreadable file: load_data gives the error
        return ()


def _suggest(name: str, candidates: list[str]) -> str:
    close = difflib.get_close_matches(name, candidates, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def split_features(
    frame: pd.DataFrame,
    feature_names: tuple[str, ...],
    *,
    target: str | None,
    drop: tuple[str, ...] = (),
    by_position: bool = False,
) -> tuple[pd.DataFrame, pd.Series | None]:
    """Pick the model's features (reordered to model order) and the target column.

    With ``by_position`` (a model trained without feature names) the remaining columns are taken
    in file order and renamed to the model's generic names. Missing or unexpected columns give one
    :class:`ColumnMismatchError` listing all of them.
    """
    columns = list(frame.columns)
    repeated = [c for c, n in Counter(columns).items() if n > 1]
    if repeated:
        raise ColumnMismatchError(
            printable(f"the data has more than one column named {', '.join(map(repr, repeated))}"),
            hint="give every column a different name",
        )
    if target is not None and target not in columns:
        raise ColumnMismatchError(
            printable(f"target column '{target}' is not in the data{_suggest(target, columns)}"),
            hint=printable(
                f"columns are: {', '.join(columns[:20])}{' ...' if len(columns) > 20 else ''}"
            ),
        )
    unknown_drop = [c for c in drop if c not in columns]
    if unknown_drop:
        raise ColumnMismatchError(
            printable(f"--drop names columns that are not in the data: {', '.join(unknown_drop)}")
        )
    rest = [c for c in columns if c != target and c not in drop]
    y = frame[target] if target is not None else None
    if by_position:
        if len(rest) != len(feature_names):
            raise ColumnMismatchError(
                f"the model takes {len(feature_names)} features but the data has {len(rest)} "
                "columns besides the target",
                hint="the model has no feature names, so columns are matched by position; "
                "use --drop to leave out extra columns",
            )
        X = frame[rest].copy()
        X.columns = list(feature_names)
        return X, y
    missing = [f for f in feature_names if f not in columns]
    unexpected = [c for c in rest if c not in feature_names]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append("missing " + ", ".join(f"'{m}'{_suggest(m, unexpected)}" for m in missing))
        if unexpected:
            parts.append("unexpected " + ", ".join(f"'{u}'" for u in unexpected))
        raise ColumnMismatchError(
            printable("the data's columns do not match the model's features: " + "; ".join(parts)),
            hint="rename the columns, pass --target for the label column and --drop for extra "
            "columns",
        )
    return frame.loc[:, list(feature_names)], y


def resolve_max_rows(value: str | int | None) -> int | None:
    """``--max-rows`` as given: ``None`` -> the default sample, ``"all"`` -> every row (``None``),
    a positive integer -> itself; anything else is a :class:`UsageError`."""
    if value is None:
        return DEFAULT_MAX_ROWS
    if isinstance(value, str) and value.strip().lower() == "all":
        return None
    try:
        rows = int(value)
    except (TypeError, ValueError):
        rows = 0
    if rows < 1:
        raise UsageError(
            f"--max-rows must be a positive number of rows or 'all', got '{value}'",
            hint=f"the default explains a seeded sample of {DEFAULT_MAX_ROWS} rows",
        )
    return rows


def sample_index(
    n: int, y: pd.Series | None, max_rows: int | None, *, seed: int, stratify: bool
) -> np.ndarray | None:
    """The positions (sorted) of a seeded sample of at most ``max_rows`` of ``n`` rows, stratified
    by ``y`` when asked; ``None`` when every row is kept.

    Needs only the row count and the target, so a large file's sample can be chosen from its target
    column alone and the other columns read chunk by chunk (:mod:`xai_cli.load.chunked`).
    """
    if max_rows is None or max_rows >= n:
        return None
    if max_rows < 1:
        raise DataError("--max-rows must be at least 1")
    rng = np.random.default_rng(seed)
    if stratify and y is not None and y.notna().all():
        codes, _ = pd.factorize(y, sort=True)
        chosen: list[np.ndarray] = []
        counts = np.bincount(codes)
        quotas = np.floor(counts / n * max_rows).astype(int)
        remainder = max_rows - quotas.sum()
        order = np.argsort(-(counts / n * max_rows - quotas), kind="stable")
        quotas[order[:remainder]] += 1
        for code, quota in enumerate(quotas):
            members = np.flatnonzero(codes == code)
            chosen.append(rng.choice(members, size=min(quota, len(members)), replace=False))
        return np.sort(np.concatenate(chosen))
    return np.sort(rng.choice(n, size=max_rows, replace=False))


def sample_rows(
    X: pd.DataFrame, y: pd.Series | None, max_rows: int | None, *, seed: int, stratify: bool
) -> tuple[pd.DataFrame, pd.Series | None]:
    """A seeded sample of at most ``max_rows`` rows, stratified by ``y`` when asked.

    The sample keeps the file's row order, so the same seed always gives the same rows.
    """
    index = sample_index(len(X), y, max_rows, seed=seed, stratify=stratify)
    if index is None:
        return X, y
    return X.iloc[index], (y.iloc[index] if y is not None else None)
