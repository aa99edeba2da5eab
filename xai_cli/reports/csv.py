"""``importances.csv`` and ``agreement.csv``: tidy tables for pandas, spreadsheets and diffs."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

from xai_cli.reports.document import Document

IMPORTANCE_COLUMNS = ("method", "class", "feature", "value", "share", "rank")
AGREEMENT_COLUMNS = ("method_a", "method_b", "class", "spearman", "kendall", "topk_jaccard")


def _table(columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row[c] is None else row[c] for c in columns])
    return buffer.getvalue()


def render_importances(doc: Document) -> str:
    """One row per method, class and feature: raw value, share and rank."""
    return _table(IMPORTANCE_COLUMNS, doc["importances"])


def render_agreement(doc: Document) -> str:
    """One row per method pair and class: Spearman, Kendall, top-k Jaccard; empty = undefined."""
    return _table(AGREEMENT_COLUMNS, doc["agreement"])
