"""``report.md``: short enough for a pull-request comment.

Top features per method, the consensus, the weakest agreements, additivity, skipped and failed
methods, and the provenance essentials. Every string from the document (paths, class and feature
names, method names and units, reasons, notes) goes through :func:`md_text`, so nothing in the model
or data can become an image, a link or raw HTML, or break a table's columns.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from xai_cli.reports.escape import md_text
from xai_cli.reports.stability import stability_lines
from xai_cli.reports.validation import markdown as validation_markdown
from xai_cli.reports.waterfall import waterfall

if TYPE_CHECKING:
    from xai_cli.report import Report

MAX_PAIRS = 5
MAX_MD_ROWS = 10
"""Chosen rows shown in the Markdown report (``local.csv`` holds every one)."""
MD_STEPS = 8


def _num(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def render(report: Report) -> str:
    """The Markdown report."""
    prov = report.provenance
    k = report.top_k
    lines = [
        f"## xai explain: {md_text(prov.model_path)}",
        "",
        f"{md_text(prov.model_class)} ({md_text(prov.family)}, {md_text(prov.task)}), "
        f"{md_text(prov.rows_used)} of {md_text(prov.rows_total)} rows of "
        f"{md_text(prov.data_path)}, seed {md_text(prov.seed)}. "
        f"Model SHA-256 {md_text(prov.model_sha256[:16])}….",
        "",
        *validation_markdown(report),
        f"**Consensus** (in every method's top {k}): "
        + (", ".join(md_text(f) for f in report.consensus) or "none"),
        "",
        f"| method | unit | {' | '.join(f'#{i}' for i in range(1, k + 1))} |",
        "|---|---|" + "---|" * k,
    ]
    for method in report.ok_methods():
        rows = report.top_features(method.method, k)
        cells = [f"{md_text(r.feature)} ({100 * (r.share or 0):.0f}%)" for r in rows]
        cells += [""] * (k - len(cells))
        lines.append(
            f"| {md_text(method.method)} | {md_text(method.unit)} | {' | '.join(cells)} |"
        )
    pooled = [a for a in report.agreement if a.output == "all"]
    if pooled:
        weakest = sorted(pooled, key=lambda a: (a.spearman is None, a.spearman or 0.0))[:MAX_PAIRS]
        lines += [
            "",
            f"**Weakest agreement** ({len(pooled)} pairs in `agreement.csv`):",
            "",
            f"| method A | method B | Spearman | Kendall | top-{k} Jaccard |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {md_text(a.method_a)} | {md_text(a.method_b)} | {_num(a.spearman)} "
            f"| {_num(a.kendall)} | {_num(a.topk_jaccard)} |"
            for a in weakest
        ]
    for check in report.additivity:
        verdict = "ok" if check.ok else "**FAILED**"
        lines += [
            "",
            f"SHAP additivity ({md_text(check.method)}): {verdict}, max error "
            f"{check.max_abs_error:.2e}, p99 {check.p99_abs_error:.2e} "
            f"over {md_text(check.rows)} rows.",
        ]
    for line in stability_lines(report):
        lines += ["", md_text(line) + "."]
    not_ok = [m for m in report.methods if m.status != "ok"]
    if not_ok:
        lines += ["", "<details><summary>Skipped and failed methods</summary>", ""]
        lines += [
            f"- {md_text(m.status)}: {md_text(m.method)} — {md_text(m.reason)}"
            for m in not_ok
        ]
        lines += ["", "</details>"]
    lines += _metrics_lines(report) + _rows_lines(report) + _trust_lines(report)
    for note in prov.notes:
        lines += ["", f"> note: {md_text(note)}"]
    return "\n".join(lines) + "\n"


def _trust_lines(report: Report) -> list[str]:
    """The approximation checks (KernelSHAP's standard errors, LIME's stability, IG's
    completeness and baseline spread, exact Shapley's players) as one table."""
    if report.trust is None:
        return []
    lines = ["", "### How far to trust each approximation", "",
             "| Method | Check | Value | Against |", "|---|---|---:|---:|"]  # fmt: skip
    for c in report.trust.checks:
        value = "–" if c.value is None else f"{c.value:.4g}"
        ref = "–" if c.reference is None else f"{c.reference:.4g}"
        lines.append(f"| {md_text(c.method)} | {md_text(c.check)} | {value} | {ref} |")
    return lines


def _metrics_lines(report: Report) -> list[str]:
    """The model's metrics on the explained rows, one line."""
    m = report.metrics
    if m is None:
        return []
    if m.task == "regression":
        text = (f"R² {_num(m.r2, 3)}, RMSE {_num(m.rmse, 4)}, MAE {_num(m.mae, 4)}, "
                f"target mean {_num(m.base_rate, 4)}")  # fmt: skip
    else:
        text = (f"accuracy {_num(m.accuracy, 3)}, ROC AUC {_num(m.roc_auc, 3)}, log loss "
                f"{_num(m.log_loss, 3)}, base rate {_num(m.base_rate, 3)}")  # fmt: skip
    return ["", f"**Model** on the {m.rows} explained rows: {text}."]


def _rows_lines(report: Report) -> list[str]:
    """Per chosen row: the prediction, then each method's top features (a table, one column per
    method) and how far the methods agree on the row."""
    section = report.rows
    if section is None:
        return []
    lines = ["", f"### Why these rows? ({md_text(section.selection)})"]
    unlisted = len(report.features) - len(section.features)
    for row in section.rows[:MAX_MD_ROWS]:
        falls = [waterfall(section, row, m, MD_STEPS, unlisted) for m in row.methods]
        actual = "" if row.target is None else f", actual {md_text(row.target)}"
        lines += ["", f"**Row {md_text(row.id)}**: predicted {md_text(row.predicted)}{actual}"]
        if not falls:
            continue
        lines += [
            "",
            "| feature = value | " + " | ".join(
                f"{md_text(w.method)} ({_num(w.base, 3)} → {_num(w.total, 3)})" for w in falls
            ) + " |",
            "|---|" + "---|" * len(falls),
        ]  # fmt: skip
        for step in falls[0].steps:
            cells = []
            for w in falls:
                same = next((s for s in w.steps if s.folded == step.folded and
                             (s.folded or s.feature == step.feature)), None)  # fmt: skip
                cells.append("(in other)" if same is None else f"{same.contribution:+.3g}")
            lines.append(f"| {md_text(step.label)} | " + " | ".join(cells) + " |")
        for a in row.agreement:
            if a.output == row.shown_output:
                lines += ["", f"{md_text(a.method_a)} vs {md_text(a.method_b)} on this row: "
                          f"Spearman {_num(a.spearman)}, top-{section.top_k} overlap "
                          f"{_num(a.topk_jaccard)}."]  # fmt: skip
    if len(section.rows) > MAX_MD_ROWS:
        lines += ["", f"{len(section.rows) - MAX_MD_ROWS} more rows in `local.csv`."]
    return lines
