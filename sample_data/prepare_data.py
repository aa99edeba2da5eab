"""Draw the small sample datasets committed in ``sample_data/``.

This script only documents how the committed files were made; nothing in
``xai-cli`` runs it. It reads the full datasets from ``../shared/data`` (not
shipped with the package) and writes:

* ``adult.csv`` / ``adult.parquet``: 4,000 rows of UCI Adult, stratified by
  ``income`` (seed 0); strings stripped, ``?`` turned into missing values.
* ``adult_numeric.csv``: the same 4,000 rows, numeric columns + ``income`` only
  (for the numeric-only random-forest sample model).
* ``california_housing.csv`` / ``california_housing.parquet``: 4,000 random rows
  of the California housing data (seed 0).

Usage::

    python sample_data/prepare_data.py [--source /work/shared/data]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

HERE = Path(__file__).resolve().parent
DEFAULT_SOURCE = Path("/work/shared/data")
N_ROWS = 4_000
SEED = 0
ADULT_TARGET = "income"
CALIFORNIA_TARGET = "MedHouseVal"


def clean_adult(df: pd.DataFrame) -> pd.DataFrame:
    """Strip whitespace from string columns and turn ``?`` into missing values."""
    df = df.copy()
    for col in df.columns:
        if not pd.api.types.is_numeric_dtype(df[col]):
            values = df[col].astype(str).str.strip()
            df[col] = values.where(values != "?", np.nan)
    return df


def sample_adult(df: pd.DataFrame, n: int = N_ROWS, seed: int = SEED) -> pd.DataFrame:
    """Return ``n`` rows of Adult, stratified by income, in original row order."""
    sample, _ = train_test_split(df, train_size=n, stratify=df[ADULT_TARGET], random_state=seed)
    return sample.sort_index().reset_index(drop=True)


def sample_rows(df: pd.DataFrame, n: int = N_ROWS, seed: int = SEED) -> pd.DataFrame:
    """Return ``n`` uniformly drawn rows in original row order."""
    return df.sample(n=n, random_state=seed).sort_index().reset_index(drop=True)


def write_table(df: pd.DataFrame, stem: str, out_dir: Path, parquet: bool = True) -> None:
    """Write ``df`` as ``<stem>.csv`` (missing = empty cell) and optionally Parquet."""
    csv_path = out_dir / f"{stem}.csv"
    df.to_csv(csv_path, index=False)
    print(f"wrote {csv_path} ({csv_path.stat().st_size:,} bytes, {df.shape[0]}x{df.shape[1]})")
    if parquet:
        pq_path = out_dir / f"{stem}.parquet"
        df.to_parquet(pq_path, index=False)
        print(f"wrote {pq_path} ({pq_path.stat().st_size:,} bytes)")


def main(argv: list[str] | None = None) -> int:
    """Read the full datasets and write the committed samples."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--source",
        type=Path,
        default=DEFAULT_SOURCE,
        help="folder holding adult.parquet and california_housing.parquet",
    )
    parser.add_argument("--out", type=Path, default=HERE, help="output folder")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    adult = sample_adult(clean_adult(pd.read_parquet(args.source / "adult.parquet")))
    write_table(adult, "adult", args.out)
    numeric = [c for c in adult.columns if pd.api.types.is_numeric_dtype(adult[c])]
    write_table(adult[numeric + [ADULT_TARGET]], "adult_numeric", args.out, parquet=False)

    california = sample_rows(pd.read_parquet(args.source / "california_housing.parquet"))
    write_table(california, "california_housing", args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
