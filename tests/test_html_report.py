"""The HTML report: built through the real engine, opened in headless Chromium.

Browser tests check that the page loads from disk with no console error, no network request and no
script run (a feature named ``<script>alert(1)</script>`` must show up as text), and that the plots
draw something. The other tests check the escaping and the fallbacks of ``render()`` directly.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest

from xai_cli.report import Report
from xai_cli.reports import html as html_report
from xai_cli.reports.writer import write_reports
from xai_cli.run.engine import ExplainRequest, explain

SCRIPT = "<script>alert(1)</script>"
QUOTED = 'a & b "quoted"'
HOSTILE = [SCRIPT, '"><img src=x onerror=alert(2)>', "</svg><script>alert(3)</script>"]


def _explain(model: Any, frame: pd.DataFrame, target: Any, folder: Path) -> Report:
    folder.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, folder / "model.joblib")
    frame.assign(y=target).to_csv(folder / "data.csv", index=False)
    request = ExplainRequest(str(folder / "model.joblib"), str(folder / "data.csv"), target="y")
    return Report.from_result(explain(request))


@pytest.fixture(scope="module")
def rf_doc(tmp_path_factory: pytest.TempPathFactory) -> Report:
    """A binary random forest with hostile feature names and missing values."""
    from sklearn.ensemble import RandomForestClassifier

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(300, 5)), columns=[SCRIPT, QUOTED, "c", "d", "e"])
    frame.iloc[::5, 1] = np.nan
    target = np.where(frame.iloc[:, 0] + 0.5 * frame.iloc[:, 2] > 0, "yes", "no")
    model = RandomForestClassifier(n_estimators=20, max_depth=4, random_state=0)
    model.fit(frame, target)
    return _explain(model, frame, target, tmp_path_factory.mktemp("rf"))


@pytest.fixture(scope="module")
def lgbm_doc(tmp_path_factory: pytest.TempPathFactory) -> Report:
    """A 4-class LightGBM model with a hostile feature name and hostile class labels."""
    from lightgbm import LGBMClassifier

    rng = np.random.default_rng(1)
    frame = pd.DataFrame(rng.normal(size=(300, 5)), columns=[SCRIPT, "x1", "x2", "x3", "x4"])
    score = frame.iloc[:, 0] + frame.iloc[:, 1]
    labels = np.array(["<b>low</b>", "mid & co", "high", 'top"'])
    target = labels[np.digitize(score, np.quantile(score, [0.25, 0.5, 0.75]))]
    model = LGBMClassifier(n_estimators=20, num_leaves=7, random_state=0, verbose=-1)
    model.fit(frame, target)
    return _explain(model, frame, target, tmp_path_factory.mktemp("lgbm"))


# ---------------------------------------------------------------- render() without a browser


def _hostile(report: Report) -> Report:
    """A copy of ``report`` with hostile strings in every user-supplied text field."""
    doc = report.to_json_data()
    prov = doc["provenance"]
    prov["model_path"], prov["data_path"], prov["target"] = HOSTILE[0], HOSTILE[1], HOSTILE[2]
    prov["model_class"] = prov["family"] = HOSTILE[0]
    prov["notes"] = list(HOSTILE)
    prov["library_versions"] = {h: h for h in HOSTILE}
    rename = {doc["outputs"][0]: HOSTILE[1]}
    doc["outputs"] = [rename.get(o, o) for o in doc["outputs"]]
    for row in doc["importances"]:
        row["class"] = rename.get(row["class"], row["class"])
    if doc["local"] is not None:
        doc["local"]["outputs"] = [rename.get(o, o) for o in doc["local"]["outputs"]]
    for method in doc["methods"]:
        method["reason"] = HOSTILE[2]
        method["notes"] = list(HOSTILE)
        method["params"] = {HOSTILE[0]: HOSTILE[1]}
        method["unit"] = HOSTILE[0]
    return Report.model_validate(doc)


@pytest.mark.parametrize("name", ["rf_doc", "lgbm_doc"])
def test_render_escapes_every_user_string(name: str, request: pytest.FixtureRequest) -> None:
    page = html_report.render(_hostile(request.getfixturevalue(name)))
    for text in HOSTILE:
        assert text not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script" not in page.lower()
    assert "<img" not in page
    assert "http://" not in page and "https://" not in page


def test_render_is_deterministic_and_the_same_from_a_saved_report(rf_doc: Report) -> None:
    saved = Report.model_validate_json(rf_doc.model_dump_json(by_alias=True))
    assert html_report.render(rf_doc) == html_report.render(saved)


def test_render_without_local_values_or_second_method(rf_doc: Report) -> None:
    assert "No per-row values were computed" in html_report.render(
        rf_doc.model_copy(update={"local": None})
    )
    doc = rf_doc.to_json_data()
    first = doc["methods"][0]["method"]
    for method in doc["methods"][1:]:
        method["status"], method["reason"] = "failed", "boom"
    doc["importances"] = [r for r in doc["importances"] if r["method"] == first]
    doc["agreement"], doc["additivity"] = [], []
    page = html_report.render(Report.model_validate(doc))
    assert "Fewer than two methods ran" in page
    assert 'id="spearman-heatmap"' not in page


def test_render_limits_wide_documents(tmp_path: Path) -> None:
    from sklearn.ensemble import RandomForestClassifier

    rng = np.random.default_rng(2)
    frame = pd.DataFrame(rng.normal(size=(120, 60)), columns=[f"f{i}" for i in range(60)])
    target = (frame["f0"] > 0).astype(int)
    model = RandomForestClassifier(n_estimators=5, max_depth=3, random_state=0).fit(frame, target)
    page = html_report.render(_explain(model, frame, target, tmp_path))
    assert f"top {html_report.MAX_FEATURES} of 60 features" in page
    shown = 2 * html_report.MAX_FEATURES + html_report.SPREAD_ROWS  # importances, stability, spread
    assert page.count('<td class="feat">') <= shown
    assert f"top {html_report.BEESWARM_FEATURES} of 60 features" in page


# ---------------------------------------------------------------- in headless Chromium


def _png_colours(png: bytes) -> int:
    """Number of distinct pixel colours of an 8-bit, non-interlaced RGB(A) PNG."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", b""
    while pos < len(png):
        (length,), kind = struct.unpack(">I", png[pos : pos + 4]), png[pos + 4 : pos + 8]
        body = png[pos + 8 : pos + 8 + length]
        header = body if kind == b"IHDR" else header
        idat += body if kind == b"IDAT" else b""
        pos += 12 + length
    width, height, depth, colour_type, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and colour_type in (2, 6) and interlace == 0
    bpp = 3 if colour_type == 2 else 4
    raw, stride = zlib.decompress(idat), width * bpp
    previous, colours = bytearray(stride), set()
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = previous[i], previous[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + a) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + b) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        colours.update(bytes(line[i : i + bpp]) for i in range(0, stride, bpp))
        previous = line
    return len(colours)


