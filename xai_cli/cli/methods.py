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
    output_format: str = typer.Option("table", "--output-format", help="table or json."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
) -> None:
    """List every method, whether it applies to MODEL, and why not."""
    # Imported here, not at the top, so that `xai --help` does not pay for them (see cli/__init__).
    from rich.console import Console
    from rich.table import Table

    from xai_cli.load.models import load_model
    from xai_cli.methods import REGISTRY
    from xai_cli.model.adapter import adapt

    with error_boundary(debug):
        adapter = adapt(load_model(model, trust=trust_model, max_bytes=max_model_size).obj)
        rows = []
        for explainer in REGISTRY.values():
            support = explainer.supports(adapter)
            rows.append(
                {
                    "method": explainer.name,
                    "applies": support.ok,
                    "needs_target": explainer.needs_target,
                    "reason": support.reason or None,
                    "description": explainer.description,
                }
            )
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
            applies = "[green]yes[/]" if row["applies"] else "[red]no[/]"
            if row["needs_target"]:
                applies += " (-t)"
            table.add_row(row["method"], applies, row["reason"] or row["description"])
        Console().print(table)
        if any(row["needs_target"] for row in rows):
            Console().print("(-t): needs labels, `xai explain ... --target COL`", highlight=False)
        for note in adapter.notes:
            Console(stderr=True).print(f"note: {note}", highlight=False)
