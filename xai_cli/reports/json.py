"""``report.json``: the document itself, the one file every other report can be re-rendered from."""

from __future__ import annotations

import json

from xai_cli.reports.document import Document


def render(doc: Document) -> str:
    """The document as indented JSON (NaN never appears: the document holds ``null`` instead)."""
    return json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
