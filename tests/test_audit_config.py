"""The ``audit:`` config section: rule names, several jobs in one audit, the JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from junitparser import JUnitXml

from xai_cli.audit.runner import load_audit, run_audit, write_outputs
from xai_cli.config.schema import ConfigError, json_schema


def _write(tmp_path: Path, audit_models, rules: str) -> Path:
    path = tmp_path / "audit.yaml"
    path.write_text(
        "schema_version: 1\n"
        f"output: {{folder: out, formats: [json]}}\n"
        "defaults:\n  data: {target: income, max_rows: 300}\n  methods: [treeshap, xgboost.gain]\n"
        "jobs:\n"
        f"  - {{name: clean, model: {audit_models.clean}, data: {audit_models.holdout}}}\n"
        f"  - name: leaky\n    model: {audit_models.leaky}\n"
        f"    data: {audit_models.leaky_holdout}\n"
        f"audit:\n  rules:\n{rules}"
    )
    return path


def test_several_jobs_each_get_every_rule(audit_models, tmp_path: Path) -> None:
    rules = (
        "    - {type: additivity, max_error: 0.001}\n"
        "    - {type: forbidden_features, features: ['income*'], not_in_top_k_of: [treeshap]}\n"
        "    - {type: forbidden_features, features: [gender], max_share: 0.5}\n"
    )
    plan = load_audit(_write(tmp_path, audit_models, rules))
    assert [r.name for r in plan.rules] == [
        "additivity",
        "forbidden_features",
        "forbidden_features-2",
    ]
    doc, jobs = run_audit(plan)
    by_job = {j["name"]: {r["rule"]: r["status"] for r in j["results"]} for j in doc["jobs"]}
    assert by_job["clean"] == {
        "additivity": "PASS",
        "forbidden_features": "PASS",
        "forbidden_features-2": "PASS",
    }
    assert by_job["leaky"]["forbidden_features"] == "FAIL"
    assert doc["status"] == "FAIL" and doc["exit_code"] == 1
    assert doc["summary"] == {"PASS": 5, "WARN": 0, "FAIL": 1, "ERROR": 0, "SKIP": 0}
    paths = write_outputs(doc, jobs, plan.plan.out_dir)
    assert {p.relative_to(plan.plan.out_dir).as_posix() for p in paths} == {
        "clean/report.json",
        "leaky/report.json",
        "audit.json",
        "audit.md",
        "audit.junit.xml",
    }
    xml = JUnitXml.fromfile(str(plan.plan.out_dir / "audit.junit.xml"))
    assert [s.name for s in xml] == ["xai-audit.clean", "xai-audit.leaky"]
    assert (xml.tests, xml.failures) == (6, 1)
    saved = json.loads((plan.plan.out_dir / "leaky" / "report.json").read_text())
    assert saved["audit"]["status"] == "FAIL"


def test_duplicate_rule_names_are_config_errors(audit_models, tmp_path: Path) -> None:
    rules = (
        "    - {name: same, type: additivity, max_error: 0.001}\n"
        "    - {name: same, type: additivity, max_error: 0.01}\n"
    )
    path = _write(tmp_path, audit_models, rules)
    with pytest.raises(ConfigError) as info:
        load_audit(path)
    assert f"{path}:14 audit.rules[1].name: duplicate rule name 'same'" in str(info.value)


def test_json_schema_describes_the_audit_rules() -> None:
    schema = json.dumps(json_schema())
    for name in ("AgreementRule", "NoiseFloorRule", "StabilityRule", "DriftRule", "consensus"):
        assert name in schema
