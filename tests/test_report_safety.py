"""Reports are safe to open and share, and a failed write ends cleanly.

* CSV cells a spreadsheet would run as formulas are neutralised; numbers stay numbers.
* Markdown renders data-derived text inert: no image, link or raw HTML, tables keep their columns.
* Report files get the permissions the umask gives.
* Disk full and read-only folders give one ``error[output]`` line naming the cause, exit code 2,
  and leave the previous report set byte-identical, with no temporaries left behind.

The model is a small decision tree trained here on columns and class labels named to attack each
format; the documents come from the real engine. The fault tests mount a small tmpfs (root only)
and skip, saying why, where that is impossible.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import io
import os
import subprocess
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
import yaml
from markdown_it import MarkdownIt
from sklearn.tree import DecisionTreeClassifier
from typer.testing import CliRunner

from xai_cli.audit.diff import diff_document
from xai_cli.audit.markdown import render_audit, render_diff
from xai_cli.cli import app
from xai_cli.errors import OutputError, XaiError
from xai_cli.report import Report
from xai_cli.reports import csv as csv_report
from xai_cli.reports import markdown as markdown_report
from xai_cli.reports.batch import render_summary_csv, write_batch_reports
from xai_cli.reports.escape import md_text
from xai_cli.reports.writer import write_reports
from xai_cli.request import ExplainRequest
from xai_cli.run.batch import JobOutcome
from xai_cli.run.engine import explain

FORMULA_NAMES = ('=HYPERLINK("http://x")', "@SUM(1)", "-2+3", "+cmd", "\tTAB", "\rCR")
MARKDOWN_NAMES = (
    "![x](http://evil/x.png)",
    "[click](javascript:alert(1))",
    "[home](http://evil/home)",
    "<img src=x onerror=alert(1)>",
    "a|b",
    "line\nbreak",
    "`tick` **bold** _em_ <b>&amp;</b>",
    "www.evil.com me@evil.com http://evil.com",
)
NAMES = MARKDOWN_NAMES + FORMULA_NAMES
CLASSES = ("=1+1", "-cls", "@c")
FORMATS = ("json", "csv", "md")
FILES = {"report.json", "importances.csv", "agreement.csv", "report.md"}
ALLOWED_TAGS = {
    "h2", "h3", "p", "strong", "code", "table", "thead", "tbody", "tr", "th", "td",
    "ul", "li", "blockquote", "details", "summary",
}  # fmt: skip
"""Every tag the Markdown reports' own templates produce; anything else came from data."""


# ------------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A three-class decision tree on hostile column names and labels, and its data (Parquet:
    the names survive it exactly, newline and carriage return included)."""
    folder = tmp_path_factory.mktemp("hostile")
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(240, len(NAMES))), columns=list(NAMES))
    signal = sum((len(NAMES) - i) * X[name] for i, name in enumerate(MARKDOWN_NAMES))
    cut = np.quantile(signal, [1 / 3, 2 / 3])
    y = np.array(CLASSES)[np.digitize(signal, cut)]
    model = DecisionTreeClassifier(max_depth=6, random_state=0).fit(X, y)
    joblib.dump(model, folder / "model.joblib")
    X.assign(target=y).to_parquet(folder / "data.parquet", index=False)
    return folder / "model.joblib", folder / "data.parquet"


def _document(inputs: tuple[Path, Path], seed: int = 0) -> Report:
    model, data = inputs
    request = ExplainRequest(
        model_path=str(model),
        data_path=str(data),
        target="target",
        methods=("treeshap", "sklearn.impurity"),
        seed=seed,
        top_k=len(NAMES),
    )
    return Report.from_result(explain(request))


def _edited(report: Report, edit: Callable[[dict[str, Any]], None]) -> Report:
    """A copy of ``report`` changed through its JSON form (and validated again)."""
    data = report.to_json_data()
    edit(data)
    return Report.model_validate(data)


@pytest.fixture(scope="module")
def doc(inputs: tuple[Path, Path]) -> Report:
    """The report document of the hostile model, built by the real engine (every feature in the
    top k, so every name reaches the Markdown tables)."""
    return _document(inputs)


@pytest.fixture
def umask() -> Iterator[None]:
    """Restore the process umask after a test changes it."""
    old = os.umask(0o022)
    os.umask(old)
    yield
    os.umask(old)


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs mounted for this test (so it can fill up or turn read-only)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip() or done.returncode}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(disk: Path, leave: int = 0) -> None:
    """Write a filler file until the file system is full, then free ``leave`` bytes of it (so
    the small files of a set still fit and a large one does not)."""
    fd = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        for size in (65536, 1):
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"\0" * size)
        os.ftruncate(fd, max(os.fstat(fd).st_size - leave, 0))
    finally:
        os.close(fd)


def _read_only(disk: Path) -> None:
    done = subprocess.run(["mount", "-o", "remount,ro", str(disk)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot remount the tmpfs read-only: {done.stderr.strip()}")


def _snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (hidden ones included) with its bytes."""
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


