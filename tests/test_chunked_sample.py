"""``--max-rows`` on a large file: the sample is read in chunks, and it is the whole-file sample.

The chunked reader is forced on small generated files (the size threshold set to 0), so each test
compares it with the whole-file path on the same file: same rows, same values, same order.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from xai_cli.load import chunked
from xai_cli.load.chunked import read_sample, reads_in_chunks
from xai_cli.load.data import load_data, sample_rows

ROWS = 6_000


def _frame(seed: int = 0) -> pd.DataFrame:
    """Mixed columns, an imbalanced 3-class target and a few missing targets; the rare class
    sits only in the file's last rows, so a sample of the head alone would miss it."""
    rng = np.random.default_rng(seed)
    label = np.where(rng.random(ROWS) < 0.7, "a", "b").astype(object)
    label[-300:] = np.where(rng.random(300) < 0.5, "c", label[-300:])
    label[rng.choice(ROWS, 40, replace=False)] = None
    return pd.DataFrame(
        {
            "x": rng.normal(size=ROWS),
            "n": rng.integers(0, 100, ROWS),
            "colour": rng.choice(["red", "green", "blue"], ROWS),
            "label": label,
        }
    )


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("chunked")
    frame = _frame()
    frame.to_csv(root / "data.csv", index=False)
    frame.to_parquet(root / "data.parquet", row_group_size=1_000)
    frame.set_index(pd.Index(np.arange(ROWS) * 10, name="id")).to_parquet(root / "indexed.parquet")
    return {"csv": root / "data.csv", "parquet": root / "data.parquet",
            "indexed": root / "indexed.parquet"}  # fmt: skip


@pytest.fixture()
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Reads of 2,000 cells (CSV: 500 rows; Parquet: 2 columns of a 1,000-row group), every file
    read in chunks; returns the cells of each read."""
    monkeypatch.setattr(chunked, "CHUNK_CELLS", 2_000)
    monkeypatch.setattr(chunked, "MIN_CHUNK_ROWS", 500)
    monkeypatch.setattr(chunked, "WHOLE_FILE_BYTES", 0)
    cells: list[int] = []
    csv_chunks, parquet_block = chunked.iter_chunks, chunked.read_block

    def csv_spy(*args: object, **kwargs: object):
        for frame in csv_chunks(*args, **kwargs):  # type: ignore[arg-type]
            cells.append(frame.size)
            yield frame

    def parquet_spy(*args: object, **kwargs: object):
        table = parquet_block(*args, **kwargs)  # type: ignore[arg-type]
        cells.append(table.num_rows * table.num_columns)
        return table

    monkeypatch.setattr(chunked, "iter_chunks", csv_spy)
    monkeypatch.setattr(chunked, "read_block", parquet_spy)
    return cells


def _whole(path: Path, max_rows: int, seed: int, stratify: bool, target: str | None = "label"):
    """The whole-file path of ``load_rows``: read, drop missing targets, sample."""
    frame = load_data(path).frame
    if target is not None:
        frame = frame[frame[target].notna()]
    y = frame[target] if target is not None else None
    X, _ = sample_rows(frame, y, max_rows, seed=seed, stratify=stratify)
    return X


@pytest.mark.parametrize("kind", ["csv", "parquet"])
@pytest.mark.parametrize("stratify", [True, False])
def test_chunked_sample_equals_the_whole_file_sample(
    files: dict[str, Path], small_chunks: list[int], kind: str, stratify: bool
) -> None:
    got = read_sample(files[kind], "label", 900, seed=5, stratify=stratify)
    want = _whole(files[kind], 900, seed=5, stratify=stratify)
    pd.testing.assert_frame_equal(got.frame, want, check_index_type=False)
    assert got.rows_total == ROWS and got.missing_target == 40
    assert max(small_chunks) == 2_000 and sum(small_chunks) == ROWS * 4  # in chunks, once


def test_sample_comes_from_the_whole_file_and_keeps_class_shares(
    files: dict[str, Path], small_chunks: list[int]
) -> None:
    got = read_sample(files["csv"], "label", 1_000, seed=1, stratify=True).frame
    assert got.index.max() > ROWS - 300  # rows from the tail, where class c lives
    kept = _frame()["label"].dropna()
    want = kept.value_counts(normalize=True) * 1_000
    counts = got["label"].value_counts()
    assert set(counts.index) == {"a", "b", "c"}
    assert all(abs(counts[c] - want[c]) <= 1 for c in counts.index)  # quotas, rounded


def test_sample_is_deterministic_per_seed(files: dict[str, Path], small_chunks: list[int]) -> None:
    first = read_sample(files["parquet"], "label", 500, seed=7, stratify=True).frame
    again = read_sample(files["parquet"], "label", 500, seed=7, stratify=True).frame
    other = read_sample(files["parquet"], "label", 500, seed=8, stratify=True).frame
    pd.testing.assert_frame_equal(first, again)
    assert not first.index.equals(other.index)


def test_without_target_the_sample_is_by_count(
    files: dict[str, Path], small_chunks: list[int]
) -> None:
    got = read_sample(files["csv"], None, 700, seed=2, stratify=False)
    want = _whole(files["csv"], 700, seed=2, stratify=False, target=None)
    pd.testing.assert_frame_equal(got.frame, want, check_index_type=False)
    assert got.missing_target == 0


def test_stored_parquet_index_is_not_a_column(
    files: dict[str, Path], small_chunks: list[int]
) -> None:
    got = read_sample(files["indexed"], "label", 400, seed=0, stratify=True).frame
    assert list(got.columns) == ["x", "n", "colour", "label"]


def test_unknown_target_leaves_the_error_to_column_matching(
    files: dict[str, Path], small_chunks: list[int]
) -> None:
    got = read_sample(files["csv"], "income", 400, seed=0, stratify=True)
    assert got.frame.empty and list(got.frame.columns) == ["x", "n", "colour", "label"]
    assert small_chunks == []  # nothing read beyond the header


def test_only_large_files_with_a_row_limit_are_chunked(files: dict[str, Path]) -> None:
    assert not reads_in_chunks(files["csv"], 10_000)  # small: read whole, as before
    assert not reads_in_chunks(files["csv"], None)  # --max-rows all reads every row
