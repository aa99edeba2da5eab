"""The typed report schema: ``report.json`` written by the CLI validates against the JSON Schema
``xai schema report`` publishes, reads back as the same :class:`Report`, keeps its keys, and a
malformed or other-version report is refused with one ``error[data]`` line and exit 2."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import joblib
import jsonschema
import numpy as np
import pandas as pd
import pytest

from tests.conftest import Run, run_xai
from xai_cli import SCHEMA_VERSION
from xai_cli.errors import DataError
from xai_cli.report import Report, report_json_schema

TOP_KEYS = [
    "schema_version", "tool", "provenance", "features", "outputs", "top_k", "methods",
    "importances", "agreement", "consensus", "rank_spread", "additivity", "rank_intervals",
    "local",
]  # fmt: skip
"""report.json's top-level keys, in order, as every earlier 1.0 report has them."""


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A report.json written by ``xai explain`` for a small binary random forest (with one method
    that is skipped, so both shapes of a method entry are present)."""
    from sklearn.ensemble import RandomForestClassifier

    folder = tmp_path_factory.mktemp("schema")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(200, 4)), columns=["a", "b", "c", "d"])
    target = np.where(frame["a"] + 0.5 * frame["b"] > 0, "yes", "no")
    model = RandomForestClassifier(n_estimators=10, max_depth=3, random_state=0)
    joblib.dump(model.fit(frame, target), folder / "model.joblib")
    frame.assign(y=target).to_csv(folder / "data.csv", index=False)
    run = run_xai(
        "explain", str(folder / "model.joblib"), str(folder / "data.csv"), "--target", "y",
        "--format", "json", "--param", "permutation:n_repeats=2", "--no-estimate",
        "--out", str(folder / "out"),
    )  # fmt: skip
    assert run.code == 0, run.stderr
    return folder / "out" / "report.json"


@pytest.fixture(scope="module")
def published() -> dict[str, Any]:
    """The JSON Schema as the CLI prints it."""
    run = run_xai("schema", "report")
    assert run.code == 0, run.stderr
    return json.loads(run.stdout)


def test_cli_report_validates_against_the_published_schema(
    written: Path, published: dict[str, Any]
) -> None:
    assert published == report_json_schema()
    jsonschema.Draft202012Validator.check_schema(published)
    data = json.loads(written.read_text(encoding="utf-8"))
    jsonschema.validate(data, published, cls=jsonschema.Draft202012Validator)
    # the schema is strict enough to catch what a renamed or mistyped key would break
    broken = {**data, "importances": [{**data["importances"][0], "rank": "1"}]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, published, cls=jsonschema.Draft202012Validator)
    renamed = dict(data)
    renamed["importance"] = renamed.pop("importances")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(renamed, published, cls=jsonschema.Draft202012Validator)
    other = {**data, "schema_version": "2.0"}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(other, published, cls=jsonschema.Draft202012Validator)


def test_report_json_keeps_its_keys(written: Path) -> None:
    data = json.loads(written.read_text(encoding="utf-8"))
    # every earlier key in its place; later sections (present only when there is something to
    # say) come after them, the verdict section last
    assert list(data)[: len(TOP_KEYS)] == TOP_KEYS and data["schema_version"] == SCHEMA_VERSION
    assert list(data)[len(TOP_KEYS) :] == ["metrics", "validation"]
    assert list(data["importances"][0]) == [
        "method", "class", "feature", "value", "share", "rank", "spread",
    ]  # fmt: skip
    assert list(data["agreement"][0]) == [
        "method_a", "method_b", "class", "spearman", "kendall", "topk_jaccard",
    ]  # fmt: skip
    ran = next(m for m in data["methods"] if m["method"] == "treeshap")
    assert ran["status"] == "ok" and list(ran)[7:] == [
        "backend", "chosen_by", "library", "library_version", "elapsed_s", "notes", "uses_rows",
        "estimated_s",
    ]  # fmt: skip
    skipped = next(m for m in data["methods"] if m["method"] == "xgboost.gain")
    assert skipped["status"] == "skipped" and "backend" not in skipped  # never attempted
    assert list(skipped) == [
        "method", "status", "reason", "unit", "outputs", "params", "spread_kind",
    ]  # fmt: skip


def test_round_trip_is_equal(written: Path) -> None:
    report = Report.read(written)
    again = Report.model_validate_json(report.model_dump_json(by_alias=True))
    assert again == report
    assert report.importances[0].output == json.loads(written.read_text())["importances"][0][
        "class"
    ]
    # and the JSON renderer writes the file's content back, key for key
    from xai_cli.reports import json as json_report

    assert json.loads(json_report.render(report)) == json.loads(written.read_text())


def test_reports_are_frozen(written: Path) -> None:
    report = Report.read(written)
    with pytest.raises(ValueError):
        report.top_k = 3  # type: ignore[misc]
    audited = report.model_copy(update={"top_k": 3})
    assert audited.top_k == 3 and report.top_k != 3


def _variant(written: Path, tmp_path: Path, name: str, edit: Any) -> Path:
    data = json.loads(written.read_text(encoding="utf-8"))
    edit(data)
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _one_error(run: Run, *fragments: str) -> None:
    assert run.code == 2, (run.stdout, run.stderr)
    lines = run.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("error[")]
    assert len(errors) == 1 and errors[0].startswith("error[data]: "), run.stderr
    assert "Traceback" not in run.stderr
    for fragment in fragments:
        assert fragment in run.stderr, run.stderr


def test_malformed_or_other_version_reports_are_refused(written: Path, tmp_path: Path) -> None:
    missing = _variant(written, tmp_path, "missing", lambda d: d.pop("importances"))
    renamed = _variant(
        written, tmp_path, "renamed", lambda d: d["importances"][0].update({"klass": "all"})
    )
    version = _variant(written, tmp_path, "version", lambda d: d.update(schema_version="0.9"))
    typed = _variant(
        written, tmp_path, "typed", lambda d: d["methods"][0].update(status="maybe")
    )
    _one_error(run_xai("diff", str(written), str(missing)), "missing.json", "importances")
    _one_error(run_xai("diff", str(renamed), str(written)), "importances.0.klass")
    _one_error(run_xai("diff", str(written), str(version)), "schema_version '0.9'", "'1.0'")
    _one_error(run_xai("diff", str(written), str(typed)), "methods.0.status")
    array = tmp_path / "array.json"
    array.write_text("[1, 2]")
    _one_error(run_xai("diff", str(written), str(array)), "not an xai report.json")


def test_read_errors_name_the_file_and_the_problem(written: Path, tmp_path: Path) -> None:
    path = _variant(written, tmp_path, "two", lambda d: (d.pop("top_k"), d.pop("features")))
    with pytest.raises(DataError) as caught:
        Report.read(path)
    error = caught.value
    assert str(path) in error.message and "2 problem(s)" in error.message
    assert error.cause is not None and "top_k: Field required" in error.cause
    assert "features: Field required" in error.cause


def test_xai_schema_still_prints_the_config_schema_and_rejects_other_names() -> None:
    from xai_cli.config.schema import json_schema

    assert json.loads(run_xai("schema").stdout) == json_schema()
    assert json.loads(run_xai("schema", "config").stdout) == json_schema()
    run = run_xai("schema", "reports")
    assert run.code == 2 and "error[usage]" in run.stderr and "config, report" in run.stderr
