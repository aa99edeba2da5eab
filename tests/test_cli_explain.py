"""``xai explain`` and ``xai methods`` end to end on the real sample models and data."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import SAMPLE_DATA
from xai_cli import SCHEMA_VERSION
from xai_cli.load.models import file_sha256

REPORT_FILES = {"report.json", "report.md", "report.html", "importances.csv", "agreement.csv"}

CASES = [
    ("adult_xgboost.joblib", "adult.csv", "income", "xgboost.total_gain"),
    ("adult_lightgbm.txt", "adult.parquet", "income", "lightgbm.gain"),
    ("adult_catboost.cbm", "adult.csv", "income", "catboost.LossFunctionChange"),
    ("adult_random_forest.joblib", "adult_numeric.csv", "income", "sklearn.impurity"),
    ("california_xgboost.ubj", "california_housing.parquet", "MedHouseVal", "xgboost.weight"),
]


@pytest.mark.parametrize(("model", "data", "target", "native"), CASES)
def test_explain_writes_all_reports(
    sample_models: Path, tmp_path: Path, xai, model: str, data: str, target: str, native: str
) -> None:
    out = tmp_path / "report"
    run = xai(
        "explain",
        str(sample_models / model),
        str(SAMPLE_DATA / data),
        "--target",
        target,
        "--out",
        str(out),
        "--max-rows",
        "1500",
    )
    assert run.code == 0, run.stderr
    assert {p.name for p in out.iterdir()} == REPORT_FILES
    doc = json.loads((out / "report.json").read_text())
    assert doc["schema_version"] == SCHEMA_VERSION
    assert doc["provenance"]["model_sha256"] == file_sha256(sample_models / model)
    assert doc["provenance"]["rows_used"] == 1500
    assert doc["provenance"]["library_versions"]["scikit-learn"]
    statuses = {m["method"]: m["status"] for m in doc["methods"]}
    assert statuses["treeshap"] == statuses["permutation"] == statuses[native] == "ok"
    assert all(m["elapsed_s"] >= 0 for m in doc["methods"] if m["status"] == "ok")
    assert doc["additivity"] and all(check["ok"] for check in doc["additivity"])
    with (out / "importances.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["method", "class", "feature", "value", "share", "rank"]
    ok = [m for m, s in statuses.items() if s == "ok"]
    assert {r["method"] for r in rows} == set(ok)
    with (out / "agreement.csv").open() as handle:
        agreement = list(csv.DictReader(handle))
    assert list(agreement[0]) == [
        "method_a",
        "method_b",
        "class",
        "spearman",
        "kendall",
        "topk_jaccard",
    ]
    assert len([a for a in agreement if a["class"] == "all"]) == len(ok) * (len(ok) - 1) // 2
    # the terminal summary goes to stdout, progress and notes to stderr
    assert "Top 5 features per method" in run.stdout
    assert "reports written to" in run.stderr and "reports written to" not in run.stdout


def test_stdout_json_is_the_report(sample_models: Path, tmp_path: Path, xai) -> None:
    run = xai(
        "explain",
        str(sample_models / "california_lightgbm.joblib"),
        str(SAMPLE_DATA / "california_housing.csv"),
        "--target",
        "MedHouseVal",
        "--out",
        str(tmp_path / "o"),
        "--output-format",
        "json",
        "--format",
        "json,csv",
        "--max-rows",
        "800",
    )
    assert run.code == 0, run.stderr
    printed = json.loads(run.stdout)
    saved = json.loads((tmp_path / "o" / "report.json").read_text())
    assert printed == saved
    assert {p.name for p in (tmp_path / "o").iterdir()} == {
        "report.json",
        "importances.csv",
        "agreement.csv",
    }


def test_without_target_label_methods_are_skipped_with_reason(
    sample_models: Path, tmp_path: Path, xai
) -> None:
    data = tmp_path / "no_target.csv"
    pd.read_csv(SAMPLE_DATA / "adult.csv").drop(columns="income").head(500).to_csv(
        data, index=False
    )
    run = xai(
        "explain",
        str(sample_models / "adult_catboost.joblib"),
        str(data),
        "--out",
        str(tmp_path / "o"),
        "--format",
        "json",
    )
    assert run.code == 0, run.stderr
    doc = json.loads((tmp_path / "o" / "report.json").read_text())
    methods = {m["method"]: m for m in doc["methods"]}
    for name in ("permutation", "catboost.LossFunctionChange"):
        assert methods[name]["status"] == "skipped"
        assert "--target" in methods[name]["reason"]
    assert methods["catboost.PredictionValuesChange"]["status"] == "ok"
    assert "skipped: permutation — needs labels" in run.stdout


def test_failing_backend_does_not_stop_the_others(sample_models: Path, tmp_path: Path, xai) -> None:
    """Only one class in the labels: ROC AUC is undefined, so permutation fails for real."""
    frame = pd.read_csv(SAMPLE_DATA / "adult.csv")
    frame["income"] = (frame["income"] == ">50K").astype(int)
    data = tmp_path / "one_class.csv"
    frame[frame["income"] == 0].head(400).to_csv(data, index=False)
    run = xai(
        "explain",
        str(sample_models / "adult_xgboost.joblib"),
        str(data),
        "--target",
        "income",
        "--out",
        str(tmp_path / "o"),
    )
    assert run.code == 0, run.stderr
    doc = json.loads((tmp_path / "o" / "report.json").read_text())
    methods = {m["method"]: m for m in doc["methods"]}
    assert methods["permutation"]["status"] == "failed"
    assert "ValueError" in methods["permutation"]["reason"]
    assert methods["treeshap"]["status"] == "ok"
    assert methods["xgboost.gain"]["status"] == "ok"
    assert "failed: permutation" in run.stdout
    assert "failed" in (tmp_path / "o" / "report.md").read_text()


def test_columns_are_matched_by_name_in_any_order(sample_models: Path, tmp_path: Path, xai) -> None:
    frame = pd.read_csv(SAMPLE_DATA / "california_housing.csv").head(600)
    shuffled = tmp_path / "shuffled.csv"
    frame[list(reversed(frame.columns))].to_csv(shuffled, index=False)
    ordered = tmp_path / "ordered.csv"
    frame.to_csv(ordered, index=False)
    docs = []
    for i, data in enumerate((ordered, shuffled)):
        run = xai(
            "explain",
            str(sample_models / "california_catboost.joblib"),
            str(data),
            "--target",
            "MedHouseVal",
            "--out",
            str(tmp_path / f"o{i}"),
            "--format",
            "csv",
        )
        assert run.code == 0, run.stderr
        docs.append((tmp_path / f"o{i}" / "importances.csv").read_text())
    assert docs[0] == docs[1]


def test_same_seed_same_numbers(sample_models: Path, tmp_path: Path, xai) -> None:
    outputs = []
    for i in range(2):
        run = xai(
            "explain",
            str(sample_models / "adult_lightgbm.joblib"),
            str(SAMPLE_DATA / "adult.csv"),
            "--target",
            "income",
            "--max-rows",
            "700",
            "--seed",
            "3",
            "--out",
            str(tmp_path / f"o{i}"),
            "--format",
            "csv",
        )
        assert run.code == 0, run.stderr
        outputs.append((tmp_path / f"o{i}" / "importances.csv").read_text())
    assert outputs[0] == outputs[1]


def test_methods_command(sample_models: Path, xai) -> None:
    run = xai("methods", str(sample_models / "adult_lightgbm.txt"), "--output-format", "json")
    assert run.code == 0, run.stderr
    payload = json.loads(run.stdout)
    applies = {m["method"]: m for m in payload["methods"]}
    assert payload["family"] == "lightgbm" and payload["task"] == "binary"
    assert applies["lightgbm.split"]["applies"] and applies["treeshap"]["applies"]
    assert not applies["xgboost.gain"]["applies"]
    assert "needs an XGBoost model" in applies["xgboost.gain"]["reason"]
    table = xai("methods", str(sample_models / "adult_lightgbm.txt"))
    assert table.code == 0 and "catboost.PredictionValuesChange" in table.stdout


def test_pipeline_is_explained_as_a_black_box(tmp_path: Path, xai) -> None:
    import joblib
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    frame = pd.read_csv(SAMPLE_DATA / "adult_numeric.csv").dropna().head(800)
    X, y = frame.drop(columns="income"), (frame["income"] == ">50K").astype(int)
    model = tmp_path / "pipe.joblib"
    joblib.dump(make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y), model)
    data = tmp_path / "d.csv"
    frame.to_csv(data, index=False)
    run = xai("explain", str(model), str(data), "--target", "income", "--out", str(tmp_path / "o"),
              "--max-rows", "100")  # fmt: skip
    assert run.code == 0, run.stderr
    assert "Pipeline" in run.stderr and "black box" in run.stderr
    doc = json.loads((tmp_path / "o" / "report.json").read_text())
    ok = [m["method"] for m in doc["methods"] if m["status"] == "ok"]
    assert ok == ["permutation", "shapley.exact", "occlusion", "lime"]  # model-agnostic: any model
    why = {m["method"]: m["reason"] for m in doc["methods"] if m["status"] == "skipped"}
    assert "exact Shapley values are computed" in why["kernelshap"]
    assert any("Pipeline" in n for n in doc["provenance"]["notes"])


def test_nothing_computed_is_exit_2_but_the_report_is_kept(tmp_path: Path, xai) -> None:
    import joblib
    from sklearn.linear_model import LinearRegression

    frame = pd.read_csv(SAMPLE_DATA / "california_housing.csv").head(200)
    X = frame.drop(columns="MedHouseVal")
    model = tmp_path / "lin.joblib"
    joblib.dump(LinearRegression().fit(X, frame["MedHouseVal"]), model)
    data = tmp_path / "x.csv"
    X.to_csv(data, index=False)
    run = xai("explain", str(model), str(data), "--out", str(tmp_path / "o"), "--format", "json",
              "--time-limit", "0.001")  # the model-agnostic methods are priced out  # fmt: skip
    assert run.code == 2
    assert "error[nothing-computed]" in run.stderr
    doc = json.loads((tmp_path / "o" / "report.json").read_text())
    assert {m["status"] for m in doc["methods"]} == {"skipped"}


def test_python_dash_m_and_version(xai) -> None:
    run = xai("--version")
    assert run.code == 0 and run.stdout.startswith("xai-cli ")
