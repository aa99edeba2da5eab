"""Batch reports of ``xai run``: ``index.html``, ``summary.csv`` and ``summary.json``.

They are rendered from the batch summary document (:func:`xai_cli.run.batch.plan_summary`) and
recompute nothing. The index links each finished job's own ``report.html`` by a relative path, so
the output folder can be moved or archived whole; every user-supplied string (job names, paths,
feature and method names, error messages) goes through Jinja2's autoescaping.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

from xai_cli.reports.escape import csv_text
from xai_cli.reports.files import write_files
from xai_cli.reports.jinja import ENV

METRIC_COLUMNS = ("accuracy", "roc_auc", "log_loss", "r2", "rmse", "mae", "base_rate")
"""The model's metrics on the explained rows (empty where they do not apply or no target)."""

SUMMARY_COLUMNS = (
    "job",
    "status",
    "model",
    "data",
    "task",
    "rows_used",
    "methods_ok",
    "methods_failed",
    "methods_skipped",
    "consensus",
    "top_features",
    "lowest_agreement_pair",
    "lowest_spearman",
    "lowest_topk_jaccard",
    "elapsed_s",
    "error",
    *METRIC_COLUMNS,
)


def _pair(job: dict[str, Any]) -> str:
    low = job.get("lowest_agreement")
    return f"{low['method_a']} vs {low['method_b']}" if low else ""


def _metric(job: dict[str, Any], name: str) -> Any:
    """A metric of a job's summary, ``""`` when absent (no target, other task, an old record)."""
    value = (job.get("metrics") or {}).get(name)
    return "" if value is None else value


def metrics_text(job: dict[str, Any]) -> str:
    """The index's one-line metrics of a job: accuracy and AUC, or R² and RMSE."""
    m = job.get("metrics")
    if not m:
        return ""

    def f(name: str) -> str:
        return "–" if m.get(name) is None else f"{m[name]:.3f}"

    if m.get("task") == "regression":
        return f"R² {f('r2')} · RMSE {f('rmse')} · target mean {f('base_rate')}"
    return (f"accuracy {f('accuracy')} · AUC {f('roc_auc')} · log loss {f('log_loss')} · "
            f"base rate {f('base_rate')}")  # fmt: skip


def render_summary_csv(summary: dict[str, Any]) -> str:
    """One row per job; lists are ``;``-joined; text that a spreadsheet would run as a formula
    gets a leading ``'`` (:func:`~xai_cli.reports.escape.csv_text`)."""
    rows: list[list[Any]] = [list(SUMMARY_COLUMNS)]
    for job in summary["jobs"]:
        low = job.get("lowest_agreement") or {}
        rows.append(
            [
                job["name"],
                job["status"],
                job["model"],
                job["data"],
                job.get("task") or "",
                "" if job.get("rows_used") is None else job["rows_used"],
                ";".join(job["methods_ok"]),
                ";".join(job["methods_failed"]),
                ";".join(job["methods_skipped"]),
                ";".join(job["consensus"]),
                ";".join(job["top_features"]),
                _pair(job),
                "" if low.get("spearman") is None else low["spearman"],
                "" if low.get("topk_jaccard") is None else low["topk_jaccard"],
                job["elapsed_s"],
                job.get("error") or "",
                *(_metric(job, name) for name in METRIC_COLUMNS),
            ]
        )
    return csv_text(rows)


def render_summary_json(summary: dict[str, Any]) -> str:
    """The summary document as indented JSON."""
    return json.dumps(summary, indent=2, allow_nan=False) + "\n"


def render_index(summary: dict[str, Any]) -> str:
    """``index.html``: every job with its status, figures and a link to its report."""
    jobs = []
    for job in summary["jobs"]:
        has_report = job["status"] in ("ok", "skipped") and "report.html" in job["files"]
        jobs.append(
            {
                **job,
                "pair": _pair(job),
                "metrics_text": metrics_text(job),
                "href": f"{quote(job['folder'])}/report.html" if has_report else None,
            }
        )
    return ENV.get_template("index.html.j2").render(summary=summary, jobs=jobs)


def write_batch_reports(summary: dict[str, Any], out_dir: Path) -> list[Path]:
    """Write the three batch files, all or nothing (rendered first, then written): a write error is
    an :class:`~xai_cli.errors.OutputError` and leaves the previous three as they were."""
    rendered = {
        out_dir / "summary.json": render_summary_json(summary),
        out_dir / "summary.csv": render_summary_csv(summary),
        out_dir / "index.html": render_index(summary),
    }
    return write_files(rendered, "the batch summary")
