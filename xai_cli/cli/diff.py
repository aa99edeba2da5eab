"""``xai diff A B``: how the explanations changed between two saved ``report.json`` files.

Per method in both: Spearman and Kendall correlation, top-k Jaccard overlap, features entering
and leaving the top-k, rank changes. With ``--min-spearman`` / ``--min-topk-jaccard`` a method
below a threshold makes it exit 1 (2 when a metric is undefined or a named method is missing).
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from xai_cli.cli.audit import status_table
from xai_cli.cli.errors import check_choice, error_boundary
from xai_cli.errors import UsageError

OUTPUT_FORMATS = ("table", "json", "markdown", "none")


def diff_command(
    base: Path = typer.Argument(..., help="The baseline report.json (e.g. from main)."),
    new: Path = typer.Argument(..., help="The new report.json (e.g. from the pull request)."),
    top_k: int | None = typer.Option(None, "--top-k", help="k (default: the new report's)."),
    methods: str | None = typer.Option(
        None, "--methods", "-m", help="Comma-separated methods (default: all in both reports)."
    ),
    min_spearman: float | None = typer.Option(
        None, "--min-spearman", help="Exit 1 when a method's Spearman is below this."
    ),
    min_topk_jaccard: float | None = typer.Option(
        None, "--min-topk-jaccard", help="Exit 1 when a method's top-k Jaccard is below this."
    ),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Folder for diff.json, diff.md and diff.junit.xml."
    ),
    output_format: str = typer.Option(
        "table", "--output-format", help="What stdout shows: table, json, markdown or none."
    ),
    exit_zero: bool = typer.Option(
        False, "--exit-zero", help="Exit 0 even when a threshold is broken (errors still exit 2)."
    ),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
) -> None:
    """Compare the explanations in two report.json files (two model versions)."""
    # Imported here, not at the top, so that `xai --help` does not pay for them (see cli/__init__).
    from rich.console import Console

    from xai_cli.audit import junit, markdown
    from xai_cli.audit.diff import diff_document
    from xai_cli.audit.runner import append_step_summary
    from xai_cli.reports.files import write_files

    err = Console(stderr=True)
    with error_boundary(debug):
        check_choice(output_format, "--output-format", OUTPUT_FORMATS)
        if top_k is not None and top_k < 1:
            raise UsageError("--top-k must be at least 1")
        for name, value in (
            ("--min-spearman", min_spearman),
            ("--min-topk-jaccard", min_topk_jaccard),
        ):
            if value is not None and not -1 <= value <= 1:
                raise UsageError(f"{name} must be between -1 and 1, got {value}")
        from xai_cli.report import Report

        chosen = tuple(m.strip() for m in (methods or "").split(",") if m.strip()) or None
        doc = diff_document(
            Report.read(base),
            Report.read(new),
            base_path=str(base),
            new_path=str(new),
            top_k=top_k,
            methods=chosen,
            min_spearman=min_spearman,
            min_topk_jaccard=min_topk_jaccard,
        )
        text = markdown.render_diff(doc)
        if out is not None:
            files = {
                "diff.json": json.dumps(doc, indent=2, allow_nan=False) + "\n",
                "diff.md": text,
                "diff.junit.xml": junit.render(junit.diff_suites(doc), name="xai diff"),
            }
            write_files({out / name: content for name, content in files.items()}, "the diff")
            err.print(f"diff written to {out}/: {', '.join(files)}", highlight=False)
        summary_file = append_step_summary(text)
        if summary_file:
            err.print(f"summary appended to {summary_file}", highlight=False)
        if output_format == "table":
            console = Console()
            rows = [("", r) for r in doc["results"]]
            console.print(status_table(f"xai diff: {doc['status']}", rows))
        elif output_format == "json":
            typer.echo(json.dumps(doc, indent=2, allow_nan=False))
        elif output_format == "markdown":
            typer.echo(text, nl=False)
        code = doc["exit_code"]
        if exit_zero and code == 1:
            code = 0
        if code:
            raise typer.Exit(code)
