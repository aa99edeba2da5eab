"""``xai diff A B`` through the real entry point, the diff document, and the JUnit writer's
escaping."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from junitparser import JUnitXml

from tests.test_audit_cli import xai_cli
from xai_cli.audit import junit
from xai_cli.audit.diff import diff_document
from xai_cli.report import Report
from xai_cli.run.engine import ExplainRequest, explain


@pytest.fixture(scope="module")
def reports(audit_models, tmp_path_factory) -> dict[str, Path]:
    """report.json of the sample model and of the model retrained without ``relationship``."""
    out = tmp_path_factory.mktemp("diff_reports")
    m = audit_models
    requests = {
        "main": ExplainRequest(
            str(m.clean), str(m.holdout), target="income", methods=("treeshap", "xgboost.gain")
        ),
        "pr": ExplainRequest(
            str(m.no_relationship),
            str(m.holdout),
            target="income",
            methods=("treeshap", "xgboost.gain"),
            drop=("relationship",),
        ),
    }
    paths = {}
    for name, request in requests.items():
        paths[name] = out / name / "report.json"
        paths[name].parent.mkdir()
        paths[name].write_text(Report.from_result(explain(request)).model_dump_json(by_alias=True))
    return paths


def test_a_report_compared_with_itself_agrees_perfectly(reports, tmp_path: Path) -> None:
    run = xai_cli(
        "diff",
        str(reports["main"]),
        str(reports["main"]),
        "--min-spearman",
        "0.99",
        "--min-topk-jaccard",
        "1",
        "--out",
        str(tmp_path),
        "--output-format",
        "json",
    )
    assert run.code == 0, run.stderr
    doc = json.loads(run.stdout)
    assert doc == json.loads((tmp_path / "diff.json").read_text())
    assert doc["status"] == "PASS" and len(doc["results"]) == 2
    for r in doc["results"]:
        d = r["details"]
        assert d["spearman"] == 1.0 and d["kendall"] == 1.0 and d["topk_jaccard"] == 1.0
        assert d["entering"] == d["leaving"] == [] and {c["change"] for c in d["rank_changes"]} == {
            0
        }
    xml = JUnitXml.fromfile(str(tmp_path / "diff.junit.xml"))
    assert (xml.tests, xml.failures, xml.errors) == (2, 0, 0)
    assert "## xai diff: ✅ PASS" in (tmp_path / "diff.md").read_text()


def test_removing_the_top_feature_is_detected(reports, tmp_path: Path) -> None:
    args = ["diff", str(reports["main"]), str(reports["pr"]), "--out", str(tmp_path)]
    report_only = xai_cli(*args, "--output-format", "markdown")
    assert report_only.code == 0, report_only.stderr  # no thresholds: it only reports
    assert "relationship" in report_only.stdout
    run = xai_cli(*args, "--min-topk-jaccard", "0.8", "--methods", "treeshap")
    assert run.code == 1, run.stderr + run.stdout
    doc = json.loads((tmp_path / "diff.json").read_text())
    (result,) = doc["results"]
    assert result["status"] == "FAIL"
    assert "relationship" in result["details"]["leaving"]
    assert result["details"]["features_removed"] == ["relationship"]
    change = next(c for c in result["details"]["rank_changes"] if c["feature"] == "relationship")
    assert change["rank_base"] == 1 and change["rank_new"] is None
    xml = JUnitXml.fromfile(str(tmp_path / "diff.junit.xml"))
    assert (xml.tests, xml.failures, xml.errors) == (1, 1, 0)
    assert xai_cli(*args, "--min-topk-jaccard", "0.8", "--exit-zero").code == 0


def test_diff_errors_exit_2(reports, tmp_path: Path) -> None:
    missing = xai_cli("diff", str(reports["main"]), str(tmp_path / "nope.json"))
    assert missing.code == 2 and "error[missing-file]" in missing.stderr
    bad = tmp_path / "bad.json"
    bad.write_text('{"not": "a report"}')
    run = xai_cli("diff", str(reports["main"]), str(bad))
    assert run.code == 2 and "is not an xai report.json" in run.stderr
    run = xai_cli("diff", str(reports["main"]), str(reports["pr"]), "--methods", "permutation")
    assert run.code == 2 and "no 'permutation' results" in run.stdout


def test_diff_document_ranks_over_common_features(reports) -> None:
    main, pr = Report.read(reports["main"]), Report.read(reports["pr"])
    doc = diff_document(main, pr, base_path="a", new_path="b", top_k=3)
    entry = next(r["details"] for r in doc["results"] if r["rule"] == "treeshap")
    assert entry["common_features"] == len(main.features) - 1
    assert len(entry["top_base"]) == len(entry["top_new"]) == 3


def test_junit_escapes_markup_and_control_characters(tmp_path: Path) -> None:
    nasty = 'a <b> & "c" \x1b[31m ]]> end'
    suites = [junit.Suite("s<1>", (junit.Case(nasty, "FAIL", nasty), junit.Case("ok", "PASS", "")))]
    path = tmp_path / "j.xml"
    path.write_text(junit.render(suites))
    xml = JUnitXml.fromfile(str(path))
    case = next(c for s in xml for c in s if not c.is_passed)
    assert case.name == nasty.replace("\x1b", "\ufffd")
    assert case.result[0].message == nasty.replace("\x1b", "\ufffd")
    assert (xml.tests, xml.failures) == (2, 1)