@dataclass
class Opened:
    """A report open in Chromium and everything it did while loading."""

    page: Any
    url: str
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)


@pytest.fixture(params=["rf_doc", "lgbm_doc"])
def opened(request: pytest.FixtureRequest, browser: Any, tmp_path: Path) -> Iterator[Opened]:
    """The report of one model, written by ``write_reports`` and opened from disk."""
    doc: Report = request.getfixturevalue(request.param)
    (path,) = write_reports(doc, tmp_path / "out", ("html",))
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    result = Opened(page, path.resolve().as_uri())
    page.on("request", lambda r: result.requests.append(r.url))
    page.on("console", lambda m: result.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: result.errors.append(str(e)))

    def on_dialog(dialog: Any) -> None:
        result.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    response = page.goto(result.url, wait_until="load")
    assert response is None or response.ok
    page.wait_for_timeout(200)
    yield result
    page.close()


@pytest.mark.browser
def test_page_loads_offline_without_errors_or_scripts(opened: Opened) -> None:
    assert opened.errors == []
    assert opened.dialogs == []
    assert all(u == opened.url or u.startswith("data:") for u in opened.requests), opened.requests
    assert opened.page.locator("script").count() == 0
    assert opened.page.title().startswith("xai report")


@pytest.mark.browser
def test_hostile_names_show_as_text(opened: Opened) -> None:
    text = opened.page.inner_text("body")
    assert SCRIPT in text
    assert opened.page.locator("#beeswarm text", has_text=SCRIPT).count() >= 1


