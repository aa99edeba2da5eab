"""``xai audit CONFIG``: run the config's jobs, check its ``audit:`` rules, write the outputs.

Exit codes: 0 when no rule is FAIL or ERROR, 1 when a rule failed, 2 when a rule could not be
evaluated (ERROR) or the config, a file or the command line has a problem. ``--exit-zero`` turns
the 1 into 0 (report findings without failing the pipeline); problems that stop the audit from
giving a verdict still exit 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from xai_cli.cli.errors import error_boundary

if TYPE_CHECKING:
    from rich.table import Table

STYLES = {
    "PASS": "green",
    "WARN": "yellow",
    "FAIL": "bold red",
    "ERROR": "bold magenta",
    "SKIP": "dim",
}
MESSAGE_WIDTH = 110


def status_table(title: str, rows: list[tuple[str, dict]]) -> Table:
    """A short table of rules (or methods) and their statuses."""
    from rich.table import Table

    several = len({job for job, _ in rows}) > 1
    table = Table(title=title, title_justify="left")
    if several:
        table.add_column("job", no_wrap=True)
    for column in ("status", "rule", "type", "result"):
        table.add_column(column, no_wrap=column != "result")
    for job, r in rows:
        message = r["message"]
        if len(message) > MESSAGE_WIDTH:
            message = message[: MESSAGE_WIDTH - 1] + "…"
        cells = [f"[{STYLES[r['status']]}]{r['status']}[/]", r["rule"], r["type"], message]
        table.add_row(*([job] if several else []), *cells)
    return table


def audit_command(
    config: Path = typer.Argument(..., help="Config file with jobs and an `audit:` section."),
    baseline: Path | None = typer.Option(
        None,
        "--baseline",
        "-b",
        help="Baseline report.json for the drift rule, or a folder of <job>/report.json.",
    ),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Output folder (default: the config's output.folder)."
    ),
    exit_zero: bool = typer.Option(
        False, "--exit-zero", help="Exit 0 even when a rule fails (errors still exit 2)."
    ),
    jobs: int = typer.Option(1, "--jobs", "-j", help="Jobs to audit in parallel (processes)."),
    resume: bool = typer.Option(
        False,
        "--resume",
        help="Reuse jobs whose inputs, settings, rules and baseline are unchanged.",
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress messages on stderr."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
) -> None:
    """Audit models in CI: explain each job, check the rules, write JUnit/Markdown/JSON/HTML."""
    # Imported here, not at the top, so that `xai --help` does not pay for them (see cli/__init__).
    from rich.console import Console

    from xai_cli.audit import markdown
    from xai_cli.audit.runner import append_step_summary, load_audit, run_audit, write_outputs
    from xai_cli.config.load import Overrides
    from xai_cli.errors import UsageError

    err = Console(stderr=True, quiet=quiet)
    with error_boundary(debug):
        if jobs < 1:
            raise UsageError("--jobs must be at least 1")
        plan = load_audit(config, Overrides(out=out))
        with err.status("auditing…") as status:
            doc, audited = run_audit(
                plan,
                baseline,
                progress=lambda m: status.update(m),
                n_jobs=jobs,
                resume=resume,
                debug=debug,
            )
        out_dir = plan.plan.out_dir
        write_outputs(doc, audited, out_dir)
        summary_file = append_step_summary(markdown.render_audit(doc))
        rows = [(j["name"], r) for j in doc["jobs"] for r in j["results"]]
        console = Console()
        console.print(status_table(f"xai audit: {doc['status']}", rows))
        counts = " · ".join(f"{n} {s}" for s, n in doc["summary"].items() if n)
        console.print(f"{counts} → exit {doc['exit_code']}", highlight=False)
        err.print(
            f"audit written to {out_dir}/: audit.json, audit.md, audit.junit.xml and a folder of "
            "reports per job" + (f"; summary appended to {summary_file}" if summary_file else ""),
            highlight=False,
        )
        code = doc["exit_code"]
        if exit_zero and code == 1:
            err.print("--exit-zero: a rule failed, exiting 0", highlight=False)
            code = 0
        if code:
            raise typer.Exit(code)
