"""``report.json``: the report itself, the one file every other report can be re-rendered from."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from xai_cli.report import Report


def render(report: Report) -> str:
    """The report as indented JSON (NaN never appears: the report holds ``null`` instead)."""
    return json.dumps(report.to_json_data(), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
