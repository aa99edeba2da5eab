"""``xai methods MODEL``: which backends apply to a model, and why the others do not."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from xai_cli.cli.errors import error_boundary


def methods_command(
    model: Path = typer.Argument(..., help="Model file to check the methods against."),
    trust_model: bool = typer.Option(False, "--trust-model", help="Full unpickler (runs code)."),
    max_model_size: str = typer.Option(
        None, "--max-model-size", help="Model size cap, e.g. 8G (default 1G)."
    ),
    level: str = typer.Option(
        "raw", "--level", help="A pipeline's features: raw input columns or encoded features."
    ),
    output_format: str = typer.Option("table", "--output-format", help="table or json."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
) -> None:
    """List every method, whether it applies to MODEL, and why not."""
    # Imported here, not at the top, so that `xai --help` does not pay for them (see cli/__init__).
    from rich.console import Console
    from rich.table import Table

    from xai_cli.errors import UsageError
    from xai_cli.load.models import load_model
    from xai_cli.methods import REGISTRY
    from xai_cli.model.adapter import adapt
    from xai_cli.request import LEVELS
    from xai_cli.run.routes import route

    with error_boundary(debug):
        if level not in LEVELS:
            raise UsageError(f"unknown level '{level}'", hint=f"use one of: {', '.join(LEVELS)}")
        adapter = adapt(load_model(model, trust=trust_model, max_bytes=max_model_size).obj)
        rows = []
        for explainer in REGISTRY.values():
            support, space = route(explainer, adapter, level)
            description = explainer.description
            if support.ok and adapter.pipeline is not None and space == "encoded":
                description += (
                    "; runs on the encoded matrix via the final estimator"
                    + (", summed to raw columns" if level == "raw" else "")
                )
            elif support.ok and adapter.pipeline is not None:
                description += "; runs on the raw columns"
            rows.append(
                {
                    "method": explainer.name,
                    "applies": support.ok,
                    "in_auto": explainer.in_auto,
                    "space": space if support.ok else None,
                    "needs_target": explainer.needs_target,
                    "reason": support.reason or None,
                    "description": description,
                }
            )
        rows.sort(key=lambda r: not r["applies"])  # what applies first, then why the rest not
        if output_format == "json":
            payload = {
                "model": str(model),
                "family": adapter.family,
                "task": adapter.task,
                "methods": rows,
            }
            typer.echo(json.dumps(payload, indent=2))
            return
        table = Table(
            title=f"{model}: {adapter.model_class} ({adapter.family}, {adapter.task})",
            title_justify="left",
        )
        # At 80 columns the ids users must type are never cut: the id column takes the width of
        # the longest id and never wraps; the description folds instead of ending in "…".
        width = max(len(row["method"]) for row in rows)
        table.add_column("method", no_wrap=True, min_width=width)
        table.add_column("applies", no_wrap=True)
        table.add_column("why not / what", overflow="fold", ratio=1)
        for row in rows:
            if not row["applies"]:
                applies = "[red]no[/]"
            else:
                applies = "[green]yes[/]" if row["in_auto"] else "[green]if named[/]"
            if row["needs_target"]:
                applies += " (-t)"
            table.add_row(row["method"], applies, row["reason"] or row["description"])
        Console().print(table)
        if any(row["needs_target"] for row in rows):
            Console().print("(-t): needs labels, `xai explain ... --target COL`", highlight=False)
        if any(row["applies"] and not row["in_auto"] for row in rows):
            Console().print("if named: auto leaves it out; run it with -m METHOD", highlight=False)
        for note in adapter.notes:
            Console(stderr=True).print(f"note: {note}", highlight=False)
