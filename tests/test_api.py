"""The object front door: ``xai_cli.explain(model, X, y)`` gives the CLI's numbers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import xai_cli
from tests.conftest import SAMPLE_DATA
from xai_cli.errors import ColumnMismatchError, DataError
from xai_cli.load.models import load_model
from xai_cli.report import Report

ADULT = ("adult.parquet", "income")
CALIFORNIA = ("california_housing.parquet", "MedHouseVal")
SAMPLE_MODELS = {
    "adult_xgboost.joblib": ADULT,
    "adult_lightgbm.joblib": ADULT,
    "adult_catboost.joblib": ADULT,
    "adult_xgboost.ubj": ADULT,
    "adult_lightgbm.txt": ADULT,
    "adult_catboost.cbm": ADULT,
    "adult_random_forest.joblib": ("adult_numeric.csv", "income"),
    "california_xgboost.joblib": CALIFORNIA,
    "california_lightgbm.joblib": CALIFORNIA,
    "california_catboost.joblib": CALIFORNIA,
    "california_random_forest.joblib": CALIFORNIA,
    "california_xgboost.ubj": CALIFORNIA,
    "california_lightgbm.txt": CALIFORNIA,
    "california_catboost.cbm": CALIFORNIA,
}
ROWS = "600"


def _read(name: str) -> pd.DataFrame:
    path = SAMPLE_DATA / name
    return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)


def _key(frame: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    return frame.sort_values(cols).reset_index(drop=True)


@pytest.mark.parametrize("model_file", sorted(SAMPLE_MODELS))
def test_api_and_cli_give_identical_numbers(model_file: str, sample_models: Path, xai) -> None:
    data_file, target = SAMPLE_MODELS[model_file]
    model = load_model(sample_models / model_file).obj
    frame = _read(data_file)
    api = xai_cli.explain(model, frame, target, max_rows=int(ROWS), params={
        "permutation": {"n_repeats": 2}})  # fmt: skip
    run = xai("explain", str(sample_models / model_file), str(SAMPLE_DATA / data_file),
              "--target", target, "--max-rows", ROWS, "--param", "permutation:n_repeats=2",
              "--output-format", "json", "--format", "json", "--no-estimate",
              "--out", str(sample_models.parent / f"api-{model_file}"))  # fmt: skip
    assert run.code == 0, run.stderr
    cli = json.loads(run.stdout)
    cols = ["method", "class", "feature"]
    pd.testing.assert_frame_equal(
        _key(api.importances, cols), _key(pd.DataFrame(cli["importances"]), cols)
    )
    pair = ["method_a", "method_b", "class"]
    pd.testing.assert_frame_equal(
        _key(api.agreement, pair), _key(pd.DataFrame(cli["agreement"]), pair)
    )
    mine_json = api.report.to_json_data()
    for mine, theirs in zip(mine_json["additivity"], cli["additivity"], strict=True):
        # thread-parallel sums may differ in the last bits of an error that is itself ~1e-14
        assert mine == {**theirs, **{k: pytest.approx(theirs[k], abs=1e-12)
                                     for k in ("max_abs_error", "p99_abs_error")}}  # fmt: skip
    assert mine_json["rank_intervals"] == cli["rank_intervals"]
    assert [m.status for m in api.report.methods] == [m["status"] for m in cli["methods"]]


def test_result_object_in_a_notebook(sample_models: Path, tmp_path: Path) -> None:
    model = load_model(sample_models / "adult_xgboost.joblib").obj
    frame = _read("adult.parquet")
    y = frame.pop("income")
    r = xai_cli.explain(model, frame, y, max_rows=500, methods="treeshap,xgboost.gain,permutation")
    assert set(r.importances["method"]) == {"treeshap", "xgboost.gain", "permutation"}
    assert r.additivity.loc[0, "ok"]
    shap = r.attributions("treeshap")
    assert shap.shape == (500, frame.shape[1]) and list(shap.columns) == list(frame.columns)
    local = r.local("treeshap")  # additivity by hand: sum of SHAP + base = raw margin
    raw = r.prepared.adapter.predict_raw(r.prepared.X)[:, 0]
    np.testing.assert_allclose(local.values[:, :, 0].sum(1) + local.base_values[:, 0], raw,
                               atol=1e-4)  # fmt: skip
    html = r._repr_html_()
    assert "<table>" in html and "treeshap" in html
    written = r.save(tmp_path / "rep", formats="json,csv")
    assert sorted(p.name for p in written) == ["agreement.csv", "importances.csv", "report.json"]
    saved = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert saved["importances"] == r.report.to_json_data()["importances"]
    assert Report.model_validate(saved) == r.report  # the saved file reads back as the same report


def test_arrays_need_names_and_y_may_name_a_column(sample_models: Path) -> None:
    model = load_model(sample_models / "california_random_forest.joblib").obj
    frame = _read("california_housing.parquet").head(300)
    features = [c for c in frame.columns if c != "MedHouseVal"]
    by_name = xai_cli.explain(model, frame, "MedHouseVal", methods="sklearn.impurity,permutation")
    by_array = xai_cli.explain(
        model, frame[features].to_numpy(), frame["MedHouseVal"].to_numpy(),
        feature_names=features, methods="sklearn.impurity,permutation",
    )  # fmt: skip
    pd.testing.assert_frame_equal(by_name.importances, by_array.importances)
    with pytest.raises(DataError, match="feature names"):
        xai_cli.explain(model, frame[features].to_numpy(), feature_names=features[:3])
    with pytest.raises(DataError, match="one value per row"):
        xai_cli.explain(model, frame[features], frame["MedHouseVal"].to_numpy()[:10])
    with pytest.raises(ColumnMismatchError, match="missing 'MedInc'"):
        xai_cli.explain(model, frame.drop(columns="MedInc"), "MedHouseVal")


def test_package_import_is_light() -> None:
    """``import xai_cli`` exposes the API names without importing them until used."""
    import subprocess
    import sys

    code = (
        "import sys, xai_cli; assert callable(xai_cli.__getattr__); "
        "print(','.join(m for m in ('numpy', 'pandas', 'sklearn') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_api_validates_params_before_any_work(sample_models: Path) -> None:
    from xai_cli.errors import UsageError

    model = load_model(sample_models / "adult_xgboost.joblib").obj
    frame = _read("adult.parquet")
    with pytest.raises(UsageError, match="did you mean 'n_repeats'"):
        xai_cli.explain(model, frame, "income", params={"permutation": {"n_repeatz": 3}})
    with pytest.raises(UsageError, match="n_repeats must be >= 1"):
        xai_cli.explain(model, frame, "income", params={"permutation": {"n_repeats": 0}})
