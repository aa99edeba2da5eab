"""``index.html`` of ``xai run``: rendered from the summary, escaped, and opened in Chromium, where
every link must resolve to an existing job report."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pytest
import yaml

from tests.conftest import SAMPLE_DATA
from xai_cli.reports.batch import render_index, render_summary_csv

SCRIPT = "<script>alert(1)</script>"


def _summary(jobs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "schema_version": "1.0",
        "tool": {"name": "xai-cli", "version": "0"},
        "config": f"/x/{SCRIPT}.yaml",
        "formats": ["html"],
        "counts": {"ok": 1, "skipped": 0, "error": 1},
        "jobs": jobs,
    }


def _job(name: str, status: str, **kw: Any) -> dict[str, Any]:
    base = {
        "name": name, "status": status, "model": f"m/{SCRIPT}.pkl", "data": "d.csv",
        "folder": name, "elapsed_s": 1.0, "error": None, "methods_ok": [], "methods_failed": [],
        "methods_skipped": [], "consensus": [], "top_features": [], "lowest_agreement": None,
        "rows_used": None, "task": None, "resumed_from": None, "files": [],
    }  # fmt: skip
    return {**base, **kw}


def test_index_escapes_user_strings_and_links_only_reports() -> None:
    html = render_index(
        _summary(
            [
                _job("ok-job", "ok", consensus=[SCRIPT], files=["report.html"], rows_used=9,
                     task="binary"),
                _job("bad-job", "error", error=f"error[data]: column {SCRIPT} missing"),
                _job("json-only", "ok", files=["report.json"]),
            ]  # fmt: skip
        )
    )
    assert SCRIPT not in html and "&lt;script&gt;" in html
    assert 'href="ok-job/report.html"' in html
    assert "bad-job/report.html" not in html and "json-only/report.html" not in html


def test_summary_csv_quotes_fields() -> None:
    text = render_summary_csv(_summary([_job("a", "ok", consensus=["x,y", "z"])]))
    assert text.splitlines()[1].startswith('a,ok,m/<script>alert(1)</script>.pkl,d.csv,')
    assert '"x,y;z"' in text


@pytest.mark.browser
def test_index_links_resolve_in_chromium(
    browser: Any, tmp_path: Path, sample_models: Path, xai
) -> None:
    shutil.copy(sample_models / "adult_lightgbm.joblib", tmp_path / "lgbm model.joblib")
    shutil.copy(sample_models / "california_xgboost.ubj", tmp_path / "cal.ubj")
    (tmp_path / "broken.joblib").write_bytes(b"nope")
    config = {
        "schema_version": 1,
        "output": {"folder": "out"},
        "defaults": {"data": {"max_rows": 200}, "methods": ["treeshap", "permutation"]},
        "jobs": [
            {"name": "adult", "model": "lgbm model.joblib",
             "data": {"path": str(SAMPLE_DATA / "adult.csv"), "target": "income"}},
            {"name": "broken", "model": "broken.joblib", "data": str(SAMPLE_DATA / "adult.csv")},
            {"name": "california", "model": "cal.ubj",
             "data": {"path": str(SAMPLE_DATA / "california_housing.csv"),
                      "target": "MedHouseVal"}},
        ],
    }  # fmt: skip
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    assert xai("run", str(tmp_path / "c.yaml"), "--jobs", "2", "-q").code == 2
    index = tmp_path / "out" / "index.html"

    page = browser.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(index.resolve().as_uri(), wait_until="load")
    rows = page.locator("#jobs tbody tr")
    assert rows.count() == 3
    statuses = [rows.nth(i).get_attribute("data-status") for i in range(3)]
    assert statuses == ["ok", "error", "ok"]
    hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
    assert len(hrefs) == 2
    for href in hrefs:
        target = Path(unquote(urlparse(href).path))
        assert target.is_file(), href
        assert target.name == "report.html"
    page.click("a:has-text('california')")
    page.wait_for_load_state("load")
    assert page.url.endswith("/california/report.html")
    assert "xai report" in page.title()
    assert errors == []
    page.close()
