"""The terminal's "why this row?": model metrics, and a compact waterfall per chosen row with
every local method side by side (one column each), read from the typed report."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text

from xai_cli.reports.waterfall import Waterfall, waterfall

if TYPE_CHECKING:
    from rich.console import Console

    from xai_cli.report import Report

BAR_WIDTH = 18
"""Characters of one method's waterfall strip."""
MAX_TERMINAL_ROWS = 5
"""Chosen rows drawn in the terminal (the reports hold every one)."""
TERMINAL_STEPS = 6


def metrics_line(report: Report) -> str | None:
    """One line with the model's metrics on the explained rows, or ``None`` without them."""
    m = report.metrics
    if m is None:
        return None

    def f(v: float | None, d: int = 3) -> str:
        return "–" if v is None else f"{v:.{d}f}"

    if m.task == "regression":
        return (f"Model on the {m.rows} explained rows: R² {f(m.r2)}, RMSE {f(m.rmse, 4)}, "
                f"MAE {f(m.mae, 4)} (target mean {f(m.base_rate, 4)})")  # fmt: skip
    return (f"Model on the {m.rows} explained rows: accuracy {f(m.accuracy)}, ROC AUC "
            f"{f(m.roc_auc)}, log loss {f(m.log_loss)} (base rate {f(m.base_rate)})")  # fmt: skip


def _strip(w: Waterfall, start: float, end: float) -> Text:
    """A :data:`BAR_WIDTH` strip with the step's segment drawn where it lies in the waterfall."""
    lo, hi = w.low, w.high
    span = (hi - lo) or 1.0

    def col(x: float) -> int:
        return min(BAR_WIDTH - 1, max(0, round((x - lo) / span * (BAR_WIDTH - 1))))

    a, b = sorted((col(start), col(end)))
    text = Text(" " * a)
    text.append("█" * (b - a + 1), style="green" if end >= start else "red")
    text.append(" " * (BAR_WIDTH - b - 1))
    return text


def rows_tables(report: Report) -> list[Table]:
    """One table per chosen row (at most :data:`MAX_TERMINAL_ROWS`): the steps of the first
    method's waterfall as rows, each method's contribution and strip as columns."""
    section = report.rows
    if section is None or not section.rows:
        return []
    unlisted = len(report.features) - len(section.features)
    tables = []
    for row in section.rows[:MAX_TERMINAL_ROWS]:
        falls = [waterfall(section, row, m, TERMINAL_STEPS, unlisted) for m in row.methods]
        actual = f", actual {row.target}" if row.target is not None else ""
        title = f"Row {row.id}: predicted {row.predicted}{actual}"
        table = Table(title=title, title_justify="left")
        table.add_column("feature = value", overflow="fold")
        if not falls:
            table.add_row("no method gave per-row values")
            tables.append(table)
            continue
        for w in falls:
            table.add_column(f"{w.method}\n{w.base:.3g} → {w.total:.3g}", no_wrap=True)
        for step in falls[0].steps:
            cells: list[Text | str] = [step.label]
            for w in falls:
                other = next(
                    (s for s in w.steps
                     if (s.folded and step.folded) or (not s.folded and s.label == step.label)),
                    None,
                )  # fmt: skip
                if other is None:  # folded into this method's "other features" step
                    cells.append(Text("(in other)".rjust(9), style="dim"))
                    continue
                cell = Text(f"{other.contribution:+.3g} ".rjust(9))
                cell.append_text(_strip(w, other.start, other.end))
                cells.append(cell)
            table.add_row(*cells)
        tables.append(table)
    return tables


def print_rows(report: Report, console: Console) -> None:
    """Metrics, then the chosen rows' waterfalls and how far the methods agree on each."""
    line = metrics_line(report)
    if line:
        console.print(line, highlight=False, markup=False)
    section = report.rows
    for table in rows_tables(report):
        console.print(table)
    if section is None:
        return
    for row in section.rows[:MAX_TERMINAL_ROWS]:
        pairs = [a for a in row.agreement if a.output == row.shown_output]
        for a in pairs:
            rho = "–" if a.spearman is None else f"{a.spearman:.2f}"
            console.print(
                f"row {row.id}: {a.method_a} vs {a.method_b}: Spearman {rho}, top-{section.top_k} "
                f"overlap {a.topk_jaccard if a.topk_jaccard is not None else '–'}",
                highlight=False, markup=False,
            )  # fmt: skip
    if len(section.rows) > MAX_TERMINAL_ROWS:
        console.print(
            f"{len(section.rows) - MAX_TERMINAL_ROWS} more chosen rows in the reports "
            "(report.html, local.csv)",
            highlight=False,
        )
