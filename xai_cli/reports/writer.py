"""The report formats and writing a report set: every file of the set is written to a temporary
beside its target and renamed into place only when all are written (:mod:`xai_cli.reports.files`),
so a reader never sees a half-written report and a failed write leaves the old set as it was."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from xai_cli.errors import UsageError
from xai_cli.reports import csv as csv_report
from xai_cli.reports import html as html_report
from xai_cli.reports import json as json_report
from xai_cli.reports import markdown as markdown_report
from xai_cli.reports.files import write_files

if TYPE_CHECKING:
    from xai_cli.report import Report

FORMATS: dict[str, dict[str, Callable[[Report], str]]] = {
    "json": {"report.json": json_report.render},
    "csv": {
        "importances.csv": csv_report.render_importances,
        "agreement.csv": csv_report.render_agreement,
    },
    "md": {"report.md": markdown_report.render},
    "html": {"report.html": html_report.render},
}
"""Each ``--format`` name and the files it writes."""

FORMAT_ALIASES = {"markdown": "md", "htm": "html"}

OPTIONAL_FILES: dict[str, dict[str, Callable[[Report], str | None]]] = {
    "csv": {"local.csv": csv_report.render_local},
}
"""Files a format writes only when the report has their content (``None``: not written):
``local.csv`` only when rows were chosen with ``--rows``/``--where``."""


def parse_formats(spec: str) -> tuple[str, ...]:
    """``"json,html"`` -> ``("json", "html")``; ``"all"`` -> every format; unknown names fail."""
    names = [FORMAT_ALIASES.get(n.strip().lower(), n.strip().lower()) for n in spec.split(",")]
    names = [n for n in names if n]
    if names == ["all"]:
        return tuple(FORMATS)
    unknown = [n for n in names if n not in FORMATS]
    if unknown or not names:
        raise UsageError(
            f"unknown report format: {', '.join(unknown) or repr(spec)}",
            hint=f"use a comma-separated list of: {', '.join(FORMATS)} (or all)",
        )
    return tuple(dict.fromkeys(names))


def atomic_write(path: Path, text: str, what: str = "the file") -> None:
    """Write one file through :func:`~xai_cli.reports.files.write_files` (a temporary beside it,
    fsync, rename); a failure is an :class:`~xai_cli.errors.OutputError` and leaves the old file."""
    write_files({path: text}, what)


def write_reports(
    report: Report, out_dir: Path, formats: tuple[str, ...], shown: Path | None = None
) -> list[Path]:
    """Render every requested format, then write the files all or nothing; returns their paths.

    Rendering everything before writing anything means a renderer error leaves no partial set;
    :func:`~xai_cli.reports.files.write_files` means a write error (disk full, read-only folder)
    does not either: it raises :class:`~xai_cli.errors.OutputError` and the previous report set
    stays as it was. ``shown`` is the folder an error names (``xai run`` writes a job into a
    hidden partial folder and names the job's folder).
    """
    rendered = {out_dir / name: fn(report) for fmt in formats for name, fn in FORMATS[fmt].items()}
    for fmt in formats:
        for name, optional in OPTIONAL_FILES.get(fmt, {}).items():
            if (text := optional(report)) is not None:
                rendered[out_dir / name] = text
    return write_files(rendered, "the reports", shown)
