"""The ``validation`` section for every renderer: verdict, warnings and the scorecard matrix.

Renderers read the typed section (:class:`xai_cli.validate.schema.ValidationSection`); this
module lays it out once (a methods x checks matrix, the non-passing reasons) so the terminal,
Markdown and HTML show the same thing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from xai_cli.reports.escape import md_text

if TYPE_CHECKING:
    from xai_cli.report import Report
    from xai_cli.validate.schema import ValidationSection

MARK = {"PASS": "PASS", "WARN": "WARN", "FAIL": "FAIL", "SKIP": "–"}


def matrix(section: ValidationSection) -> dict[str, Any]:
    """``{"columns": [check, ...], "rows": [{"method": m, "cells": [status or None]}]}``, plus
    the model-level checks and every non-passing, applicable check with its reason."""
    columns: list[str] = []
    methods: list[str] = []
    cell: dict[tuple[str, str], Any] = {}
    model, notes = [], []
    for c in section.checks:
        if c.method == "(model)":
            model.append(c)
            continue
        if c.check not in columns:
            columns.append(c.check)
        if c.method not in methods:
            methods.append(c.method)
        cell[(c.method, c.check)] = c
        if c.status in ("FAIL", "WARN"):
            notes.append(c)
    notes += [c for c in model if c.status in ("FAIL", "WARN")]
    rows = [{"method": m, "cells": [cell.get((m, k)) for k in columns]} for m in methods]
    return {"columns": columns, "rows": rows, "model": model, "notes": notes}


def markdown(report: Report) -> list[str]:
    """The Markdown lines of the verdict, the warnings and the scorecard (empty for old
    reports without the section)."""
    section = report.validation
    if section is None:
        return []
    lines = ["### Verdict", ""]
    lines += [f"- {md_text(s)}" for s in section.verdict]
    if section.findings:
        lines += ["", "### Warnings", ""]
        lines += [f"- **{md_text(f.kind)}** {md_text(f.feature)}: {md_text(f.message)}"
                  for f in section.findings]  # fmt: skip
    if section.checks:
        m = matrix(section)
        lines += ["", f"### Scorecard: {section.status}", "",
                  "| method | " + " | ".join(md_text(c) for c in m["columns"]) + " |",
                  "|---|" + "---|" * len(m["columns"])]  # fmt: skip
        for row in m["rows"]:
            cells = [MARK[c.status] if c is not None else "" for c in row["cells"]]
            lines.append(f"| {md_text(row['method'])} | " + " | ".join(cells) + " |")
        for c in m["model"]:
            lines.append(f"\nModel check **{md_text(c.check)}**: {c.status}: {md_text(c.reason)}")
        if m["notes"]:
            lines += ["", "Checks that did not pass:", ""]
            lines += [f"- {c.status} {md_text(c.method)} {md_text(c.check)}"
                      f"{' (' + c.test + ')' if c.test else ''}: {md_text(c.reason)}"
                      for c in m["notes"]]  # fmt: skip
    lines.append("")
    return lines
