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

if TYPE_CHECKING:
    from xai_cli.report import Report

MAX_PAIRS = 5


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
    for note in prov.notes:
        lines += ["", f"> note: {md_text(note)}"]
    return "\n".join(lines) + "\n"
