"""Why this row? Choosing rows (positions, ids, queries), the per-row comparison of the local
methods, model metrics and categorical features drawn as categories.

One tiny XGBoost model with a categorical text feature and an id column, trained once per module
(under a second); the CLI runs in process.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import xai_cli as xai
from xai_cli.report import Report

JOBS = ["clerk", "exec", "<i>sales</i>"]


@pytest.fixture(scope="module")
def applicants(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Applicants with an id, two numbers, a categorical job (one label is HTML) and income."""
    import xgboost as xgb

    rng = np.random.default_rng(0)
    n = 300
    frame = pd.DataFrame({
        "applicant_id": [f"A{i:04d}" for i in range(n)],
        "age": rng.integers(18, 80, n),
        "hours": rng.normal(40, 10, n).round(1),
        "job": rng.choice(JOBS, n),
    })  # fmt: skip
    score = (frame.age - 50) / 10 + (frame.job == "exec") * 1.5 + rng.normal(0, 0.5, n)
    frame["income"] = np.where(score > 0, ">50K", "<=50K")
    X = frame[["age", "hours", "job"]].astype({"job": pd.CategoricalDtype(sorted(JOBS))})
    model = xgb.XGBClassifier(
        n_estimators=20, max_depth=3, enable_categorical=True, tree_method="hist", n_jobs=1
    )
    model.fit(X, (frame.income == ">50K").astype(int))
    folder = tmp_path_factory.mktemp("applicants")
    model.get_booster().save_model(folder / "model.json")
    frame.to_csv(folder / "data.csv", index=False)
    return {"frame": frame, "X": X, "model": model, "folder": folder}


def _contribs(model: Any, X: pd.DataFrame) -> np.ndarray:
    import xgboost as xgb

    return model.get_booster().predict(
        xgb.DMatrix(X, enable_categorical=True), pred_contribs=True
    )


def test_chosen_rows_equal_xgboosts_own_contributions(applicants: dict[str, Any]) -> None:
    frame, X, model = applicants["frame"], applicants["X"], applicants["model"]
    result = xai.explain(
        model, frame.drop(columns="income"), (frame.income == ">50K").astype(int),
        methods="treeshap", rows=["A0017", "A0142"], id_column="applicant_id", max_rows=20,
    )  # fmt: skip
    section = result.report.rows
    assert section is not None and [r.id for r in section.rows] == ["A0017", "A0142"]
    assert "applicant_id" not in result.report.features
    own = _contribs(model, X.iloc[[17, 142]])
    for n, row in enumerate(section.rows):
        (method,) = row.methods
        values = np.array([v[0] for v in method.values])
        order = [X.columns.get_loc(f) for f in section.features]
        np.testing.assert_allclose(values, own[n, order], atol=1e-5)
        assert method.base_values[0] == pytest.approx(own[n, -1], abs=1e-5)
        assert row.prediction[0] == pytest.approx(own[n].sum(), abs=1e-4)
        # a check that can fail: the other row's contributions are not these
        assert not np.allclose(values, own[1 - n, order], atol=1e-3)
    # both chosen rows are explained although the sample is 20 rows
    assert result.report.provenance.rows_used <= 22
    job = section.features.index("job")
    assert section.rows[0].values[job] == frame.job[17]  # the label, not a code
    table = result.rows
    assert set(table.row) == {"A0017", "A0142"} and len(table) == 2 * 3


