"""``xai audit`` on the shared job runner: ``--jobs 2`` gives what ``--jobs 1`` gives, job folders
are written atomically (never a partial folder; a job that cannot write keeps its earlier folder,
a job that cannot run leaves none), ``--resume`` reuses unchanged jobs and reruns changed ones.

In process, through ``typer.testing.CliRunner`` on the real app; two small XGBoost models trained
here (one sound, one with a leaked copy of the label) keep it fast.
"""

from __future__ import annotations

import errno
import json
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from typer.testing import CliRunner

from xai_cli.cli import app
from xai_cli.reports.files import output_error
from xai_cli.run import batch
from xai_cli.run.batch import FINGERPRINT_FILE, PARTIAL_MARK

RULES = (
    "    - {type: additivity, max_error: 0.001}\n"
    "    - {type: forbidden_features, features: [leak], not_in_top_k_of: [treeshap]}\n"
    "    - {type: noise_floor, repeats: 5}\n"
    "    - {type: stability, methods: [treeshap], resamples: 5, min_spearman: 0.5}\n"
)


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``sound.joblib``/``sound.csv`` and ``leaky.joblib``/``leaky.csv`` in one folder."""
    root = tmp_path_factory.mktemp("audit_jobs")
    rng = np.random.default_rng(1)
    X = pd.DataFrame(rng.normal(size=(400, 4)), columns=["a", "b", "c", "leak"])
    y = (X["a"] - 0.7 * X["b"] + rng.normal(scale=0.5, size=400) > 0).astype(int)
    frames = {"sound": X.assign(leak=rng.normal(size=400)),
              "leaky": X.assign(leak=y + rng.normal(scale=0.01, size=400))}  # fmt: skip
    for name, frame in frames.items():
        model = xgb.XGBClassifier(n_estimators=12, max_depth=3, random_state=0).fit(frame, y)
        joblib.dump(model, root / f"{name}.joblib")
        frame.assign(y=y).to_csv(root / f"{name}.csv", index=False)
    return root


def write_config(folder: Path, models: Path, rules: str = RULES) -> Path:
    jobs = "".join(
        f"  - {{name: {n}, model: {models / n}.joblib, data: {models / n}.csv}}\n"
        for n in ("sound", "leaky")
    )
    path = folder / "audit.yaml"
    path.write_text(
        "schema_version: 1\n"
        f"output: {{folder: {folder / 'out'}, formats: [json, csv], top_k: 2}}\n"
        "defaults:\n  data: {target: y, max_rows: 300, seed: 2}\n"
        "  methods: [treeshap, xgboost.gain]\n"
        f"jobs:\n{jobs}audit:\n  rules:\n{rules}"
    )
    return path


def audit(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["audit", *args, "-q"], env={"NO_COLOR": "1"})
    return result.exit_code, result.output


def read(out: Path) -> dict:
    return json.loads((out / "audit.json").read_text(encoding="utf-8"))


def visible(out: Path) -> set[str]:
    return {p.name for p in out.iterdir()}


def test_parallel_audit_equals_serial(models: Path, tmp_path: Path) -> None:
    config = write_config(tmp_path, models)
    serial, parallel = tmp_path / "serial", tmp_path / "parallel"
    code1, text1 = audit(str(config), "--out", str(serial), "--jobs", "1")
    code2, text2 = audit(str(config), "--out", str(parallel), "--jobs", "2")
    assert code1 == code2 == 1, text1 + text2  # the leaky model fails forbidden_features
    a, b = read(serial), read(parallel)
    for key in ("status", "exit_code", "summary", "rules", "jobs"):
        assert a[key] == b[key], key
    assert [j["name"] for j in b["jobs"]] == ["sound", "leaky"]  # config order, not finish order
    statuses = {j["name"]: {r["rule"]: r["status"] for r in j["results"]} for j in b["jobs"]}
    assert statuses["leaky"]["forbidden_features"] == "FAIL"
    assert statuses["sound"] == dict.fromkeys(statuses["sound"], "PASS")
    for job in ("sound", "leaky"):  # the probes ran in the workers, on the same rows
        assert (serial / job / "importances.csv").read_bytes() == (
            parallel / job / "importances.csv"
        ).read_bytes()
        report = json.loads((parallel / job / "report.json").read_text(encoding="utf-8"))
        entry = next(j for j in b["jobs"] if j["name"] == job)
        assert report["audit"]["results"] == entry["results"]
        assert entry["report"] == f"{job}/report.json"
        assert entry["model_sha256"] == report["provenance"]["model_sha256"]
        assert {"report.json", "importances.csv", "agreement.csv", FINGERPRINT_FILE} == visible(
            parallel / job
        )
    assert visible(parallel) == {"sound", "leaky", "audit.json", "audit.md", "audit.junit.xml"}


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*")
            if p.is_file()}  # fmt: skip


def test_a_job_that_cannot_write_keeps_its_earlier_folder_and_leaves_no_partial(
    models: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(tmp_path, models)
    out = tmp_path / "out"
    assert audit(str(config))[0] == 1
    earlier = snapshot(out / "leaky")  # a complete folder from the first audit
    assert {"report.json", FINGERPRINT_FILE} <= set(earlier)

    real = batch.write_files

    def disk_full_for_leaky(files, what="the reports", shown=None):
        # the leaky job's reports are already in its partial folder; its record is written last
        if any(p.name == FINGERPRINT_FILE and p.parent.name.startswith(".leaky") for p in files):
            raise output_error(OSError(errno.ENOSPC, "No space left"), what, out, shown)
        return real(files, what, shown)

    monkeypatch.setattr(batch, "write_files", disk_full_for_leaky)
    code, text = audit(str(config))
    assert code == 2, text  # every rule of the job that could not finish is ERROR
    leaky = next(j for j in read(out)["jobs"] if j["name"] == "leaky")
    assert "the job could not run" in leaky["error"]
    assert "no space left on device" in leaky["error"]
    assert {r["status"] for r in leaky["results"]} == {"ERROR"} and leaky["report"] is None
    assert snapshot(out / "leaky") == earlier  # the earlier folder, exactly as it was
    assert not [p for p in out.iterdir() if PARTIAL_MARK in p.name]  # the partial one is gone
    sound = json.loads((out / "sound" / FINGERPRINT_FILE).read_text(encoding="utf-8"))
    assert sound["run_id"] != json.loads(earlier[FINGERPRINT_FILE])["run_id"]  # rewritten


def test_a_job_that_cannot_run_removes_its_stale_folder(models: Path, tmp_path: Path) -> None:
    for name in ("sound", "leaky"):
        for suffix in (".joblib", ".csv"):
            (tmp_path / f"{name}{suffix}").write_bytes((models / f"{name}{suffix}").read_bytes())
    config = write_config(tmp_path, tmp_path)
    out = tmp_path / "out"
    assert audit(str(config))[0] == 1 and (out / "leaky" / "report.json").is_file()
    (tmp_path / "leaky.joblib").write_bytes(b"not a model")
    code, text = audit(str(config))
    assert code == 2, text
    leaky = next(j for j in read(out)["jobs"] if j["name"] == "leaky")
    assert leaky["error"].startswith("the job could not run: ")
    assert not (out / "leaky").exists()  # no old report left to be read as this run's answer
    assert not [p for p in out.iterdir() if PARTIAL_MARK in p.name]
    assert (out / "sound" / "report.json").is_file()


def test_resume_reuses_unchanged_jobs_and_reruns_changed_rules(
    models: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(tmp_path, models)
    out = tmp_path / "out"
    assert audit(str(config), "--resume")[0] == 1
    first = read(out)
    ran: list[str] = []
    real = batch.explain_request
    monkeypatch.setattr(
        batch, "explain_request", lambda request, **kw: ran.append(request.model_path) or
        real(request, **kw),
    )  # fmt: skip
    assert audit(str(config), "--resume")[0] == 1
    assert ran == []  # nothing explained again, nothing reloaded
    again = read(out)
    assert again["jobs"] == first["jobs"] and again["summary"] == first["summary"]
    # a changed rule changes the verdicts it could give: every job reruns
    stricter = RULES.replace("min_spearman: 0.5", "min_spearman: 0.6")
    write_config(tmp_path, models, stricter)
    assert audit(str(config), "--resume")[0] == 1
    assert len(ran) == 2


def test_jobs_must_be_at_least_one(models: Path, tmp_path: Path) -> None:
    code, text = audit(str(write_config(tmp_path, models)), "--jobs", "0")
    assert code == 2 and "error[usage]: --jobs must be at least 1" in text
    assert not (tmp_path / "out").exists()
