"""``importances.csv`` and ``agreement.csv``: tidy tables for pandas, spreadsheets and diffs.

Text cells that a spreadsheet would run as a formula (a feature or class name starting with ``=``,
``+``, ``-``, ``@``, tab, CR or NUL) get a leading ``'`` (:func:`~xai_cli.reports.escape.csv_cell`);
numbers are written as numbers, negative ones included.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from xai_cli.reports.escape import csv_text

if TYPE_CHECKING:
    from xai_cli.report import Report

IMPORTANCE_COLUMNS = ("method", "class", "feature", "value", "share", "rank")
AGREEMENT_COLUMNS = ("method_a", "method_b", "class", "spearman", "kendall", "topk_jaccard")
LOCAL_COLUMNS = (
    "row", "method", "class", "feature", "feature_value", "value", "base_value", "output",
)  # fmt: skip
OTHER_FEATURES = "(other features)"
"""The ``feature`` of the row holding the sum over features a wide model's report does not list."""


def _table(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    body = (["" if cell is None else cell for cell in row] for row in rows)
    return csv_text([columns, *body])


def render_importances(report: Report) -> str:
    """One row per method, class and feature: raw value, share and rank."""
    return _table(
        IMPORTANCE_COLUMNS,
        ((r.method, r.output, r.feature, r.value, r.share, r.rank) for r in report.importances),
    )


def render_agreement(report: Report) -> str:
    """One row per method pair and class: Spearman, Kendall, top-k Jaccard; empty = undefined."""
    return _table(
        AGREEMENT_COLUMNS,
        (
            (a.method_a, a.method_b, a.output, a.spearman, a.kendall, a.topk_jaccard)
            for a in report.agreement
        ),
    )


def render_local(report: Report) -> str | None:
    """``local.csv``: one row per chosen row, method, class and feature: the feature's raw value,
    its attribution, the method's base value and its output (base + every attribution). ``None``
    (no file) when no rows were chosen."""
    if report.rows is None:
        return None
    return _table(LOCAL_COLUMNS, local_rows(report))


def local_rows(report: Report) -> list[tuple[Any, ...]]:
    """The rows of ``local.csv`` (:data:`LOCAL_COLUMNS`), as values (no CSV escaping)."""
    rows = report.rows
    if rows is None:
        return []
    body: list[tuple[Any, ...]] = []
    listed_all = len(rows.features) == len(report.features)
    for row in rows.rows:
        for m in row.methods:
            for k, output in enumerate(rows.outputs):
                base, total = m.base_values[k], m.total[k]
                for i, feature in enumerate(rows.features):
                    body.append(
                        (row.id, m.method, output, feature, row.values[i], m.values[i][k], base,
                         total)
                    )  # fmt: skip
                if not listed_all:
                    body.append((row.id, m.method, output, OTHER_FEATURES, None, m.other[k], base,
                                 total))  # fmt: skip
    return body
