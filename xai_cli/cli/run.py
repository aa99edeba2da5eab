"""``xai run CONFIG``: every job of a YAML config, in parallel, with batch reports and a summary."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from xai_cli.cli.errors import check_choice, error_boundary
from xai_cli.errors import UsageError

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import TaskID
    from rich.table import Table

    from xai_cli.run.batch import JobOutcome

OUTPUT_FORMATS = ("table", "json", "none")


class BatchDisplay:
    """The stderr display: one line per running job and an overall bar with an ETA.

    On a terminal it is a live rich display; otherwise (CI logs, pipes) one line per finished job.
    """

    def __init__(self, console: Console, total: int) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.console = console
        self.live = console.is_terminal and not console.quiet
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(bar_width=24),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
            disable=not self.live,
            transient=True,
        )
        self.overall = self.progress.add_task("[bold]jobs", total=total)
        self.running: dict[str, TaskID] = {}
        self.started = time.perf_counter()
        self.total = total
        self.finished = 0

    def notify(self, name: str, message: str) -> None:
        """Progress from a job: it started, made a step, or finished."""
        if message == "start" and name not in self.running:
            self.running[name] = self.progress.add_task(f"  {name}: starting", total=None)
        elif message == "done":
            task = self.running.pop(name, None)
            if task is not None:
                self.progress.remove_task(task)
        elif name in self.running:
            self.progress.update(self.running[name], description=f"  {name}: {message}")

    def result(self, outcome: JobOutcome) -> None:
        """A job ended: advance the bar, and log a line when there is no live display."""
        self.finished += 1
        self.progress.advance(self.overall)
        if not self.live:
            detail = f" — {outcome.error}" if outcome.error else ""
            self.console.print(
                f"[{self.finished}/{self.total}] {outcome.name}: {outcome.status} "
                f"({outcome.elapsed_s:.1f} s){detail}",
                highlight=False,
                markup=False,
            )


def summary_table(outcomes: list[JobOutcome]) -> Table:
    """Every job with its status and key figures."""
    from rich.table import Table

    table = Table(title="xai run summary", title_justify="left")
    table.add_column("job", overflow="fold")
    table.add_column("status", no_wrap=True)
    table.add_column("methods ok", justify="right")
    table.add_column("consensus top features")
    table.add_column("lowest agreement (Spearman)")
    table.add_column("time", justify="right", no_wrap=True)
    styles = {"ok": "green", "skipped": "cyan", "error": "bold red"}
    for o in outcomes:
        low = o.lowest_agreement
        agreement = (
            f"{low['spearman']:.2f} {low['method_a']} / {low['method_b']}" if low else "–"
        )
        consensus = ", ".join(o.consensus[:3]) + (", …" if len(o.consensus) > 3 else "")
        table.add_row(
            o.name,
            f"[{styles[o.status]}]{o.status}[/]",
            "–" if o.status == "error" else str(len(o.methods_ok)),
            o.error if o.status == "error" else (consensus or "–"),
            agreement,
            f"{o.elapsed_s:.1f} s",
        )
    return table


def run_command(
    config: Path = typer.Argument(..., help="YAML config (see `xai init`, `xai schema`)."),
    jobs: int = typer.Option(1, "--jobs", "-j", help="Jobs to run in parallel (processes)."),
    resume: bool = typer.Option(
        False, "--resume", help="Skip jobs whose inputs, settings and outputs are unchanged."
    ),
    out: Path | None = typer.Option(None, "--out", "-o", help="Override output.folder."),
    formats: str | None = typer.Option(None, "--format", "-f", help="Override output.formats."),
    top_k: int | None = typer.Option(None, "--top-k", help="Override output.top_k."),
    max_rows: str | None = typer.Option(
        None, "--max-rows", help="Override every job's max_rows (a number of rows, or 'all')."
    ),
    seed: int | None = typer.Option(None, "--seed", help="Override every job's seed."),
    methods: str | None = typer.Option(
        None, "--methods", "-m", help="Override every job's methods (comma-separated)."
    ),
    trust_model: bool = typer.Option(
        False, "--trust-model", help="Load every pickle with a full unpickler (runs its code)."
    ),
    engine: str | None = typer.Option(
        None, "--engine", help="Override execution.engine: local, or dask (streams every row)."
    ),
    scheduler: str | None = typer.Option(
        None, "--scheduler", help="Override execution.scheduler (a Dask scheduler address)."
    ),
    chunk_rows: int | None = typer.Option(
        None, "--chunk-rows", help="Override execution.chunk_rows (stream row-wise methods)."
    ),
    time_limit: str | None = typer.Option(
        None,
        "--time-limit",
        help="Override execution.time_limit: longest estimated time per method (10m, 2h, none).",
    ),
    output_format: str = typer.Option(
        "table", "--output-format", help="What stdout shows: table, json (the summary) or none."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress on stderr."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
) -> None:
    """Run every job of CONFIG; write per-job reports plus index.html and summary.csv/.json."""
    # Imported here, not at the top, so that `xai --help` does not pay for them (see cli/__init__).
    from rich.console import Console

    from xai_cli.config.load import Overrides, load_plan
    from xai_cli.load.data import resolve_max_rows
    from xai_cli.reports.batch import write_batch_reports
    from xai_cli.reports.writer import parse_formats
    from xai_cli.run.batch import JobOutcome, plan_summary, run_plan
    from xai_cli.run.estimate import resolve_time_limit

    err = Console(stderr=True, quiet=quiet)
    with error_boundary(debug):
        check_choice(output_format, "--output-format", OUTPUT_FORMATS)
        if jobs < 1:
            raise UsageError("--jobs must be at least 1")
        if top_k is not None and top_k < 1:
            raise UsageError("--top-k must be at least 1")
        rows = None if max_rows is None else (resolve_max_rows(max_rows) or "all")
        chosen_methods = tuple(m.strip() for m in (methods or "").split(",") if m.strip())
        overrides = Overrides(
            out=out,
            formats=parse_formats(formats) if formats else None,
            top_k=top_k,
            seed=seed,
            max_rows=rows,
            methods=chosen_methods or None,
            trust_model=trust_model,
            engine=engine,
            scheduler=scheduler,
            chunk_rows=chunk_rows,
            time_limit=None if time_limit is None else str(time_limit),
        )
        if time_limit is not None:
            resolve_time_limit(time_limit)  # a bad value is a usage error, before the config
        plan = load_plan(config, overrides)
        if any(job.request.trust_model for job in plan.jobs):
            err.print(
                "[yellow]warning:[/] some models are loaded with a full unpickler (trust) and "
                "can run any code in them",
                highlight=False,
            )
        display = BatchDisplay(err, len(plan.jobs))
        with display.progress:
            outcomes = run_plan(
                plan,
                n_jobs=jobs,
                resume=resume,
                notify=display.notify,
                on_result=display.result,
                debug=debug,
            )
        summary = plan_summary(plan, outcomes)
        write_batch_reports(summary, plan.out_dir)
        ordered = [JobOutcome.from_dict(j) for j in summary["jobs"]]
        if output_format == "table":
            Console().print(summary_table(ordered))
        elif output_format == "json":
            typer.echo(json.dumps(summary, indent=2, allow_nan=False))
        counts = summary["counts"]
        err.print(
            f"{counts['ok']} ran, {counts['skipped']} unchanged, {counts['error']} failed; "
            f"index: {plan.out_dir / 'index.html'}",
            highlight=False,
        )
        if counts["error"]:
            raise typer.Exit(2)