@pytest.mark.browser
def test_plots_are_drawn(opened: Opened) -> None:
    page = opened.page
    for selector in ("#spearman-heatmap", "#topk-jaccard-heatmap", "#beeswarm"):
        box = page.locator(selector).bounding_box()
        assert box is not None and box["width"] > 100 and box["height"] > 100, selector
    assert page.locator("#spearman-heatmap rect").count() >= 9
    assert page.locator("#beeswarm circle").count() >= 300
    assert _png_colours(page.locator("#beeswarm").screenshot()) > 20
    assert _png_colours(page.locator("#spearman-heatmap").screenshot()) > 5


@pytest.mark.browser
def test_binary_report_details(browser: Any, rf_doc: Report, tmp_path: Path) -> None:
    (path,) = write_reports(rf_doc, tmp_path, ("html",))
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(path.resolve().as_uri())
    text = page.inner_text("body")
    assert QUOTED in text
    assert page.locator("#beeswarm circle.qn").count() > 0  # missing values drawn grey
    assert "sklearn.impurity" in page.inner_text("table.importances thead")
    page.close()


@pytest.mark.browser
def test_multiclass_report_details(browser: Any, lgbm_doc: Report, tmp_path: Path) -> None:
    (path,) = write_reports(lgbm_doc, tmp_path, ("html",))
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(path.resolve().as_uri())
    caption = page.inner_text("#shap")
    assert lgbm_doc.local is not None
    assert f"for output {lgbm_doc.local.outputs[0]} only" in caption
    assert "<b>low</b>" in page.inner_text("header")
    assert "low" not in page.locator("b").all_inner_texts()  # the label's <b> stayed text
    page.close()


@pytest.mark.browser
def test_rank_stability_section_shows_the_documents_intervals(
    browser: Any, rf_doc: Report, tmp_path: Path
) -> None:
    (path,) = write_reports(rf_doc, tmp_path, ("html",))
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(path.resolve().as_uri())
    section = page.locator("#stability")
    heads = section.locator("thead th").all_inner_texts()
    assert [h.split("\n")[0] for h in heads] == ["Feature", "treeshap", "permutation"]
    assert section.locator("tbody tr").count() == 5
    first = section.locator("tbody tr").first
    feature = first.locator("td.feat").inner_text()
    cells = first.locator("td.cell").all()
    for method, cell in zip(("treeshap", "permutation"), cells, strict=True):
        intervals = rf_doc.rank_intervals
        (r,) = [i for i in intervals if (i.method, i.feature) == (method, feature)]
        want = f"{r.low}–{r.high}" if r.high != r.low else "stable"
        assert cell.get_attribute("title") == f"rank {r.rank}, 95% interval {want}"
    assert SCRIPT in section.inner_text()  # a hostile feature name is text here too
    assert "read from the model): sklearn.impurity" in section.inner_text()
    page.close()


def test_very_wide_models_keep_per_row_values_of_the_top_features_only(tmp_path: Path) -> None:
    """At 5,000 columns every feature's per-row values made a 277 MB report.json; the report keeps
    the top :data:`LOCAL_MAX_FEATURES` (plus each output's leaders), and the plot is unchanged."""
    from sklearn.ensemble import RandomForestClassifier

    from xai_cli.report import LOCAL_MAX_FEATURES, LOCAL_TOP_PER_OUTPUT

    rng = np.random.default_rng(3)
    n_features = LOCAL_MAX_FEATURES + 80
    frame = pd.DataFrame(rng.normal(size=(150, n_features)),
                         columns=[f"f{i}" for i in range(n_features)])  # fmt: skip
    target = (frame["f0"] + frame["f170"] > 0).astype(int)
    model = RandomForestClassifier(n_estimators=20, random_state=0).fit(frame, target)
    report = _explain(model, frame, target, tmp_path)
    local = report.local
    assert local is not None and len(report.features) == n_features
    assert LOCAL_MAX_FEATURES <= len(local.features) <= LOCAL_MAX_FEATURES + LOCAL_TOP_PER_OUTPUT
    assert {"f0", "f170"} <= set(local.features)  # the planted signal is kept
    order = [report.features.index(f) for f in local.features]
    assert order == sorted(order)  # model order, as the full list
    assert len(local.values[0]) == len(local.features) == len(local.data[0])
    page = html_report.render(report)
    assert f"top {html_report.BEESWARM_FEATURES} of {n_features} features" in page


