"""``xai audit`` end to end through the CLI's entry point: exit codes 0, 1 and 2,
``--exit-zero``, every output file, the JUnit XML read back with junitparser, the GitHub step
summary, and ``--baseline`` drift. The runs are in process; one failing audit's exit code 1 is
checked through the installed ``xai`` console script, as a CI step sees it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from junitparser import Error, Failure, JUnitXml, Skipped

from tests.conftest import ROOT, SAMPLE_DATA, Run, run_xai, run_xai_process

CONFIG = ROOT / "configs" / "audit.yaml"
AUDIT_FILES = {"audit.json", "audit.md", "audit.junit.xml"}


def xai_cli(*args: str, env: dict[str, str] | None = None) -> Run:
    """``xai ARGS`` in process, as a CI step would run it (no step summary unless ``env`` sets
    ``GITHUB_STEP_SUMMARY``)."""
    return run_xai(*args, env={"GITHUB_STEP_SUMMARY": None, **(env or {})})


def xai_script(*args: str, env: dict[str, str] | None = None) -> Run:
    """Like :func:`xai_cli`, through the real ``xai`` console script in its own process."""
    return run_xai_process(*args, env={"GITHUB_STEP_SUMMARY": None, **(env or {})}, script=True)


def check_junit(out: Path, audit: dict) -> JUnitXml:
    """The JUnit file parses, and its counts match the rule statuses in audit.json (plus one case
    per scorecard check of a ``validation`` rule)."""
    xml = JUnitXml.fromfile(str(out / "audit.junit.xml"))
    results = [r for job in audit["jobs"] for r in job["results"]]
    checks = [
        c for r in results if r["type"] == "validation" for c in r["details"].get("checks", [])
    ]
    statuses = [r["status"] for r in results] + [c["status"] for c in checks]
    assert xml.tests == len(results) + len(checks)
    assert xml.failures == statuses.count("FAIL")
    assert xml.errors == statuses.count("ERROR")
    assert xml.skipped == statuses.count("SKIP")
    cases = {case.name: case for suite in xml for case in suite}
    assert len(cases) == len(results) + len(checks)
    kinds = {"FAIL": Failure, "ERROR": Error, "SKIP": Skipped}
    for r in results:
        case = cases[f"{r['rule']} ({r['type']})"]
        if r["status"] in kinds:
            assert isinstance(case.result[0], kinds[r["status"]])
            assert case.result[0].message == r["message"]
        else:
            assert case.is_passed
    return xml


@pytest.fixture(scope="module")
def clean_run(audit_models, tmp_path_factory) -> tuple[Run, Path, Path]:
    """The sample config on the sample model, with a pre-filled GITHUB_STEP_SUMMARY file."""
    out = tmp_path_factory.mktemp("clean_audit")
    summary = out.parent / f"{out.name}_summary.md"
    summary.write_text("# earlier step\n")
    env = {"XAI_MODEL": str(audit_models.clean), "GITHUB_STEP_SUMMARY": str(summary)}
    return xai_cli("audit", str(CONFIG), "--out", str(out), env=env), out, summary


def test_sample_model_passes_the_sample_config(clean_run) -> None:
    run, out, summary = clean_run
    assert run.code == 0, run.stderr + run.stdout
    assert {p.name for p in out.iterdir()} >= AUDIT_FILES
    job = out / "adult_xgboost"
    assert {"report.json", "report.html", "report.md"} <= {p.name for p in job.iterdir()}
    audit = json.loads((out / "audit.json").read_text())
    assert audit["status"] == "PASS" and audit["exit_code"] == 0
    statuses = {r["rule"]: r["status"] for r in audit["jobs"][0]["results"]}
    assert statuses.pop("drift") == "SKIP"
    assert set(statuses.values()) == {"PASS"}
    check_junit(out, audit)
    report = json.loads((job / "report.json").read_text())
    assert report["audit"]["results"] == audit["jobs"][0]["results"]
    html = (job / "report.html").read_text()
    assert 'id="audit"' in html and "margin over a random probe" in html
    assert "xai audit: PASS" in run.stdout and "shap-vs-gain" in run.stdout
    text = summary.read_text()
    assert text.startswith("# earlier step\n") and "## xai audit: ✅ PASS" in text
    assert (out / "audit.md").read_text() in text


def test_leaky_model_fails_the_sample_config(audit_models, tmp_path: Path) -> None:
    env = {"XAI_MODEL": str(audit_models.leaky), "XAI_DATA": str(audit_models.leaky_holdout)}
    run = xai_cli("audit", str(CONFIG), "--out", str(tmp_path), "-q", env=env)
    assert run.code == 1, run.stderr + run.stdout
    audit = json.loads((tmp_path / "audit.json").read_text())
    results = {r["rule"]: r for r in audit["jobs"][0]["results"]}
    assert results["protected-and-leaks"]["status"] == "FAIL"
    assert "income_verified" in results["protected-and-leaks"]["message"]
    assert "ERROR" not in {r["status"] for r in results.values()}
    xml = check_junit(tmp_path, audit)
    assert xml.failures >= 1
    md = (tmp_path / "audit.md").read_text()
    assert "## xai audit: ❌ FAIL" in md and "income\\_verified" in md  # escaped: inert
    # --exit-zero reports the same findings without failing the step
    again = xai_cli(
        "audit", str(CONFIG), "--out", str(tmp_path / "z"), "-q", "--exit-zero", env=env
    )
    assert again.code == 0, again.stderr
    assert json.loads((tmp_path / "z" / "audit.json").read_text())["status"] == "FAIL"


def _config(
    tmp_path: Path,
    model: Path,
    data: Path,
    rules: str,
    job: str = "",
    name: str = "j",
    methods: str = "[treeshap, xgboost.gain]",
) -> Path:
    path = tmp_path / "audit.yaml"
    path.write_text(
        "schema_version: 1\n"
        f"output: {{folder: {tmp_path / 'out'}, formats: [json, html], top_k: 5}}\n"
        "jobs:\n"
        f"  - name: {name}\n    model: {model}\n"
        f"    data: {{path: {data}, max_rows: 500{job}}}\n"
        f"    methods: {methods}\n"
        f"audit:\n  rules:\n{rules}"
    )
    return path


def test_a_rule_that_cannot_be_evaluated_exits_2_even_with_exit_zero(
    audit_models, tmp_path: Path
) -> None:
    rules = (
        "    - {type: additivity, max_error: 0.001}\n"
        "    - {type: agreement, methods: [treeshap, xgboost.gain], min_spearman: 0.99}\n"
    )
    # no target: the additivity and agreement rules still run; corrupt the model to make a
    # rule ERROR instead: a model file that does not load makes every rule ERROR (exit 2)
    broken = tmp_path / "broken.joblib"
    broken.write_bytes(b"not a model")
    config = _config(tmp_path, broken, audit_models.holdout, rules, ", target: income")
    run = xai_cli("audit", str(config), "--exit-zero")
    assert run.code == 2, run.stderr + run.stdout
    audit = json.loads((tmp_path / "out" / "audit.json").read_text())
    assert {r["status"] for r in audit["jobs"][0]["results"]} == {"ERROR"}
    assert "the job could not run" in audit["jobs"][0]["error"]
    check_junit(tmp_path / "out", audit)
    # the job runs, but a rule names a method that was skipped for want of labels: ERROR
    rules = "    - {type: stability, methods: [permutation], min_spearman: 0.5, resamples: 5}\n"
    rules += "    - {type: additivity, max_error: 0.001}\n"
    config = _config(tmp_path, audit_models.clean, audit_models.holdout, rules, methods="[auto]")
    config.write_text(
        config.read_text().replace(", max_rows: 500", ", max_rows: 500, drop: [income]")
    )
    run = xai_cli("audit", str(config), "--exit-zero", "-q")
    assert run.code == 2, run.stderr + run.stdout
    audit = json.loads((tmp_path / "out" / "audit.json").read_text())
    stability, additivity = audit["jobs"][0]["results"]
    assert stability["status"] == "ERROR" and "needs labels" in stability["message"]
    assert additivity["status"] == "PASS"
    assert check_junit(tmp_path / "out", audit).errors == 1


@pytest.mark.process  # the exit status 1 through the installed console script, as CI sees it
def test_a_failing_rule_exits_1_and_a_warn_rule_exits_0(audit_models, tmp_path: Path) -> None:
    strict = "    - {type: agreement, methods: [treeshap, xgboost.gain], min_spearman: 0.99}\n"
    config = _config(tmp_path, audit_models.clean, audit_models.holdout, strict, ", target: income")
    assert xai_script("audit", str(config), "-q").code == 1
    warn = strict.replace("min_spearman: 0.99", "min_spearman: 0.99, severity: warn")
    config = _config(tmp_path, audit_models.clean, audit_models.holdout, warn, ", target: income")
    run = xai_cli("audit", str(config), "-q")
    assert run.code == 0, run.stderr
    audit = json.loads((tmp_path / "out" / "audit.json").read_text())
    assert audit["status"] == "WARN" and audit["summary"]["WARN"] == 1
    xml = check_junit(tmp_path / "out", audit)
    assert xml.failures == 0


def test_config_problems_exit_2_with_file_and_line(audit_models, tmp_path: Path) -> None:
    rules = (
        "    - {type: agreement, methods: [treeshap, xgboost.gian], min_spearman: 0.7}\n"
        "    - type: noise_floor\n      repeats: 3\n"
        "    - {type: forbidden_features, features: [gender]}\n"
    )
    config = _config(tmp_path, audit_models.clean, audit_models.holdout, rules)
    run = xai_cli("audit", str(config))
    assert run.code == 2
    assert "error[config]: 3 problems" in run.stderr
    assert f"{config}:10 audit.rules[0].methods[1]: unknown method 'xgboost.gian'" in run.stderr
    assert f"{config}:12 audit.rules[1].repeats: input should be greater than or equal to 5" in (
        run.stderr.replace("expected", "input should be")
    )
    assert "audit.rules[2]: the rule checks nothing" in run.stderr
    assert not (tmp_path / "out").exists()
    no_audit = tmp_path / "plain.yaml"
    no_audit.write_text(config.read_text().split("audit:")[0])
    run = xai_cli("audit", str(no_audit))
    assert run.code == 2 and "no `audit:` section" in run.stderr


def test_rules_must_name_methods_the_job_runs_and_noise_floor_needs_labels(
    audit_models, tmp_path: Path
) -> None:
    rules = (
        "    - {type: agreement, methods: [treeshap, permutation], min_spearman: 0.7}\n"
        "    - {type: noise_floor}\n"
    )
    run = xai_cli("audit", str(_config(tmp_path, audit_models.clean, audit_models.holdout, rules)))
    assert run.code == 2
    assert "method 'permutation' is not run by job 'j'" in run.stderr
    assert "noise_floor needs labels, but job 'j' has no data.target" in run.stderr


def test_baseline_drift_pass_on_itself_and_fail_without_the_top_feature(
    clean_run, audit_models, tmp_path: Path
) -> None:
    _, clean_out, _ = clean_run
    baseline = clean_out / "adult_xgboost" / "report.json"
    rules = "    - {type: drift, methods: [treeshap], min_spearman: 0.8, min_topk_jaccard: 0.8}\n"
    same = _config(
        tmp_path,
        audit_models.clean,
        SAMPLE_DATA / "adult.csv",
        rules,
        ", target: income, max_rows: 2000",
        name="adult_xgboost",
    )
    same.write_text(same.read_text().replace("max_rows: 500, ", ""))
    run = xai_cli("audit", str(same), "--baseline", str(clean_out), "-q")
    assert run.code == 0, run.stderr + run.stdout
    drift = json.loads((tmp_path / "out" / "audit.json").read_text())["jobs"][0]["results"][0]
    assert drift["status"] == "PASS"
    entry = drift["details"]["methods"][0]
    assert entry["spearman"] == 1.0 and entry["topk_jaccard"] == 1.0
    retrained = _config(
        tmp_path,
        audit_models.no_relationship,
        audit_models.holdout,
        rules,
        ", target: income, drop: [relationship]",
    )
    run = xai_cli("audit", str(retrained), "--baseline", str(baseline), "-q")
    assert run.code == 1, run.stderr + run.stdout
    audit = json.loads((tmp_path / "out" / "audit.json").read_text())
    drift = audit["jobs"][0]["results"][0]
    assert drift["status"] == "FAIL" and "leaving: relationship" in drift["message"]
    assert "relationship" in (tmp_path / "out" / "audit.md").read_text()
    missing = xai_cli("audit", str(retrained), "--baseline", str(tmp_path / "nope.json"))
    assert missing.code == 2 and "baseline report not found" in missing.stderr
