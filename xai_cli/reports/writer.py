"""Writing report files atomically: each file is written to a temporary name beside its target and
renamed into place, so a reader never sees a half-written report and an old one survives a crash."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from xai_cli.errors import UsageError, XaiError
from xai_cli.reports import csv as csv_report
from xai_cli.reports import html as html_report
from xai_cli.reports import json as json_report
from xai_cli.reports import markdown as markdown_report
from xai_cli.reports.document import Document

FORMATS: dict[str, dict[str, Callable[[Document], str]]] = {
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


def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file in the same folder and ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_reports(doc: Document, out_dir: Path, formats: tuple[str, ...]) -> list[Path]:
    """Render every requested format first, then write the files; returns their paths.

    Rendering everything before writing anything means a renderer error leaves no partial set.
    """
    rendered = {name: fn(doc) for fmt in formats for name, fn in FORMATS[fmt].items()}
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise XaiError(
            f"cannot create the output folder {out_dir}", cause=str(exc), hint="pass another --out"
        ) from exc
    paths = []
    for name, text in rendered.items():
        atomic_write(out_dir / name, text)
        paths.append(out_dir / name)
    return paths