@pytest.fixture(scope="module")
def interactions_doc(tmp_path_factory: pytest.TempPathFactory) -> Report:
    """XGBoost with a categorical feature with hostile labels, 1,000 rows and 12 features, run
    with ``treeshap.interactions`` (the heatmap, pairs and ten dependence plots of 1,000 dots)
    and ``partial_dependence`` (ten plots of partial dependence and ICE lines)."""
    import xgboost as xgb

    rng = np.random.default_rng(4)
    frame = pd.DataFrame(rng.normal(size=(1000, 11)), columns=[f"x{i}" for i in range(11)])
    frame["colour"] = pd.Categorical(rng.choice([SCRIPT, "blue", QUOTED], 1000))
    target = ((frame.x0 * frame.x1 > 0) | (frame.colour == "blue")).astype(int)
    model = xgb.XGBClassifier(n_estimators=15, max_depth=4, enable_categorical=True, n_jobs=1)
    folder = tmp_path_factory.mktemp("interactions")
    joblib.dump(model.fit(frame, target), folder / "model.joblib")
    frame.assign(y=target).to_csv(folder / "data.csv", index=False)
    methods = ("treeshap", "treeshap.interactions", "partial_dependence")
    request = ExplainRequest(str(folder / "model.joblib"), str(folder / "data.csv"), target="y",
                             methods=methods)  # fmt: skip
    return Report.from_result(explain(request))


@pytest.mark.browser
def test_interactions_and_dependence_plots_in_chromium(
    browser: Any, interactions_doc: Report, tmp_path: Path
) -> None:
    (path,) = write_reports(interactions_doc, tmp_path, ("html",))
    assert path.stat().st_size <= 2 * 2**20  # the size budget: 10 plots x 1,000 dots
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    requests: list[str] = []
    errors: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(path.resolve().as_uri(), wait_until="load")
    assert errors == []
    assert all(u == path.resolve().as_uri() or u.startswith("data:") for u in requests), requests
    assert page.locator("script").count() == 0
    assert interactions_doc.effects is not None
    section = interactions_doc.effects.interactions
    assert section is not None
    assert page.locator("#interaction-heatmap rect").count() == len(section.features) ** 2
    strongest = section.pairs[0]
    assert {strongest.feature_a, strongest.feature_b} == {"x0", "x1"}  # the planted pair
    first_row = page.locator("#interaction-pairs tbody tr").first.inner_text()
    assert "x0 × x1" in first_row
    assert page.locator("#interaction-mass tbody tr").count() >= 10
    plots = page.locator("svg.dependence")
    assert plots.count() == 10
    assert page.locator("svg.dependence circle").count() >= 9_000
    box = plots.first.bounding_box()
    assert box is not None and box["width"] > 200 and box["height"] > 100
    text = page.inner_text("#dependence")
    assert SCRIPT in text and QUOTED in text  # category labels as text, not markup
    assert _png_colours(plots.first.screenshot()) > 5
    effects = interactions_doc.effects.partial_dependence
    assert effects is not None and len(effects.curves) == 10
    assert page.locator("svg.pdplot").count() == 10
    assert page.locator("svg.pdplot polyline.ice").count() >= 10 * 50  # 50 ICE lines each
    assert SCRIPT in (page.locator("#partial-dependence").text_content() or "")  # a label, as text
    page.close()
