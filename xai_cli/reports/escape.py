"""Making data-derived text inert in the report formats that would otherwise act on it.

Feature names, class labels, paths, job and rule names, method reasons and notes come from the
user's model, data and config, and a report is often opened by someone else: a spreadsheet runs a
CSV cell that starts with ``=``, a Markdown viewer shows a live image or link, or passes raw HTML
through. Each renderer sends every such string through one of these helpers:

* :func:`csv_cell` for CSV cells (OWASP's advice on CSV injection), and :func:`csv_text` to write
  whole CSV files with it;
* :func:`md_text` for Markdown text, including table cells;
* :func:`html_text` for text inside the raw HTML blocks a Markdown report uses (``<summary>``),
  where Markdown escapes are not processed.

The HTML report needs none of them: Jinja2 autoescapes it and a Content-Security-Policy backs it up.
"""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Iterable, Sequence
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\0")
"""A text cell starting with one of these is a formula (or is trimmed into one) in Excel,
LibreOffice Calc or Google Sheets: OWASP's list (``= + - @``, tab, carriage return) plus NUL
(OWASP ASVS 1.2.10)."""

_BREAKS = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]+")
"""Line breaks and other control characters: one space in Markdown, where a newline would end
a table row or start a new block."""

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~:@$^])")
"""ASCII punctuation with a meaning somewhere in CommonMark or GitHub Flavored Markdown: emphasis,
code spans, links and images, headings, lists, tables (``|``), strikethrough, autolinks
(``http:``, ``www.``, ``user@host``), math (``$``) and footnotes (``[^``). Each gets a backslash,
which every CommonMark renderer turns back into the bare character. ``< > &`` become entities."""


def csv_cell(value: Any) -> Any:
    """``value`` safe for a spreadsheet: text starting with a formula character gets a leading
    ``'`` so it stays text; numbers (negative ones included), ``None`` and other text unchanged.

    Only strings are neutralised: a number written by :mod:`csv` is a number in every reader, and
    quoting one would turn ``-0.5`` into text for pandas and spreadsheets alike.
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_text(rows: Iterable[Sequence[Any]]) -> str:
    """CSV text of ``rows`` (header first), every cell through :func:`csv_cell`, ``\n`` line ends.

    Each row is written with ``\r\n`` as the writer's line terminator and then given a ``\n``:
    :mod:`csv` quotes a field only when it holds a character of the terminator, so with ``\n``
    alone a name holding a carriage return would be written bare and split its row in every
    reader (pandas, Excel, :mod:`csv` itself).
    """
    lines = []
    for row in rows:
        line = io.StringIO()
        csv.writer(line, lineterminator="\r\n").writerow([csv_cell(cell) for cell in row])
        lines.append(line.getvalue()[:-2] + "\n")
    return "".join(lines)


def md_text(value: object) -> str:
    """``value`` as inert Markdown text, safe inside a table cell and inside a paragraph.

    No image, link, autolink, emphasis, code span or raw HTML can come out of it; pipes are
    escaped so a table keeps its columns, and line breaks and control characters become one space
    so a cell stays in its row and a name cannot start a heading, list or quote.
    """
    text = _BREAKS.sub(" ", str(value))
    text = html.escape(text, quote=False)
    return _MD_SPECIAL.sub(r"\\\1", text)


def html_text(value: object) -> str:
    """``value`` as text inside a raw HTML block of a Markdown file (e.g. ``<summary>``), where
    Markdown escapes would show literally: HTML-escaped, with line breaks flattened so the block
    does not end early."""
    return html.escape(_BREAKS.sub(" ", str(value)), quote=True)