# ------------------------------------------------------------------------------ CSV injection
def _neutral(text: str) -> str:
    return "'" + text if text.startswith(("=", "+", "-", "@", "\t", "\r")) else text


def test_csv_formula_cells_are_prefixed_and_read_back_as_text(doc: Report) -> None:
    text = csv_report.render_importances(doc)
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert {r["feature"] for r in rows} == {_neutral(n) for n in NAMES}
    assert {r["class"] for r in rows} == {"all", *(_neutral(c) for c in CLASSES)}
    for name in FORMULA_NAMES:
        assert name not in {r["feature"] for r in rows}, f"{name!r} left live"
    # no line of the file starts a cell with a formula character, quoted or not
    cells = [cell for row in csv.reader(io.StringIO(text, newline="")) for cell in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "@", "\t", "\r")]
    frame = pd.read_csv(io.StringIO(text))
    assert set(frame["feature"]) == {_neutral(n) for n in NAMES}
    for column in ("value", "share", "rank"):
        assert pd.api.types.is_numeric_dtype(frame[column]), column


def test_csv_numbers_stay_numbers_negative_ones_included(doc: Report) -> None:
    def negate(data: dict[str, Any]) -> None:
        data["importances"][0]["value"] = -0.25
        data["agreement"][0]["spearman"] = -0.5

    negative = _edited(doc, negate)
    importances = csv_report.render_importances(negative)
    agreement = csv_report.render_agreement(negative)
    assert ",-0.25," in importances and "'-0.25" not in importances
    assert ",-0.5," in agreement and "'-0.5" not in agreement
    values = pd.read_csv(io.StringIO(importances))["value"]
    assert values.dtype == float and values.min() == -0.25
    spearman = pd.read_csv(io.StringIO(agreement))["spearman"]
    assert spearman.dtype == float and spearman.min() == -0.5


def test_batch_summary_csv_is_neutralised() -> None:
    outcome = JobOutcome(
        name="=cmd|' /C calc'!A0",
        status="error",
        model="@model.pkl",
        data="+data.csv",
        folder="x",
        elapsed_s=-0.0,
        error="-error[data]: =bad",
        consensus=("=a", "b"),
        top_features=("-c",),
        lowest_agreement={
            "method_a": "=m",
            "method_b": "n",
            "class": "all",
            "spearman": -0.75,
            "topk_jaccard": 0.5,
        },
    )
    text = render_summary_csv({"jobs": [outcome.to_dict()]})
    row = next(csv.DictReader(io.StringIO(text)))
    assert row["job"] == "'=cmd|' /C calc'!A0"
    assert row["model"] == "'@model.pkl" and row["data"] == "'+data.csv"
    assert row["error"] == "'-error[data]: =bad"
    assert row["consensus"] == "'=a;b" and row["top_features"] == "'-c"
    assert row["lowest_agreement_pair"] == "'=m vs n"
    assert row["lowest_spearman"] == "-0.75"  # a number, not prefixed


