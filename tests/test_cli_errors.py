"""Every bad input, through the real entry point: exit code 2, one clear message, no traceback,
and no report folder left behind."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import SAMPLE_DATA

ADULT = SAMPLE_DATA / "adult.csv"


def assert_clean_error(run, code: str, *fragments: str) -> None:
    """Exit 2, stderr starts with ``error[code]:``, contains the fragments, no traceback."""
    assert run.code == 2, run.stderr
    assert run.stderr.startswith(f"error[{code}]: "), run.stderr
    for fragment in fragments:
        assert fragment in run.stderr, run.stderr
    assert "Traceback" not in run.stderr
    assert run.stdout == ""


@pytest.fixture
def xgb_model(sample_models: Path) -> Path:
    return sample_models / "adult_xgboost.joblib"


def test_missing_model_file(tmp_path: Path, xai) -> None:
    run = xai("explain", str(tmp_path / "nope.pkl"), str(ADULT), "--out", str(tmp_path / "o"))
    assert_clean_error(run, "missing-file", "model file not found", "nope.pkl")
    assert not (tmp_path / "o").exists()


def test_missing_data_file(tmp_path: Path, xgb_model: Path, xai) -> None:
    run = xai("explain", str(xgb_model), str(tmp_path / "nope.csv"), "--out", str(tmp_path / "o"))
    assert_clean_error(run, "missing-file", "data file not found")


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("garbage.pkl", b"this is not a pickle at all"),
        ("garbage.joblib", b"\x00\x01\x02\x03" * 10),
        ("garbage.ubj", b"{not ubjson"),
        ("garbage.json", b'{"hello": "world"}'),
        ("garbage.txt", b"tree\nnot a lightgbm model\n"),
        ("garbage.cbm", b"CBM1 nope"),
    ],
)
def test_file_that_is_not_a_model(tmp_path: Path, name: str, content: bytes, xai) -> None:
    model = tmp_path / name
    model.write_bytes(content)
    run = xai("explain", str(model), str(ADULT), "--out", str(tmp_path / "o"))
    assert_clean_error(run, "model-load", "is not a readable", name)
    assert not (tmp_path / "o").exists()


def test_pickle_of_something_that_is_not_a_model(tmp_path: Path, xai) -> None:
    import joblib
    import numpy as np

    model = tmp_path / "array.joblib"
    joblib.dump(np.arange(3), model)
    run = xai("explain", str(model), str(ADULT))
    assert_clean_error(run, "unsupported-model", "is not a supported model")


def test_unknown_model_extension(tmp_path: Path, xai) -> None:
    model = tmp_path / "model.bin"
    model.write_bytes(b"x")
    run = xai("explain", str(model), str(ADULT))
    assert_clean_error(run, "model-load", "unknown model file type '.bin'", "hint: use one of")


def test_empty_data_file(tmp_path: Path, xgb_model: Path, xai) -> None:
    data = tmp_path / "empty.csv"
    data.write_text("")
    run = xai("explain", str(xgb_model), str(data), "--out", str(tmp_path / "o"))
    assert_clean_error(run, "data", "data file is empty")
    assert not (tmp_path / "o").exists()


def test_header_only_data_file(tmp_path: Path, xgb_model: Path, xai) -> None:
    data = tmp_path / "header.csv"
    data.write_text(",".join(pd.read_csv(ADULT, nrows=1).columns) + "\n")
    run = xai("explain", str(xgb_model), str(data), "--target", "income")
    assert_clean_error(run, "data", "has no rows")


def test_unreadable_parquet(tmp_path: Path, xgb_model: Path, xai) -> None:
    data = tmp_path / "broken.parquet"
    data.write_bytes(b"PAR1 definitely not parquet")
    run = xai("explain", str(xgb_model), str(data))
    assert_clean_error(run, "data", "could not read data file", "cause:")


def test_missing_and_unexpected_columns_listed_together(
    tmp_path: Path, xgb_model: Path, xai
) -> None:
    frame = pd.read_csv(ADULT).drop(columns=["age", "race"]).assign(customer_id=1, agee=3)
    data = tmp_path / "d.csv"
    frame.to_csv(data, index=False)
    run = xai("explain", str(xgb_model), str(data), "--target", "income")
    assert_clean_error(
        run, "columns", "missing 'age' (did you mean 'agee'?), 'race'", "unexpected 'customer_id'"
    )


def test_drop_removes_extra_columns(tmp_path: Path, xgb_model: Path, xai) -> None:
    data = tmp_path / "d.csv"
    pd.read_csv(ADULT).head(300).assign(customer_id=1).to_csv(data, index=False)
    run = xai(
        "explain",
        str(xgb_model),
        str(data),
        "--target",
        "income",
        "--drop",
        "customer_id",
        "--out",
        str(tmp_path / "o"),
        "--format",
        "json",
        "--output-format",
        "none",
    )
    assert run.code == 0, run.stderr
    assert (tmp_path / "o" / "report.json").exists()


def test_target_column_not_there(tmp_path: Path, xgb_model: Path, xai) -> None:
    run = xai("explain", str(xgb_model), str(ADULT), "--target", "incme")
    assert_clean_error(run, "columns", "target column 'incme' is not in the data", "'income'")


def test_non_numeric_values_where_numbers_are_needed(tmp_path: Path, xgb_model: Path, xai) -> None:
    frame = pd.read_csv(ADULT).head(200)
    frame["age"] = frame["age"].astype(str)
    frame.loc[5, "age"] = "forty"
    data = tmp_path / "d.csv"
    frame.to_csv(data, index=False)
    run = xai("explain", str(xgb_model), str(data), "--target", "income")
    assert_clean_error(run, "data", "non-numeric values", "age (e.g. 'forty')")


def test_unknown_method_suggests_the_right_one(xgb_model: Path, xai) -> None:
    run = xai("explain", str(xgb_model), str(ADULT), "--target", "income", "-m", "xgboost.gian")
    assert_clean_error(
        run, "method", "unknown method 'xgboost.gian'", "did you mean 'xgboost.gain'"
    )


def test_requested_method_that_does_not_apply_is_an_error(xgb_model: Path, xai) -> None:
    run = xai("explain", str(xgb_model), str(ADULT), "--target", "income", "-m", "lightgbm.gain")
    assert_clean_error(run, "method", "cannot run on this model", "needs a LightGBM model")


def test_requested_method_that_needs_a_target(xgb_model: Path, tmp_path: Path, xai) -> None:
    data = tmp_path / "d.csv"
    pd.read_csv(ADULT).drop(columns="income").to_csv(data, index=False)
    run = xai("explain", str(xgb_model), str(data), "-m", "permutation")
    assert_clean_error(run, "method", "needs labels", "--target")


def test_unknown_report_format(xgb_model: Path, xai) -> None:
    run = xai("explain", str(xgb_model), str(ADULT), "--target", "income", "--format", "pdf")
    assert_clean_error(run, "usage", "unknown report format: pdf")


def test_debug_shows_the_traceback(tmp_path: Path, xai) -> None:
    run = xai("explain", str(tmp_path / "nope.pkl"), str(ADULT), "--debug")
    assert run.code == 2
    assert "Traceback" in run.stderr and "error[missing-file]" in run.stderr


def test_usage_error_exit_code(xai) -> None:
    run = xai("explain")
    assert run.code == 2
    assert "Missing argument" in run.stderr


@pytest.mark.parametrize("value", ["0", "-3", "lots"])
def test_bad_max_rows(tmp_path: Path, xgb_model: Path, value: str, xai) -> None:
    run = xai("explain", str(xgb_model), str(ADULT), "--max-rows", value,
              "--out", str(tmp_path / "o"))  # fmt: skip
    assert_clean_error(run, "usage", "--max-rows must be a positive number of rows or 'all'")
    assert not (tmp_path / "o").exists()
