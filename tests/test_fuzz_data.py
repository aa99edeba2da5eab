"""Fuzzing the CSV/Parquet readers and the column matching.

Property: :func:`load_data` returns a :class:`LoadedData` or raises an :class:`XaiError`
(``DataError``, one printable line); :func:`split_features` returns the features and target or
raises a ``ColumnMismatchError``; never another exception, a hang or a memory blow-up. Inputs:
random CSV text (odd quoting, ragged rows, BOM, NUL bytes, huge fields, empty, header only,
duplicate column names, non-UTF-8 bytes), random small frames written to Parquet, and real
Parquet files truncated or with flipped bytes.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import SAMPLE_DATA
from tests.fuzz_support import FileBytes, fuzz_settings, outcome
from xai_cli.errors import XaiError
from xai_cli.load.data import LoadedData, load_data, split_features


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder for the module's examples."""
    return tmp_path_factory.mktemp("fuzz_data")


def check_load(path: Path) -> LoadedData | XaiError:
    """The property for :func:`load_data`; on success, the frame is usable as the CLI uses it."""
    result = outcome(lambda: load_data(path))
    if isinstance(result, LoadedData):
        assert len(result.frame) > 0
        assert all(isinstance(c, str) for c in result.frame.columns)
    else:
        assert result.code in ("data", "missing-file"), result
    return result


# ------------------------------------------------------------------------------------- CSV

CELL = st.one_of(
    st.sampled_from(["", "1", "-2.5", "nan", "NA", "true", "x", "1e308", "1e999", " ", "#"]),
    st.text(max_size=8),
    st.sampled_from(['"', '""', '"a,b"', '"unclosed', "a\nb", '"a\nb"', "\x00", "\r", "\\"]),
    st.just("y" * 200_000),  # a huge field
)
HEADER = st.one_of(
    st.lists(st.sampled_from(["a", "b", "a", "income", "", " a", "Unnamed: 0"]), min_size=1),
    st.lists(st.text(max_size=6), min_size=1, max_size=6),
)


@st.composite
def csv_texts(draw: st.DrawFn) -> bytes:
    """CSV text: a header (duplicates and blanks included), ragged rows, odd quoting and bytes."""
    sep = draw(st.sampled_from([",", ",", ";", "\t"]))
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    header = draw(HEADER)
    rows = draw(st.lists(st.lists(CELL, max_size=len(header) + 2), max_size=6))
    text = newline.join(sep.join(r) for r in [header, *rows])
    data = text.encode(draw(st.sampled_from(["utf-8", "utf-16", "latin-1"])), "replace")
    if draw(st.booleans()):
        data = b"\xef\xbb\xbf" + data  # BOM
    if draw(st.booleans()):
        where = draw(st.integers(0, len(data)))
        data = data[:where] + draw(st.binary(min_size=1, max_size=6)) + data[where:]
    return data


@fuzz_settings(200)
@given(data=st.one_of(csv_texts(), st.binary(max_size=64), st.sampled_from([b"", b"a,b", b"\n"])))
def test_random_csv_loads_or_fails_cleanly(workdir: Path, data: bytes) -> None:
    path = workdir / "fuzzed.csv"
    path.write_bytes(data)
    check_load(path)


def test_empty_and_header_only_csv_are_data_errors(workdir: Path) -> None:
    for text in (b"", b"a,b\n", b"\xef\xbb\xbf", b"\n\n\n"):
        path = workdir / "empty.csv"
        path.write_bytes(text)
        assert isinstance(check_load(path), XaiError), text


# ---------------------------------------------------------------------------------- Parquet

COLUMN = st.sampled_from(["int", "float", "str", "bool", "datetime", "category", "nullable", "obj"])