# ------------------------------------------------------------------------- Markdown injection
class _Html(HTMLParser):
    """Tags, attributes, text and table shapes of rendered HTML."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.attrs: list[tuple[str, str | None]] = []
        self.text: list[str] = []
        self.tables: list[list[int]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attrs += attrs
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append(0)
        elif tag in ("td", "th"):
            self.tables[-1][-1] += 1

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _render_html(markdown: str) -> _Html:
    """Markdown -> HTML with a CommonMark parser that passes raw HTML through (as GitHub's
    does before sanitising), plus GFM tables and strikethrough."""
    html = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    parsed = _Html()
    parsed.feed(html.render(markdown))
    return parsed


def _assert_inert(markdown: str, names: tuple[str, ...]) -> None:
    parsed = _render_html(markdown)
    assert parsed.tags <= ALLOWED_TAGS, parsed.tags - ALLOWED_TAGS
    assert "img" not in parsed.tags and "a" not in parsed.tags
    assert not [v for _, v in parsed.attrs if v and ("http" in v or "javascript" in v)]
    for rows in parsed.tables:
        assert len(set(rows)) == 1, f"a table row has the wrong number of cells: {rows}"
    text = "".join(parsed.text)
    for name in names:  # every name still readable, as text, with line breaks flattened
        assert " ".join(name.replace("\t", " ").splitlines()) in " ".join(text.split("\n")), name
    # GFM autolinks need these bare in Markdown text (raw HTML blocks are not autolinked)
    text_lines = [line for line in markdown.splitlines() if not line.startswith("<details>")]
    for autolink in ("http://", "www.", "me@evil"):
        assert not [line for line in text_lines if autolink in line], autolink


def test_report_md_renders_hostile_names_as_text(doc: Report) -> None:
    markdown = markdown_report.render(doc)
    rows = [line for line in markdown.splitlines() if line.startswith("|")]
    assert len(rows) == (2 + 2) + (2 + 1) and all(line.endswith("|") for line in rows)
    _assert_inert(markdown, MARKDOWN_NAMES)


def test_md_text_is_what_makes_it_inert() -> None:
    """The check above fails on unescaped text: proof that it can fail."""
    raw = "| a |\n|---|\n| " + " ".join(MARKDOWN_NAMES) + " |\n"
    parsed = _render_html(raw)
    assert {"img", "a", "b"} <= parsed.tags and parsed.tables[0] != [1, 1]
    assert "a|b" not in "".join(parsed.text)  # the pipe split the cell, "b" was dropped
    escaped = "| a |\n|---|\n| " + md_text(" ".join(MARKDOWN_NAMES)) + " |\n"
    parsed = _render_html(escaped)
    assert parsed.tags <= ALLOWED_TAGS and parsed.tables == [[1, 1]]
    assert "a|b" in "".join(parsed.text)


def test_diff_markdown_renders_hostile_names_as_text(doc: Report) -> None:
    def reverse(data: dict[str, Any]) -> None:
        for row in data["importances"]:
            row["rank"] = len(NAMES) + 1 - row["rank"]

    moved = _edited(doc, reverse)
    diff = diff_document(
        doc,
        moved,
        base_path="![b](http://evil/b.png)",
        new_path="<img src=y onerror=alert(2)>",
        top_k=3,
        methods=None,
        min_spearman=0.5,
        min_topk_jaccard=None,
    )
    markdown = render_diff(diff)
    assert "Largest rank changes" in markdown
    _assert_inert(markdown, ("![b](http://evil/b.png)", "<img src=y onerror=alert(2)>"))


def _audit_document() -> dict[str, Any]:
    """An audit document with hostile text in every field a user controls."""
    rule = "<script>alert(1)</script>|![r](http://evil/r.png)"
    features = [
        {
            "feature": name,
            "importance": 0.1,
            "lower": -0.05,
            "upper": 0.2,
            "margin": -0.05,
            "above_probe": False,
            "in_top_k_of": ["treeshap"],
        }
        for name in MARKDOWN_NAMES
    ]
    ranks = [{"feature": n, "rank": i + 1, "low": 1, "high": 3} for i, n in enumerate(NAMES)]
    moves = {
        "status": "compared",
        "method": "treeshap",
        "spearman": -0.2,
        "kendall": -0.1,
        "topk_jaccard": 0.0,
        "entering": list(MARKDOWN_NAMES[:2]),
        "leaving": list(MARKDOWN_NAMES[2:4]),
        "rank_changes": [
            {"feature": n, "rank_base": 1, "rank_new": 2, "change": 1} for n in MARKDOWN_NAMES
        ],
        "features_added": [MARKDOWN_NAMES[0]],
        "features_removed": [MARKDOWN_NAMES[1]],
    }
    results = [
        {
            "rule": rule,
            "type": "noise_floor",
            "severity": "fail",
            "status": "FAIL",
            "message": "[m](javascript:alert(1)) | <b>x</b>\nnext",
            "details": {
                "confidence": 0.95,
                "metric": "<i>roc_auc</i>",
                "repeats": 5,
                "rows": 10,
                "top_k": 3,
                "features": features,
            },
        },
        {
            "rule": rule + "2",
            "type": "stability",
            "severity": "warn",
            "status": "WARN",
            "message": "ok",
            "details": {
                "methods": [
                    {
                        "method": "treeshap",
                        "resamples": 10,
                        "spearman_p05": 0.9,
                        "spearman_median": 0.95,
                        "spearman_min": 0.8,
                        "identical_on_every_resample": False,
                        "ranks": ranks,
                    }
                ]
            },
        },
        {
            "rule": rule + "3",
            "type": "drift",
            "severity": "fail",
            "status": "FAIL",
            "message": "moved",
            "details": {"top_k": 3, "methods": [moves]},
        },
    ]
    job = {
        "name": "![job](http://evil/j.png)",
        "status": "FAIL",
        "error": None,
        "model_path": "[m](http://evil/m)",
        "model_sha256": "ab" * 32,
        "rows_used": 10,
        "data_path": "<img src=d>",
        "results": results,
    }
    failed = {**job, "name": "a|b\nc", "error": "error[data]: ![e](http://evil/e.png)"}
    return {
        "status": "FAIL",
        "config": "<b>cfg</b>.yaml",
        "baseline": "[base](http://evil/b)",
        "summary": {"PASS": 0, "WARN": 1, "FAIL": 2},
        "exit_code": 1,
        "jobs": [job, failed],
    }


def test_audit_markdown_renders_hostile_text_inert() -> None:
    markdown = render_audit(_audit_document())
    assert markdown.count("<details>") == 6
    _assert_inert(
        markdown,
        (
            *MARKDOWN_NAMES,
            "<script>alert(1)</script>|![r](http://evil/r.png)",
            "![job](http://evil/j.png)",
            "error[data]: ![e](http://evil/e.png)",
            "<b>cfg</b>.yaml",
        ),
    )


# ---------------------------------------------------------------------------------- file modes
@pytest.mark.parametrize(
    ("mask", "file_mode", "folder_mode"), [(0o022, 0o644, 0o755), (0o077, 0o600, 0o700)]
)
def test_reports_get_the_umask_permissions(
    doc: Report, tmp_path: Path, umask: None, mask: int, file_mode: int, folder_mode: int
) -> None:
    os.umask(mask)
    out = tmp_path / "new" / "out"
    paths = write_reports(doc, out, FORMATS)
    summary = {
        "schema_version": "1.0",
        "tool": {"name": "xai-cli", "version": "test"},
        "config": "xai.yaml",
        "formats": list(FORMATS),
        "counts": {"ok": 0, "skipped": 0, "error": 0},
        "jobs": [],
    }
    batch = write_batch_reports(summary, out / "batch")
    assert {p.name for p in paths} == FILES
    for path in [*paths, *batch]:
        assert path.stat().st_mode & 0o777 == file_mode, path
    for folder in (out, out.parent, out / "batch"):
        assert folder.stat().st_mode & 0o777 == folder_mode, folder
    write_reports(doc, out, FORMATS)  # replacing files gives the same modes
    assert all(p.stat().st_mode & 0o777 == file_mode for p in paths)


# --------------------------------------------------------------------------------- disk faults
def test_disk_full_keeps_the_previous_report_set(doc: Report, tmpfs: Path) -> None:
    """The small files come first and would fit; report.json (hundreds of KiB) does not."""
    out = tmpfs / "out"
    order = ("csv", "md", "json")
    write_reports(doc, out, order)
    before = _snapshot(tmpfs)
    assert (
        len(before["out/report.json"])
        > 64 * 1024
        > sum(len(v) for v in before.values()) - len(before["out/report.json"])
    )
    _fill(tmpfs, leave=64 * 1024)
    changed = doc.model_copy(
        update={"provenance": doc.provenance.model_copy(update={"seed": 99})}
    )
    with pytest.raises(OutputError) as caught:
        write_reports(changed, out, order)
    error = caught.value
    assert isinstance(error, XaiError) and error.exit_code == 2 and error.code == "output"
    assert "no space left on device" in error.message and str(out) in error.message
    assert "ENOSPC" in (error.cause or "") and "free space" in (error.hint or "")
    after = _snapshot(tmpfs)
    assert {k: v for k, v in after.items() if k != "filler"} == before
    with pytest.raises(OutputError, match="no space left"):  # a new folder: none is left behind
        write_reports(doc, tmpfs / "fresh" / "out", order)
    assert not (tmpfs / "fresh").exists()
    assert not [p for p in tmpfs.rglob("*.tmp")]


def test_read_only_folder_keeps_the_previous_report_set(doc: Report, tmpfs: Path) -> None:
    out = tmpfs / "out"
    write_reports(doc, out, FORMATS)
    before = _snapshot(tmpfs)
    _read_only(tmpfs)
    with pytest.raises(OutputError, match="read-only file system") as caught:
        write_reports(doc, out, FORMATS)
    assert "EROFS" in (caught.value.cause or "")
    assert _snapshot(tmpfs) == before


def test_explain_cli_on_a_read_only_folder(inputs: tuple[Path, Path], tmpfs: Path) -> None:
    model, data = inputs
    _read_only(tmpfs)
    result = CliRunner().invoke(
        app,
        [
            "explain",
            str(model),
            str(data),
            "--target",
            "target",
            "--methods",
            "sklearn.impurity",
            "--out",
            str(tmpfs / "out"),
            "--format",
            "json,csv,md",
            "--output-format",
            "none",
            "--no-estimate",
            "--quiet",
        ],  # fmt: skip
    )
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert lines[0] == f"error[output]: cannot write the reports to {tmpfs / 'out'}: " + (
        "read-only file system"
    )
    assert lines[1].startswith("  cause: EROFS") and lines[2].startswith("  hint: ")
    assert "Traceback" not in result.output and len(lines) == 3
    assert list(tmpfs.iterdir()) == []


def test_run_on_a_full_disk_keeps_job_folders_and_summary(
    inputs: tuple[Path, Path], tmpfs: Path
) -> None:
    """``xai run``: a job that cannot write its folder leaves the earlier one, and the batch
    summary that cannot be written leaves the earlier one; exit 2 with ``error[output]``."""
    model, data = inputs
    config = tmpfs / "xai.yaml"
    job = {"name": "job", "model": str(model), "data": {"path": str(data), "target": "target"}}
    config.write_text(
        yaml.safe_dump(
            {
                "schema_version": 1,
                "output": {"folder": "out", "formats": ["csv", "md", "json"]},
                "jobs": [job],
            }
        ),
        encoding="utf-8",
    )
    args = ["run", str(config), "--methods", "sklearn.impurity", "--quiet"]
    first = CliRunner().invoke(app, [*args, "--output-format", "none"])
    assert first.exit_code == 0, first.output
    before = _snapshot(tmpfs / "out")
    assert {"job/report.md", "job/.xai-job.json", "summary.csv"} <= set(before)
    _fill(tmpfs, leave=8 * 1024)  # room for summary.json and .csv, not index.html
    second = CliRunner().invoke(app, [*args, "--seed", "7", "--output-format", "json"])
    assert second.exit_code == 2, second.output
    assert second.stderr.startswith(
        f"error[output]: cannot write the batch summary to {tmpfs / 'out'}"
    ), second.stderr
    assert "no space left on device" in second.stderr.splitlines()[0]
    assert "Traceback" not in second.output
    assert _snapshot(tmpfs / "out") == before


def test_output_error_names_each_cause() -> None:
    from xai_cli.reports.files import output_error

    causes = {
        errno.ENOSPC: "no space left on device",
        errno.EROFS: "read-only file system",
        errno.EACCES: "permission denied",
        errno.EPERM: "permission denied",
        errno.EDQUOT: "disk quota exceeded",
    }
    for number, cause in causes.items():
        exc = OSError(number, os.strerror(number))
        error = output_error(exc, "the reports", Path("o"), Path("o/report.md"))
        assert error.message == f"cannot write the reports to o: {cause}"
        assert error.code == "output" and error.exit_code == 2
        assert error.cause == f"{errno.errorcode[number]} (errno {number}) on o/report.md"


def test_a_folder_in_the_way_replaces_nothing(doc: Report, tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_reports(doc, out, ("csv",))
    before = _snapshot(out)
    (out / "report.md").mkdir()
    with pytest.raises(OutputError, match="a folder is in the way") as caught:
        write_reports(doc, out, ("csv", "md"))
    assert "EISDIR" in (caught.value.cause or "")
    assert _snapshot(out) == before and not list(out.glob(".*"))


def test_a_job_folder_that_cannot_take_its_place_restores_the_earlier_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from xai_cli.run import batch

    final, partial = tmp_path / "job", tmp_path / ".job.partial-1"
    final.mkdir()
    (final / "report.md").write_text("old")
    partial.mkdir()
    (partial / "report.md").write_text("new")
    rename = Path.rename

    def failing(self: Path, target: Path) -> Path:
        if self == partial:
            raise OSError(errno.EIO, os.strerror(errno.EIO), str(self))
        return rename(self, target)

    monkeypatch.setattr(Path, "rename", failing)
    with pytest.raises(OutputError, match="input/output error"):
        batch._replace_folder(partial, final)
    assert (final / "report.md").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".job.partial-1", "job"]
