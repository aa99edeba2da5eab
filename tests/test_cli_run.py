"""``xai run``: shipped configs, batch execution, resume, determinism, init and schema.

Every test goes through the CLI's entry point with real sample models (in process, except the two
marked ``process`` that kill a run or a worker); configs are written into a temp folder with paths
relative to it, the way a user's config sits beside its files.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.conftest import ROOT, SAMPLE_DATA
from xai_cli.config.schema import Config, json_schema
from xai_cli.reports.writer import FORMATS
from xai_cli.run.batch import FINGERPRINT_FILE

REPORT_FILES = {name for files in FORMATS.values() for name in files}
BATCH_FILES = {"index.html", "summary.csv", "summary.json"}


def write_config(folder: Path, jobs: list[dict], **extra: object) -> Path:
    """A config in ``folder`` with output ``folder/out`` and the given jobs."""
    config = {
        "schema_version": 1,
        "output": {"folder": "out", "formats": ["all"], "top_k": 5},
        "defaults": {
            "data": {"max_rows": 300, "seed": 3},
            "params": {"permutation": {"n_repeats": 2}},
        },
        "jobs": jobs,
        **extra,
    }
    path = folder / "xai.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def two_jobs(tmp_path: Path, sample_models: Path) -> Path:
    """A config with a binary XGBoost job and a regression LightGBM job, files copied beside it."""
    for name in ("adult_xgboost.joblib", "california_lightgbm.joblib", "adult_lightgbm.joblib"):
        shutil.copy(sample_models / name, tmp_path / name)
    shutil.copy(SAMPLE_DATA / "adult.csv", tmp_path / "adult.csv")
    shutil.copy(SAMPLE_DATA / "california_housing.parquet", tmp_path / "cal.parquet")
    return write_config(
        tmp_path,
        [
            {"name": "adult", "model": "adult_xgboost.joblib",
             "data": {"path": "adult.csv", "target": "income"}},
            {"name": "california", "model": "california_lightgbm.joblib",
             "data": {"path": "cal.parquet", "target": "MedHouseVal"}},
        ],  # fmt: skip
    )


def summary(out: Path) -> dict:
    return json.loads((out / "summary.json").read_text(encoding="utf-8"))


def assert_complete_job(folder: Path) -> None:
    assert REPORT_FILES | {FINGERPRINT_FILE} <= {p.name for p in folder.iterdir()}, folder


# ------------------------------------------------------------------------------ shipped configs


@pytest.mark.parametrize("config", sorted(p.name for p in (ROOT / "configs").glob("*.yaml")))
def test_every_shipped_config_runs(config: str, sample_models: Path, tmp_path: Path, xai) -> None:
    text = (ROOT / "configs" / config).read_text(encoding="utf-8")
    if "\naudit:" in text:
        pytest.skip("audit configs are run by the audit tests")
    out = tmp_path / "out"
    run = xai(
        "run", f"configs/{config}", "--out", str(out), "--jobs", "2", "--max-rows", "300",
        "--output-format", "json", env={"XAI_MODELS": str(sample_models)},
    )  # fmt: skip
    assert run.code == 0, run.stderr
    doc = json.loads(run.stdout)
    assert doc["counts"]["error"] == 0 and doc["counts"]["ok"] == len(doc["jobs"]) >= 1
    assert {p.name for p in out.iterdir()} >= BATCH_FILES
    for job in doc["jobs"]:
        assert_complete_job(out / job["folder"])
        assert job["methods_ok"] and job["consensus"] is not None
        report = json.loads((out / job["folder"] / "report.json").read_text(encoding="utf-8"))
        assert report["provenance"]["rows_used"] <= 300
        assert report["provenance"]["model_path"].startswith(str(sample_models))


# ----------------------------------------------------------------------------- batch execution


def test_batch_reports_and_cli_overrides(two_jobs: Path, tmp_path: Path, xai) -> None:
    run = xai("run", str(two_jobs), "--top-k", "3", "--format", "json,csv", "-q")
    assert run.code == 0, run.stderr
    out = tmp_path / "out"
    doc = summary(out)
    assert [j["name"] for j in doc["jobs"]] == ["adult", "california"]
    assert doc["formats"] == ["json", "csv"]
    for name in ("adult", "california"):
        files = {p.name for p in (out / name).iterdir()}
        assert files == {"report.json", "importances.csv", "agreement.csv", FINGERPRINT_FILE}
        report = json.loads((out / name / "report.json").read_text(encoding="utf-8"))
        assert report["top_k"] == 3
        assert report["provenance"]["seed"] == 3
    adult = json.loads((out / "adult" / "report.json").read_text(encoding="utf-8"))
    perm = next(m for m in adult["methods"] if m["method"] == "permutation")
    assert perm["params"]["n_repeats"] == 2  # from defaults.params
    csv = pd.read_csv(out / "summary.csv")
    assert list(csv["job"]) == ["adult", "california"] and set(csv["status"]) == {"ok"}
    assert "summary" in run.stdout  # the rich summary table went to stdout


def test_broken_job_does_not_stop_the_others(two_jobs: Path, tmp_path: Path, xai) -> None:
    (tmp_path / "broken.joblib").write_bytes(b"\x00 not a model at all")
    config = yaml.safe_load(two_jobs.read_text(encoding="utf-8"))
    config["jobs"].insert(
        1, {"name": "broken", "model": "broken.joblib", "data": {"path": "adult.csv"}}
    )
    two_jobs.write_text(yaml.safe_dump(config), encoding="utf-8")
    run = xai("run", str(two_jobs), "--jobs", "2", "--output-format", "json")
    assert run.code == 2, run.stderr
    doc = json.loads(run.stdout)
    status = {j["name"]: j for j in doc["jobs"]}
    assert [j["name"] for j in doc["jobs"]] == ["adult", "broken", "california"]
    assert status["adult"]["status"] == status["california"]["status"] == "ok"
    assert status["broken"]["status"] == "error"
    assert "error[model-load]" in status["broken"]["error"]
    assert "broken.joblib" in status["broken"]["error"]
    out = tmp_path / "out"
    assert_complete_job(out / "adult")
    assert_complete_job(out / "california")
    assert not (out / "broken").exists()
    assert doc["counts"] == {"ok": 2, "skipped": 0, "error": 1}
    assert "Traceback" not in run.stderr


def test_serial_and_parallel_runs_give_identical_numbers(
    two_jobs: Path, tmp_path: Path, xai
) -> None:
    serial, parallel = tmp_path / "serial", tmp_path / "parallel"
    assert xai("run", str(two_jobs), "--jobs", "1", "--out", str(serial), "-q").code == 0
    assert xai("run", str(two_jobs), "--jobs", "2", "--out", str(parallel), "-q").code == 0
    for job in ("adult", "california"):
        for name in ("importances.csv", "agreement.csv"):
            a = (serial / job / name).read_bytes()
            assert a == (parallel / job / name).read_bytes(), (job, name)
        a, b = (json.loads((d / job / "report.json").read_text()) for d in (serial, parallel))
        keys = ("importances", "agreement", "consensus", "rank_spread", "additivity", "local",
                "rank_intervals")  # fmt: skip
        for key in keys:
            assert a[key] == b[key], (job, key)
        assert any(m.get("estimated_s") for m in a["methods"])  # jobs estimate before running
        assert a["provenance"]["model_sha256"] == b["provenance"]["model_sha256"]


# ------------------------------------------------------------------------------------- resume


def test_resume_skips_unchanged_and_reruns_changed(
    two_jobs: Path, tmp_path: Path, sample_models: Path, xai
) -> None:
    out = tmp_path / "out"
    first = xai("run", str(two_jobs), "--resume", "--output-format", "json", "-q")
    assert first.code == 0, first.stderr
    assert json.loads(first.stdout)["counts"] == {"ok": 2, "skipped": 0, "error": 0}
    before = (out / "california" / "report.json").read_text()

    again = xai("run", str(two_jobs), "--resume", "--output-format", "json", "-q")
    assert json.loads(again.stdout)["counts"] == {"ok": 0, "skipped": 2, "error": 0}
    assert (out / "california" / "report.json").read_text() == before  # untouched
    skipped = json.loads(again.stdout)["jobs"][0]
    assert skipped["methods_ok"] and skipped["resumed_from"]

    # a different model file under the same name: only its job reruns
    shutil.copy(sample_models / "adult_lightgbm.joblib", tmp_path / "adult_xgboost.joblib")
    third = xai("run", str(two_jobs), "--resume", "--output-format", "json", "-q")
    jobs = {j["name"]: j["status"] for j in json.loads(third.stdout)["jobs"]}
    assert jobs == {"adult": "ok", "california": "skipped"}
    report = json.loads((out / "adult" / "report.json").read_text())
    assert report["provenance"]["family"] == "lightgbm"

    # changed settings rerun too; a missing output file does as well
    (out / "california" / "agreement.csv").unlink()
    fourth = xai("run", str(two_jobs), "--resume", "--seed", "4", "--output-format", "json", "-q")
    assert json.loads(fourth.stdout)["counts"] == {"ok": 2, "skipped": 0, "error": 0}


def test_without_resume_everything_reruns(two_jobs: Path, xai) -> None:
    assert xai("run", str(two_jobs), "-q").code == 0
    run = xai("run", str(two_jobs), "--output-format", "json", "-q")
    assert json.loads(run.stdout)["counts"]["ok"] == 2


@pytest.mark.process  # SIGKILLs the whole run: needs a process of its own
def test_killed_run_leaves_nothing_a_resume_mistakes_for_finished(
    two_jobs: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    env = {**os.environ, "NO_COLOR": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "xai_cli", "run", str(two_jobs), "-q", "--output-format", "none"],
        cwd=ROOT, env=env, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not (out / "adult" / FINGERPRINT_FILE).exists():
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # while the second job runs (or just after)
    proc.wait()
    assert (out / "adult" / FINGERPRINT_FILE).exists(), "the first job never finished"
    for folder in out.iterdir():
        if folder.is_dir() and not folder.name.startswith("."):
            assert_complete_job(folder)  # a visible job folder is always complete
    resumed = subprocess.run(
        [sys.executable, "-m", "xai_cli", "run", str(two_jobs), "--resume", "-q",
         "--output-format", "json"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    jobs = {j["name"]: j["status"] for j in json.loads(resumed.stdout)["jobs"]}
    assert jobs["adult"] == "skipped"
    assert jobs["california"] in ("ok", "skipped")
    assert not [p for p in out.iterdir() if ".partial-" in p.name]
    assert_complete_job(out / "california")


# --------------------------------------------------------------------------------- init, schema


def test_init_prints_a_valid_commented_config(tmp_path: Path, xai) -> None:
    run = xai("init")
    assert run.code == 0 and run.stdout.lstrip().startswith("#")
    Config.model_validate(yaml.safe_load(run.stdout))  # the starter config is valid as written


def test_init_config_runs_once_its_paths_point_at_files(
    tmp_path: Path, sample_models: Path, xai
) -> None:
    text = xai("init").stdout
    text = text.replace("data/validation.parquet", str(SAMPLE_DATA / "adult.parquet"))
    text = text.replace("target: label", "target: income")
    (tmp_path / "my.yaml").write_text(text, encoding="utf-8")
    shutil.copy(sample_models / "adult_xgboost.joblib", tmp_path / "model.joblib")
    run = xai(
        "run", str(tmp_path / "my.yaml"), "--max-rows", "200", "--methods", "treeshap",
        "--output-format", "json", "-q", env={"MODEL_DIR": str(tmp_path)},
    )  # fmt: skip
    assert run.code == 0, run.stderr
    assert json.loads(run.stdout)["jobs"][0]["methods_ok"] == ["treeshap"]


def test_schema_is_json_schema_of_the_config(xai) -> None:
    run = xai("schema")
    assert run.code == 0
    schema = json.loads(run.stdout)
    assert schema == json_schema()
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert set(schema["required"]) == {"schema_version", "output", "jobs"}
    assert schema["additionalProperties"] is False
    methods = json.dumps(schema)
    assert "xgboost.gain" in methods and "treeshap" in methods


class _KillsItsProcess:
    """Unpickling this ends the process that loads it, like a worker killed mid-job."""

    def __reduce__(self):
        return (os._exit, (3,))


@pytest.mark.process  # a worker dies by os._exit: kept out of the test process, in case the
# parent ever unpickled the model itself
def test_a_killed_worker_loses_only_unfinished_jobs(
    two_jobs: Path, tmp_path: Path, xai_process
) -> None:
    import pickle

    xai = xai_process

    (tmp_path / "killer.pkl").write_bytes(pickle.dumps(_KillsItsProcess()))
    config = yaml.safe_load(two_jobs.read_text(encoding="utf-8"))
    config["jobs"].append(
        {"name": "killer", "model": {"path": "killer.pkl", "trust": True}, "data": "adult.csv"}
    )
    two_jobs.write_text(yaml.safe_dump(config), encoding="utf-8")
    run = xai("run", str(two_jobs), "--jobs", "2", "--output-format", "json", "-q")
    assert run.code == 2, run.stderr
    jobs = {j["name"]: j for j in json.loads(run.stdout)["jobs"]}
    assert set(jobs) == {"adult", "california", "killer"}
    assert jobs["killer"]["status"] == "error"
    assert "worker process died" in jobs["killer"]["error"]
    assert "--resume" in jobs["killer"]["error"]
    for name, job in jobs.items():
        folder = tmp_path / "out" / name
        assert folder.exists() == (job["status"] == "ok")  # a finished job is never called lost
        if folder.exists():
            assert_complete_job(folder)
    config["jobs"].pop()
    two_jobs.write_text(yaml.safe_dump(config), encoding="utf-8")
    resumed = xai("run", str(two_jobs), "--jobs", "2", "--resume", "--output-format", "json", "-q")
    assert resumed.code == 0, resumed.stderr
    assert {j["status"] for j in json.loads(resumed.stdout)["jobs"]} <= {"ok", "skipped"}