def _column(kind: str, n: int, rng: np.random.Generator) -> pd.Series:
    if kind == "int":
        return pd.Series(rng.integers(-(2**62), 2**62, n))
    if kind == "float":
        return pd.Series(rng.choice([np.nan, np.inf, -0.0, 1e308, 1.5], n))
    if kind == "str":
        return pd.Series(rng.choice(["", "a", "\x00", "é", "a,b"], n))
    if kind == "bool":
        return pd.Series(rng.integers(0, 2, n).astype(bool))
    if kind == "datetime":
        return pd.Series(pd.to_datetime(rng.integers(0, 2**40, n), unit="s", errors="coerce"))
    if kind == "category":
        return pd.Series(pd.Categorical(rng.choice(["x", "y", "z"], n)))
    if kind == "nullable":
        return pd.Series(pd.array(rng.choice([1, 2, None], n), dtype="Int64"))
    return pd.Series(rng.choice([1, "a", None], n), dtype=object).astype(str)


@fuzz_settings(60)
@given(
    kinds=st.lists(COLUMN, min_size=1, max_size=5),
    names=st.lists(st.text(max_size=6), min_size=5, max_size=5, unique=True),
    rows=st.integers(0, 30),
    seed=st.integers(0, 2**32 - 1),
    index=st.booleans(),
)
def test_random_parquet_loads_or_fails_cleanly(
    workdir: Path, kinds: list[str], names: list[str], rows: int, seed: int, index: bool
) -> None:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({names[i]: _column(k, rows, rng) for i, k in enumerate(kinds)})
    path = workdir / "fuzzed.parquet"
    frame.to_parquet(path, index=index)
    result = check_load(path)
    assert isinstance(result, XaiError) == (rows == 0), result


@pytest.fixture(scope="module")
def real_parquet() -> bytes:
    """A real Parquet file, cut to its first 300 rows so each mutated read is quick."""
    buffer = io.BytesIO()
    pd.read_parquet(SAMPLE_DATA / "adult.parquet").head(300).to_parquet(buffer)
    return FileBytes(buffer.getvalue())


@fuzz_settings(150)
@given(data=st.data())
def test_corrupted_parquet_loads_or_fails_cleanly(
    workdir: Path, real_parquet: bytes, data: st.DataObject
) -> None:
    out = bytearray(real_parquet)
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        # the footer (metadata, its length, the magic) is where a flip changes the most
        where = data.draw(
            st.one_of(
                st.integers(0, len(out) - 1), st.integers(max(0, len(out) - 600), len(out) - 1)
            )
        )
        kind = data.draw(st.sampled_from(["flip", "truncate", "delete", "insert"]))
        if kind == "flip":
            out[where] ^= data.draw(st.integers(1, 255))
        elif kind == "truncate":
            del out[where:]
        elif kind == "delete":
            del out[where : where + data.draw(st.integers(1, 64))]
        else:
            out[where:where] = data.draw(st.binary(min_size=1, max_size=8))
        if not out:
            break
    path = workdir / "corrupted.parquet"
    path.write_bytes(bytes(out))
    check_load(path)


# --------------------------------------------------------------------------- column matching

NAMES = st.one_of(st.sampled_from(["a", "b", "c", "income", "a.1", ""]), st.text(max_size=5))


@st.composite
def matching_problems(draw: st.DrawFn) -> tuple[list[str], list[str], str | None, list[str]]:
    """Columns (duplicates possible), the model's features (mostly drawn from the columns), a
    target and ``--drop`` names (each in the columns or not)."""
    columns = draw(st.lists(NAMES, min_size=1, max_size=6))
    known = st.sampled_from(columns)
    features = draw(st.lists(st.one_of(known, known, NAMES), max_size=6, unique=True))
    target = draw(st.one_of(st.none(), known, NAMES))
    drop = draw(st.lists(st.one_of(known, NAMES), max_size=2))
    return columns, features, target, drop


@fuzz_settings(150)
@given(problem=matching_problems(), by_position=st.booleans())
def test_column_matching_matches_or_names_the_mismatch(
    problem: tuple[list[str], list[str], str | None, list[str]], by_position: bool
) -> None:
    columns, features, target, drop = problem
    frame = pd.DataFrame([list(range(len(columns)))], columns=columns)
    result = outcome(
        lambda: split_features(
            frame, tuple(features), target=target, drop=tuple(drop), by_position=by_position
        )
    )
    if isinstance(result, XaiError):
        assert result.code == "columns", result
        return
    X, y = result
    assert list(X.columns) == list(features)
    assert (y is None) == (target is None)
