"""``xai explain MODEL DATA``: every applicable method on one model, reports and a summary."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import typer

from xai_cli.cli.errors import check_choice, error_boundary, print_error
from xai_cli.errors import UsageError
from xai_cli.request import DEFAULT_MAX_ROWS

OUTPUT_FORMATS = ("table", "json", "none")


def _split(values: list[str]) -> tuple[str, ...]:
    return tuple(v.strip() for item in values for v in item.split(",") if v.strip())


def _parse_params(items: list[str]) -> dict[str, dict[str, object]]:
    """``METHOD:KEY=VALUE`` options as ``{method: {key: value}}``; integers and floats are
    converted, anything else stays text (each backend validates its own parameters)."""
    from xai_cli.methods import REGISTRY  # the method modules import numpy, pandas and numba

    out: dict[str, dict[str, object]] = {}
    for item in items:
        method, sep, rest = item.partition(":")
        key, eq, text = rest.partition("=")
        if not (sep and eq and method and key):
            raise UsageError(
                f"--param '{item}' is not METHOD:KEY=VALUE",
                hint="e.g. --param treeshap.interventional:background_rows=500",
            )
        value: object = text
        for convert in (int, float):
            try:
                value = convert(text)
                break
            except ValueError:
                continue
        if method.strip() not in REGISTRY:
            raise UsageError(
                f"--param '{item}': unknown method '{method.strip()}'",
                hint="`xai methods MODEL` lists the method ids",
            )
        out.setdefault(method.strip(), {})[key.strip()] = value
    return out


def explain_command(
    model: Path = typer.Argument(
        ..., help="Model file: .pkl/.pickle/.joblib, .json/.ubj, .txt, .cbm"
    ),
    data: Path = typer.Argument(..., help="Data file: .csv or .parquet"),
    target: str | None = typer.Option(
        None,
        "--target",
        "-t",
        help="Label column; methods that need labels are skipped without it.",
    ),
    methods: str = typer.Option(
        "auto", "--methods", "-m", help="Comma-separated method ids, or 'auto' for all that apply."
    ),
    out: Path = typer.Option(Path("xai-report"), "--out", "-o", help="Folder for the reports."),
    formats: str = typer.Option(
        "all", "--format", "-f", help="Report files to write: json,csv,md,html or all."
    ),
    top_k: int = typer.Option(5, "--top-k", help="k for top-k overlap and consensus."),
    max_rows: str = typer.Option(
        str(DEFAULT_MAX_ROWS),
        "--max-rows",
        help="Explain a seeded sample of at most N rows (stratified by target), or 'all'.",
    ),
    seed: int = typer.Option(0, "--seed", help="Seed for sampling and permutations."),
    drop: list[str] = typer.Option(
        [], "--drop", help="Columns to leave out (repeat or comma-separate)."
    ),
    trust_model: bool = typer.Option(
        False, "--trust-model", help="Load pickles with a full unpickler (runs any code in them)."
    ),
    engine: str = typer.Option(
        "local", "--engine", help="Where row-wise methods run: local, or dask (streams every row)."
    ),
    scheduler: str | None = typer.Option(
        None, "--scheduler", help="Dask scheduler (tcp://host:8786); default: a LocalCluster."
    ),
    chunk_rows: int | None = typer.Option(
        None,
        "--chunk-rows",
        help="Stream row-wise methods (TreeSHAP) over every row, this many rows at a time.",
    ),
    output_format: str = typer.Option(
        "table", "--output-format", help="What stdout shows: table, json (the report) or none."
    ),
    param: list[str] = typer.Option(
        [],
        "--param",
        help="A method parameter as METHOD:KEY=VALUE (repeatable), e.g. "
        "treeshap:engine=native or treeshap.interventional:background_rows=500.",
    ),
    n_jobs: int | None = typer.Option(
        None,
        "--n-jobs",
        help="Threads for row-chunk parallel backends (treeshap); results are identical for any "
        "count. Default: all cores.",
    ),
    estimate_only: bool = typer.Option(
        False,
        "--estimate",
        help="Only estimate each method's time (timed pilots on a few rows), print it and exit.",
    ),
    no_estimate: bool = typer.Option(
        False, "--no-estimate", help="Skip the time estimate before running (saves its pilots)."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress messages on stderr."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
) -> None:
    """Explain MODEL on DATA with every applicable method and write comparison reports.

    Before running, each method's time is estimated from timed pilots on a few rows and shown on
    stderr (``--estimate`` stops there).
    """
    # Imported here, not at the top, so that `xai --help` does not pay for them (see cli/__init__).
    from rich.console import Console

    from xai_cli.cli.console import print_estimates, print_summary
    from xai_cli.load.data import resolve_max_rows
    from xai_cli.reports.document import build_document, ok_methods
    from xai_cli.reports.writer import parse_formats, write_reports
    from xai_cli.run.engine import ExplainRequest, estimates, explain, prepare
    from xai_cli.run.estimate import describe_estimates

    err = Console(stderr=True, quiet=quiet)
    with error_boundary(debug):
        check_choice(output_format, "--output-format", OUTPUT_FORMATS)
        chosen_formats = parse_formats(formats)
        if trust_model:
            err.print(
                f"[yellow]warning:[/] --trust-model: {model} is loaded with a full unpickler and "
                "can run any code in it",
                highlight=False,
            )
        request = ExplainRequest(
            model_path=str(model),
            data_path=str(data),
            target=target,
            methods=_split([methods]) or ("auto",),
            max_rows=resolve_max_rows(max_rows),
            seed=seed,
            top_k=top_k,
            trust_model=trust_model,
            drop=_split(drop),
            engine=engine,
            scheduler=scheduler,
            chunk_rows=chunk_rows,
            n_jobs=n_jobs,
            params=_parse_params(param),
        )
        if estimate_only:
            with err.status("estimating…") as status:
                prepared = prepare(request, progress=lambda msg: status.update(msg))
                found = estimates(request, prepared, progress=lambda msg: status.update(msg))
            if output_format == "json":
                typer.echo(json.dumps([dataclasses.asdict(e) for e in found], indent=2))
            elif output_format == "table":
                print_estimates(found, Console())
            return
        with err.status("explaining…") as status:
            result = explain(
                request,
                progress=lambda msg: status.update(msg),
                on_estimates=None
                if no_estimate
                else lambda found: err.print(describe_estimates(found), highlight=False),
            )
        doc = build_document(result)
        paths = write_reports(doc, out, chosen_formats)
        if output_format == "table":
            print_summary(doc, Console())
        elif output_format == "json":
            typer.echo(json.dumps(doc, indent=2, allow_nan=False))
        for note in doc["provenance"]["notes"]:
            err.print(f"note: {note}", highlight=False)
        err.print(f"reports written to {out}/: {', '.join(p.name for p in paths)}", highlight=False)
        if not ok_methods(doc):
            print_error(
                "nothing-computed",
                "no method produced a result",
                "; ".join(f"{m['method']}: {m['reason']}" for m in doc["methods"])[:500] or None,
                "see the report for each method's reason; `xai methods MODEL` lists what applies",
            )
            raise typer.Exit(2)