def test_cli_rows_by_id_and_query(xai: Any, applicants: dict[str, Any], tmp_path: Path) -> None:
    folder, frame = applicants["folder"], applicants["frame"]
    out = tmp_path / "out"
    run = xai(
        "explain", str(folder / "model.json"), str(folder / "data.csv"), "-t", "income",
        "--id-column", "applicant_id", "--rows", "A0005", "--where", "age > 77 and job == 'exec'",
        "-m", "treeshap,treeshap.interventional", "--max-rows", "30", "--no-estimate",
        "-o", str(out),
    )  # fmt: skip
    assert run.code == 0, run.stderr
    report = Report.read(out / "report.json")
    assert report.rows is not None
    matched = frame[(frame.age > 77) & (frame.job == "exec")].applicant_id.tolist()
    assert [r.id for r in report.rows.rows] == ["A0005", *[m for m in matched if m != "A0005"]]
    assert "applicant_id" not in report.features
    assert all(len(r.methods) == 2 for r in report.rows.rows)
    assert all(len(r.agreement) == 1 for r in report.rows.rows)
    # the terminal shows the compact waterfall of each row, every method side by side
    assert "Row A0005: predicted" in run.stdout and "treeshap.interventional" in run.stdout
    with (out / "local.csv").open() as handle:
        lines = list(csv.DictReader(handle))
    assert len(lines) == len(report.rows.rows) * 2 * 3  # rows x methods x features (1 output)
    first = next(x for x in lines if x["row"] == "A0005" and x["feature"] == "job")
    assert first["feature_value"] == frame.job[5]
    for row in report.rows.rows:
        for m in row.methods:  # each method's values add up to its output
            total = m.base_values[0] + sum(v[0] for v in m.values)
            assert total == pytest.approx(m.total[0], abs=1e-4)
    md = (out / "report.md").read_text()
    assert "Why these rows?" in md and "Row A0005" in md


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--id-column", "applicant_id", "--rows", "A9999"], "error[rows]: --rows names ids not"),
        (["--rows", "5000"], "error[rows]: --rows position 5000 is past"),
        (["--rows", "first"], "error[usage]: --rows takes 0-based row positions"),
        (["--where", "age >"], "error[rows]: invalid --where expression"),
        (["--where", "age > 1000"], "error[rows]: --where matched no rows"),
        (["--where", "@pd.io"], "error[rows]: invalid --where expression"),
        (["--where", "age.to_csv('{tmp}/written.csv') == 1"], "error[rows]: invalid --where"),
        (["--where", "age + 1"], "error[rows]: --where expression is not a condition"),
        (["--id-column", "nope"], "error[rows]: --id-column 'nope' is not a column"),
    ],
)
def test_bad_selections_are_one_line_errors(
    xai: Any, applicants: dict[str, Any], tmp_path: Path, args: list[str], message: str
) -> None:
    folder = applicants["folder"]
    run = xai(
        "explain", str(folder / "model.json"), str(folder / "data.csv"), "-t", "income",
        "-m", "treeshap", "--no-estimate", "-o", str(tmp_path),
        *(a.replace("{tmp}", str(tmp_path)) for a in args),
    )  # fmt: skip
    assert not (tmp_path / "written.csv").exists()  # pandas would have run the call
    assert run.code == 2
    assert run.stderr.splitlines()[0].startswith(message), run.stderr
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "report.json").exists()


def test_metrics_equal_sklearns(applicants: dict[str, Any]) -> None:
    from sklearn import metrics
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    X = applicants["X"][["age", "hours"]]
    y = (applicants["frame"].income == ">50K").astype(int).to_numpy()
    clf = RandomForestClassifier(n_estimators=10, max_depth=3, random_state=0).fit(X, y)
    m = xai.explain(clf, X, y, methods="treeshap", max_rows=None).report.metrics
    p = clf.predict_proba(X)
    assert m is not None and m.task == "binary" and m.rows == len(y)
    assert m.accuracy == pytest.approx(metrics.accuracy_score(y, p.argmax(1)), rel=1e-5)
    assert m.roc_auc == pytest.approx(metrics.roc_auc_score(y, p[:, 1]), rel=1e-5)
    assert m.log_loss == pytest.approx(metrics.log_loss(y, p), rel=1e-5)
    assert m.base_rate == pytest.approx(y.mean(), rel=1e-6)

    three = np.digitize(X.age, [40, 60])  # multiclass: per-class one-vs-rest AUC
    clf3 = RandomForestClassifier(n_estimators=10, max_depth=3, random_state=0).fit(X, three)
    m3 = xai.explain(clf3, X, three, methods="treeshap", max_rows=None).report.metrics
    p3 = clf3.predict_proba(X)
    assert m3 is not None and len(m3.per_class) == 3
    for c, entry in enumerate(m3.per_class):
        assert entry.roc_auc == pytest.approx(metrics.roc_auc_score(three == c, p3[:, c]), rel=1e-5)
    assert m3.log_loss == pytest.approx(metrics.log_loss(three, p3), rel=1e-5)

    target = X.age * 2.0 + X.hours
    reg = RandomForestRegressor(n_estimators=10, max_depth=4, random_state=0).fit(X, target)
    mr = xai.explain(reg, X, target, methods="treeshap", max_rows=None).report.metrics
    pred = reg.predict(X)
    assert mr is not None and mr.accuracy is None
    assert mr.r2 == pytest.approx(metrics.r2_score(target, pred), rel=1e-5)
    assert mr.rmse == pytest.approx(metrics.root_mean_squared_error(target, pred), rel=1e-5)
    assert mr.mae == pytest.approx(metrics.mean_absolute_error(target, pred), rel=1e-5)
    assert mr.base_rate == pytest.approx(target.mean(), rel=1e-6)
    assert xai.explain(reg, X, methods="treeshap").report.metrics is None  # no target


def test_config_rows_reach_the_request(applicants: dict[str, Any], tmp_path: Path) -> None:
    from xai_cli.config.load import load_plan

    folder = applicants["folder"]
    config = tmp_path / "xai.yaml"
    config.write_text(json.dumps({
        "schema_version": 1, "output": {"folder": "out"},
        "jobs": [{"model": str(folder / "model.json"), "data": {
            "path": str(folder / "data.csv"), "target": "income", "id_column": "applicant_id",
            "rows": ["A0001", "A0002"], "where": "age > 70"}}],
    }))  # fmt: skip
    (job,) = load_plan(config).jobs
    assert job.request.rows == ("A0001", "A0002") and job.request.where == "age > 70"
    assert job.request.id_column == "applicant_id"
    assert job.settings()["rows"] == ["A0001", "A0002"]


