"""``xai explain MODEL DATA``: every applicable method on one model, reports and a summary."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import typer

from xai_cli.cli.errors import check_choice, error_boundary, print_error
from xai_cli.request import (
    DEFAULT_ENGINE,
    DEFAULT_MAX_ROWS,
    DEFAULT_METHODS,
    DEFAULT_SEED,
    DEFAULT_TOP_K,
)

OUTPUT_FORMATS = ("table", "json", "none")


def _split(values: list[str]) -> tuple[str, ...]:
    return tuple(v.strip() for item in values for v in item.split(",") if v.strip())


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
        ",".join(DEFAULT_METHODS),
        "--methods",
        "-m",
        help="Comma-separated method ids, or 'auto' for all that apply.",
    ),
    out: Path = typer.Option(Path("xai-report"), "--out", "-o", help="Folder for the reports."),
    formats: str = typer.Option(
        "all", "--format", "-f", help="Report files to write: json,csv,md,html or all."
    ),
    top_k: int = typer.Option(DEFAULT_TOP_K, "--top-k", help="k for top-k overlap and consensus."),
    max_rows: str = typer.Option(
        str(DEFAULT_MAX_ROWS),
        "--max-rows",
        help="Explain a seeded sample of at most N rows (stratified by target), or 'all'.",
    ),
    seed: int = typer.Option(DEFAULT_SEED, "--seed", help="Seed for sampling and permutations."),
    drop: list[str] = typer.Option(
        [], "--drop", help="Columns to leave out (repeat or comma-separate)."
    ),
    rows: list[str] = typer.Option(
        [],
        "--rows",
        help="Rows to explain one by one, every method side by side: 0-based positions in the "
        "data (17,42), or ids with --id-column. Always explained, even when sampling.",
    ),
    where: str | None = typer.Option(
        None,
        "--where",
        help="Explain the rows matching a pandas query on the data, e.g. \"age > 60 and "
        "income == '>50K'\" (at most 100 rows).",
    ),
    id_column: str | None = typer.Option(
        None,
        "--id-column",
        help="A column naming the rows (not a feature): --rows takes its values, reports show "
        "them.",
    ),
    max_model_size: str = typer.Option(
        None,
        "--max-model-size",
        help="Refuse model files that are (or expand to) more than this, e.g. 8G (default 1G, "
        "or XAI_MAX_MODEL_SIZE).",
    ),
    trust_model: bool = typer.Option(
        False, "--trust-model", help="Load pickles with a full unpickler (runs any code in them)."
    ),
    engine: str = typer.Option(
        DEFAULT_ENGINE,
        "--engine",
        help="Where row-wise methods run: local, or dask (streams every row).",
    ),
    scheduler: str | None = typer.Option(
        None, "--scheduler", help="Dask scheduler (tcp://host:8786); default: a LocalCluster."
    ),
    chunk_rows: int | None = typer.Option(
        None,
        "--chunk-rows",
        help="Stream row-wise methods (TreeSHAP) over every row, this many rows at a time.",
    ),
    memory_budget: str | None = typer.Option(
        None,
        "--memory-budget",
        help="Memory a run may hold for its rows and per-row results (e.g. 4GiB, or none): "
        "--max-rows all over it streams row-wise methods on its own. Default: "
        "XAI_MEMORY_BUDGET, else a quarter of physical memory, at most 2GiB.",
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
    level: str = typer.Option(
        "raw",
        "--level",
        help="A scikit-learn Pipeline's features: raw (its input columns; encoded features' "
        "values summed per column) or encoded (what its final estimator sees).",
    ),
    estimate_only: bool = typer.Option(
        False,
        "--estimate",
        help="Only estimate each method's time (timed pilots on a few rows), print it and exit.",
    ),
    no_estimate: bool = typer.Option(
        False,
        "--no-estimate",
        help="Skip the time estimate before running (saves its pilots; no --time-limit check).",
    ),
    time_limit: str | None = typer.Option(
        None,
        "--time-limit",
        help="Longest estimated time per method (600, 90s, 10m, 2h, or none; default 10m): "
        "over it, a method auto chose is skipped with the reason, a method named in "
        "--methods stops the run before anything runs.",
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress messages on stderr."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
) -> None:
    """Explain MODEL on DATA with every applicable method and write comparison reports.

    Before running, each method's time is estimated (a cost model; timed pilots on a few rows
    only when the run looks long) and shown on stderr (`--estimate` pilots and stops there).
    """
    # Imported here, not at the top, so that `xai --help` does not pay for them (see cli/__init__).
    from rich.console import Console

    from xai_cli.api import explain_request
    from xai_cli.cli.console import print_estimates, print_summary
    from xai_cli.cli.progress import run_progress
    from xai_cli.load.data import resolve_max_rows
    from xai_cli.methods.params import parse_options
    from xai_cli.reports.writer import parse_formats
    from xai_cli.run.engine import ExplainRequest, estimates, prepare
    from xai_cli.run.estimate import describe_estimates, resolve_time_limit

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
            methods=_split([methods]),
            max_rows=resolve_max_rows(max_rows),
            seed=seed,
            top_k=top_k,
            trust_model=trust_model,
            max_model_size=max_model_size,
            drop=_split(drop),
            rows=_split(rows),
            where=where,
            id_column=id_column,
            engine=engine,
            scheduler=scheduler,
            chunk_rows=chunk_rows,
            n_jobs=n_jobs,
            params=parse_options(param),
            time_limit=resolve_time_limit(time_limit),
            level=level,
            memory_budget=memory_budget,
        )
        if estimate_only:
            with run_progress(err, quiet=quiet) as step:
                prepared = prepare(request, progress=step)
                found = estimates(request, prepared, progress=step, pilot=True)
            if output_format == "json":
                typer.echo(json.dumps([dataclasses.asdict(e) for e in found], indent=2))
            elif output_format == "table":
                print_estimates(found, Console())
            return
        with run_progress(err, quiet=quiet) as step:
            explanation = explain_request(
                request,
                progress=step,
                on_estimates=None
                if no_estimate
                else lambda found: err.print(describe_estimates(found), highlight=False),
            )
        report = explanation.report
        paths = explanation.save(out, chosen_formats)
        if output_format == "table":
            print_summary(report, Console())
        elif output_format == "json":
            typer.echo(json.dumps(report.to_json_data(), indent=2, allow_nan=False))
        for note in report.provenance.notes:
            err.print(f"note: {note}", highlight=False)
        err.print(f"reports written to {out}/: {', '.join(p.name for p in paths)}", highlight=False)
        if not report.ok_methods():
            print_error(
                "nothing-computed",
                "no method produced a result",
                "; ".join(f"{m.method}: {m.reason}" for m in report.methods)[:500] or None,
                "see the report for each method's reason; `xai methods MODEL` lists what applies",
            )
            raise typer.Exit(2)
