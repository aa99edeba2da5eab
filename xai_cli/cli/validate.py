"""``xai validate MODEL DATA``: a scorecard of checks per method on the user's model, and
``xai validate --suite``: the synthetic known-answer suite against every registered method."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from xai_cli.cli.errors import check_choice, error_boundary
from xai_cli.request import DEFAULT_MAX_ROWS, DEFAULT_METHODS, DEFAULT_SEED, DEFAULT_TOP_K

OUTPUT_FORMATS = ("table", "json", "none")


def _split(values: list[str]) -> tuple[str, ...]:
    return tuple(v.strip() for item in values for v in item.split(",") if v.strip())


def validate_command(
    model: Path | None = typer.Argument(None, help="Model file (not needed with --suite)."),
    data: Path | None = typer.Argument(None, help="Data file: .csv or .parquet."),
    target: str | None = typer.Option(
        None, "--target", "-t", help="Label column (probes, noise floor and T11 need it)."
    ),
    methods: str = typer.Option(
        ",".join(DEFAULT_METHODS), "--methods", "-m", help="Method ids to validate, or 'auto'."
    ),
    out: Path = typer.Option(Path("xai-validate"), "--out", "-o", help="Folder for the reports."),
    formats: str = typer.Option("all", "--format", "-f", help="json,csv,md,html or all."),
    top_k: int = typer.Option(DEFAULT_TOP_K, "--top-k", help="k of top-k checks."),
    max_rows: str = typer.Option(
        str(DEFAULT_MAX_ROWS), "--max-rows", help="Rows of the explain run (or 'all')."
    ),
    seed: int = typer.Option(DEFAULT_SEED, "--seed", help="Seed for every draw."),
    drop: list[str] = typer.Option([], "--drop", help="Columns to leave out."),
    param: list[str] = typer.Option([], "--param", help="METHOD:KEY=VALUE (repeatable)."),
    trust_model: bool = typer.Option(
        False, "--trust-model", help="Load pickles with a full unpickler (runs any code in them)."
    ),
    rows: int = typer.Option(200, "--rows", help="Rows the checks run on (a seeded sample)."),
    spot_rows: int = typer.Option(3, "--spot-rows", help="Rows of the exact-Shapley checks."),
    resamples: int = typer.Option(10, "--resamples", help="Bootstrap resamples (T14)."),
    no_probes: bool = typer.Option(False, "--no-probes", help="Skip the planted-probe refit."),
    label_randomisation: bool = typer.Option(
        False, "--label-randomisation", help="T11: refit on permuted labels (two refits)."
    ),
    junit: Path | None = typer.Option(None, "--junit", help="Also write JUnit XML here."),
    suite: bool = typer.Option(
        False,
        "--suite",
        help="Run the synthetic known-answer suite (T01-T06, T08, T09, T15) "
        "against every registered method instead.",
    ),
    suite_out: Path | None = typer.Option(
        None, "--suite-out", help="With --suite: write the results table (Markdown) here."
    ),
    output_format: str = typer.Option(
        "table", "--output-format", help="stdout: table, json (the report) or none."
    ),
    exit_zero: bool = typer.Option(False, "--exit-zero", help="Exit 0 even when a check fails."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress messages on stderr."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
) -> None:
    """Validate every method on MODEL and DATA: a scorecard per method (each check with its
    number, threshold and PASS/WARN/FAIL/SKIP), and the verdict at the top of the reports.

    Exit 0 when no check fails, 1 when one does (--exit-zero: 0), 2 on bad input.
    """
    from rich.console import Console

    from xai_cli.errors import UsageError

    err = Console(stderr=True, quiet=quiet)
    with error_boundary(debug):
        check_choice(output_format, "--output-format", OUTPUT_FORMATS)
        if suite:
            _suite(suite_out, seed, output_format, exit_zero, err)
            return
        if model is None or data is None:
            raise UsageError(
                "xai validate needs MODEL and DATA", hint="or pass --suite for the synthetic suite"
            )
        from xai_cli.api import explain_request
        from xai_cli.cli.console import print_verdict
        from xai_cli.load.data import resolve_max_rows
        from xai_cli.methods.params import parse_options
        from xai_cli.reports.writer import parse_formats
        from xai_cli.run.engine import ExplainRequest
        from xai_cli.validate.api import options_from, validated

        chosen_formats = parse_formats(formats)
        options = options_from({
            "rows": rows, "spot_rows": spot_rows, "resamples": resamples,
            "probes": not no_probes, "label_randomisation": label_randomisation,
        })  # fmt: skip
        request = ExplainRequest(
            model_path=str(model), data_path=str(data), target=target,
            methods=_split([methods]), max_rows=resolve_max_rows(max_rows), seed=seed,
            top_k=top_k, trust_model=trust_model, drop=_split(drop),
            params=parse_options(param),
        )  # fmt: skip
        with err.status("explaining…") as status:
            explanation = explain_request(request, progress=lambda m: status.update(m))
            explanation = validated(
                explanation, request, options, progress=lambda m: status.update(m)
            )
        report = explanation.report
        paths = explanation.save(out, chosen_formats)
        section = report.validation
        assert section is not None
        if junit is not None:
            from xai_cli.audit.junit import render, validation_suites

            junit.parent.mkdir(parents=True, exist_ok=True)
            junit.write_text(render(validation_suites(section, str(model)), "xai validate"))
        if output_format == "table":
            console = Console()
            prov = report.provenance
            console.print(
                f"[bold]{prov.model_class}[/] ({prov.family}, {prov.task}): scorecard on "
                f"{section.rows} rows: [bold]{section.status}[/]",
                highlight=False,
            )
            print_verdict(report, console)
            console.print(scorecard_table(section))
            for c in [c for c in section.checks if c.status in ("FAIL", "WARN")]:
                console.print(f"  {c.status} {c.method} {c.check}: {c.reason}",
                              highlight=False, markup=False)  # fmt: skip
        elif output_format == "json":
            typer.echo(json.dumps(report.to_json_data(), indent=2, allow_nan=False))
        spent = ", ".join(f"{k} {v:.1f}s" for k, v in section.seconds.items())
        err.print(f"checks took: {spent}", highlight=False)
        err.print(f"reports written to {out}/: {', '.join(p.name for p in paths)}", highlight=False)
        if section.status == "FAIL" and not exit_zero:
            raise typer.Exit(1)


SHORT = {
    "additivity": "add", "exact_shapley": "exact", "parameter_randomisation": "T10",
    "label_randomisation": "T11", "prediction_gap": "T13", "noise_probe": "noise",
    "cardinality_probe": "card", "twin_probe": "twin", "resample_stability": "resam",
    "seed_stability": "seed",
}  # fmt: skip
"""Column labels that fit an 80-column terminal (the reports spell the checks out; cells show
P, W, F or - for PASS, WARN, FAIL and SKIP)."""
CELL = {"PASS": "P", "WARN": "W", "FAIL": "F", "SKIP": "-"}


def scorecard_table(section):  # noqa: ANN001, ANN201 - rich is imported lazily
    """Methods x checks, one status per cell (model-level checks as their own row)."""
    from rich.table import Table

    from xai_cli.reports.validation import matrix

    m = matrix(section)
    style = {"PASS": "green", "WARN": "yellow", "FAIL": "red bold", "SKIP": "dim"}
    table = Table(title="Scorecard (P pass, W warn, F fail, - skip)", title_justify="left")
    table.add_column("method", style="bold", no_wrap=True)
    for column in m["columns"]:
        table.add_column(SHORT.get(column, column))
    for row in m["rows"]:
        cells = [
            "" if c is None else f"[{style[c.status]}]{CELL[c.status]}[/]" for c in row["cells"]
        ]
        table.add_row(row["method"], *cells)
    for c in m["model"]:
        table.add_row(f"(model) {c.check}", f"[{style[c.status]}]{CELL[c.status]}[/]")
    return table


def _suite(out: Path | None, seed: int, output_format: str, exit_zero: bool, err) -> None:  # noqa: ANN001
    from rich.console import Console

    from xai_cli.validate.suite import markdown_table, run_suite

    results = run_suite(seed=seed, progress=lambda m: err.print(m, highlight=False))
    text = markdown_table(results)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        err.print(f"suite table written to {out}", highlight=False)
    if output_format == "json":
        typer.echo(json.dumps([r.as_json() for r in results], indent=2))
    elif output_format == "table":
        Console().print(text, markup=False, highlight=False)
    unexpected = [r for r in results if r.status == "FAIL" and not r.expected_fail]
    if unexpected and not exit_zero:
        raise typer.Exit(1)