@pytest.mark.browser
def test_categories_and_rows_in_the_browser(
    browser: Any, applicants: dict[str, Any], tmp_path: Path
) -> None:
    folder = applicants["folder"]
    result = xai.explain_files(
        folder / "model.json", folder / "data.csv", target="income",
        methods="treeshap,treeshap.interventional", id_column="applicant_id",
        rows=["A0003"], max_rows=60,
    )  # fmt: skip
    (path,) = result.save(tmp_path, "html")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    seen: list[str] = []
    errors: list[str] = []
    page.on("request", lambda r: seen.append(r.url))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(path.resolve().as_uri(), wait_until="load")
    assert errors == [] and all(u == path.resolve().as_uri() for u in seen), (errors, seen)
    legend = page.locator(".cat-legend[data-feature='job']").inner_text()
    assert all(label in legend for label in JOBS)  # labels, the HTML one as text
    assert page.locator("#beeswarm circle.c0").count() > 0
    assert page.locator("#beeswarm circle[class^='q']").count() > 0  # numbers keep the scale
    assert page.locator("#rows .waterfall").count() == 2  # one per method
    assert page.locator("#rows .waterfall rect").count() >= 6
    assert "Row A0003" in page.inner_text("#rows")
    assert page.locator("#metrics-table").count() == 1
    assert page.locator("i", has_text="sales").count() == 0  # the <i> label stayed text
    page.close()


def test_row_strings_are_escaped_in_every_format(applicants: dict[str, Any]) -> None:
    from xai_cli.reports import csv as csv_report
    from xai_cli.reports import html as html_report
    from xai_cli.reports import markdown as markdown_report

    frame = applicants["frame"]
    report = xai.explain(
        applicants["model"], frame.drop(columns="income"), frame.income, methods="treeshap",
        rows=["A0003"], id_column="applicant_id", max_rows=20,
    ).report  # fmt: skip
    assert report.rows is not None
    hostile = "<script>alert(1)</script>"
    row = report.rows.rows[0].model_copy(
        update={"id": "=cmd()", "values": tuple(hostile for _ in report.rows.features)}
    )
    doc = report.model_copy(
        update={"rows": report.rows.model_copy(update={"rows": (row,), "selection": hostile})}
    )
    page = html_report.render(doc)
    assert hostile not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert hostile not in markdown_report.render(doc)
    local = csv_report.render_local(doc)
    assert local is not None and "\n'=cmd()," in local  # a formula cell stays text


def test_a_chosen_row_without_a_target_is_refused(applicants: dict[str, Any]) -> None:
    from xai_cli.load.select import RowSelectionError

    frame = applicants["frame"]
    y = frame.income.where(frame.index != 5)  # row A0005 has no label
    X = frame.drop(columns="income")
    with pytest.raises(RowSelectionError, match="no value in the target"):
        xai.explain(applicants["model"], X, y, methods="treeshap", rows=["A0005"],
                    id_column="applicant_id")  # fmt: skip
    other = xai.explain(applicants["model"], X, y, methods="treeshap", rows=["A0006"],
                        id_column="applicant_id", max_rows=10)  # fmt: skip
    assert other.report.rows is not None and other.report.rows.rows[0].id == "A0006"


def test_batch_index_shows_each_jobs_metrics(applicants: dict[str, Any]) -> None:
    import csv as csv_module
    import io
    from types import SimpleNamespace

    from xai_cli.reports.batch import METRIC_COLUMNS, render_index, render_summary_csv
    from xai_cli.run.batch import _summary

    frame = applicants["frame"]
    report = xai.explain(
        applicants["model"], frame.drop(columns=["income", "applicant_id"]), frame.income,
        methods="treeshap", max_rows=50,
    ).report  # fmt: skip
    assert report.metrics is not None and report.metrics.accuracy is not None
    job = SimpleNamespace(name="j", model_shown="m.json", data_shown="d.csv")
    outcome = _summary(job, report, 1.0, ("report.html",))  # type: ignore[arg-type]
    summary = {
        "schema_version": "1.0", "tool": {"name": "xai-cli", "version": "0"}, "config": "c.yaml",
        "formats": ["html"], "counts": {"ok": 1, "skipped": 0, "error": 0},
        "jobs": [outcome.to_dict()],
    }  # fmt: skip
    (line,) = csv_module.DictReader(io.StringIO(render_summary_csv(summary)))
    assert float(line["accuracy"]) == report.metrics.accuracy
    assert float(line["roc_auc"]) == report.metrics.roc_auc
    assert line["r2"] == "" and set(METRIC_COLUMNS) <= set(line)
    assert f"accuracy {report.metrics.accuracy:.3f}" in render_index(summary)
