"""Terminal output with rich: the top features per method and the agreement summary.

Works from the typed report (:class:`xai_cli.report.Report`), like every other renderer. Colour
follows rich's rules: off when stdout is not a terminal or ``NO_COLOR`` is set.
"""

from __future__ import annotations

import statistics
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from xai_cli.cli.rows_console import print_rows
from xai_cli.reports.stability import stability_lines
from xai_cli.run.estimate import Estimate

if TYPE_CHECKING:
    from xai_cli.report import Report


def _fmt(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def top_features_table(report: Report) -> Table:
    """One row per method: its unit and its top-k features with their share."""
    k = report.top_k
    table = Table(title=f"Top {k} features per method (share of total)", title_justify="left")
    table.add_column("method", style="bold", no_wrap=True)
    table.add_column(f"top {k}")
    table.add_column("unit", style="dim")
    for method in report.ok_methods():
        rows = report.top_features(method.method, k)
        cells = ", ".join(f"{r.feature} {100 * (r.share or 0):.0f}%" for r in rows)
        table.add_row(method.method, cells, method.unit)
    return table


def agreement_table(report: Report) -> Table:
    """Per method: mean Spearman and top-k overlap with every other method (pooled output)."""
    table = Table(title="Agreement with the other methods (class 'all')", title_justify="left")
    for column in ("method", "mean spearman", "min spearman", "mean top-k jaccard"):
        table.add_column(column, justify="left" if column == "method" else "right")
    pooled = [a for a in report.agreement if a.output == "all"]
    for method in report.ok_methods():
        name = method.method
        pairs = [a for a in pooled if name in (a.method_a, a.method_b)]
        rhos = [a.spearman for a in pairs if a.spearman is not None]
        jac = [a.topk_jaccard for a in pairs if a.topk_jaccard is not None]
        table.add_row(
            name,
            _fmt(statistics.fmean(rhos) if rhos else None),
            _fmt(min(rhos) if rhos else None),
            _fmt(statistics.fmean(jac) if jac else None),
        )
    return table


def print_verdict(report: Report, console: Console) -> None:
    """The verdict and the leak/identifier warnings, first thing after the model line."""
    section = report.validation
    if section is None:
        return
    for finding in section.findings:
        console.print(
            f"[yellow]warning\\[{escape(finding.kind)}]:[/] {escape(finding.message)}",
            highlight=False,
        )
    console.print("[bold]Verdict[/]", highlight=False)
    for sentence in section.verdict:
        console.print(f"  • {sentence}", highlight=False, markup=False)


def print_summary(report: Report, console: Console) -> None:
    """Everything the terminal shows after ``xai explain``."""
    prov = report.provenance
    console.print(
        f"[bold]{prov.model_class}[/] ({prov.family}, {prov.task}) on "
        f"{prov.rows_used} of {prov.rows_total} rows",
        highlight=False,
    )
    print_verdict(report, console)
    console.print(top_features_table(report))
    if len(report.ok_methods()) > 1:
        console.print(agreement_table(report))
    consensus = ", ".join(report.consensus) or "none"
    console.print(f"Consensus (in every method's top {report.top_k}): {consensus}", highlight=False)
    widest = [s for s in report.rank_spread if s.spread > 0][:3]
    if widest:
        console.print(
            "Widest rank disagreement: "
            + ", ".join(f"{s.feature} (rank {s.best_rank}–{s.worst_rank})" for s in widest),
            highlight=False,
        )
    for check in report.additivity:
        status = "[green]ok[/]" if check.ok else "[red]FAILED[/]"
        console.print(
            f"SHAP additivity ({check.method}): {status}, max error {check.max_abs_error:.2e}",
            highlight=False,
        )
    for line in stability_lines(report):
        console.print(line, highlight=False, markup=False)
    print_rows(report, console)
    not_applicable = 0
    for method in report.methods:
        reason = method.reason or ""
        if method.status == "failed" or (
            method.status == "skipped" and reason.startswith("needs labels")
        ):
            console.print(f"{method.status}: {method.method} — {reason}", highlight=False)
        elif method.status == "skipped":
            not_applicable += 1
    if not_applicable:
        console.print(
            f"[dim]{not_applicable} other methods do not apply to this model "
            "(`xai methods MODEL` says why)[/]",
            highlight=False,
        )


def print_estimates(found: tuple[Estimate, ...], console: Console) -> None:
    """``xai explain --estimate``: each method's estimated time, rows and how it was estimated."""
    table = Table(title="Estimated time per method (this machine)", title_justify="left")
    for name, justify in (("Method", "left"), ("Rows", "right"), ("Estimate", "right")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    table.add_column("Basis")
    for e in found:
        seconds = "–" if e.seconds is None else f"{e.seconds:.2f} s"
        table.add_row(e.method, f"{e.rows:,}", seconds, e.basis)
    console.print(table)
    total = sum(e.seconds for e in found if e.seconds is not None)
    console.print(f"total of the estimated methods: {total:.1f} s", highlight=False)
