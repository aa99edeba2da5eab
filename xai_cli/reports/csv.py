"""``importances.csv`` and ``agreement.csv``: tidy tables for pandas, spreadsheets and diffs.

Text cells that a spreadsheet would run as a formula (a feature or class name starting with ``=``,
``+``, ``-``, ``@``, tab, CR or NUL) get a leading ``'`` (:func:`~xai_cli.reports.escape.csv_cell`);
numbers are written as numbers, negative ones included.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from xai_cli.reports.document import Document
from xai_cli.reports.escape import csv_text

IMPORTANCE_COLUMNS = ("method", "class", "feature", "value", "share", "rank")
AGREEMENT_COLUMNS = ("method_a", "method_b", "class", "spearman", "kendall", "topk_jaccard")


def _table(columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> str:
    body = (["" if row[c] is None else row[c] for c in columns] for row in rows)
    return csv_text([columns, *body])


def render_importances(doc: Document) -> str:
    """One row per method, class and feature: raw value, share and rank."""
    return _table(IMPORTANCE_COLUMNS, doc["importances"])


def render_agreement(doc: Document) -> str:
    """One row per method pair and class: Spearman, Kendall, top-k Jaccard; empty = undefined."""
    return _table(AGREEMENT_COLUMNS, doc["agreement"])
