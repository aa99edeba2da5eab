"""The ``xai`` command line. This package is the only one that imports typer and rich.

Start-up: the command modules imported here declare their Typer signatures (options, help texts,
defaults) and import nothing heavy at the top; each command function imports numpy, pandas, rich,
the pipeline and the model libraries when it runs. So ``xai --version`` and every ``--help`` cost
little more than importing typer (``tests/test_entry_points.py`` guards it, ``make bench`` times
it). Keep new imports in the command modules inside the functions that need them.
"""

from __future__ import annotations

import sys

import typer

from xai_cli import __version__
from xai_cli.cli import audit as _audit
from xai_cli.cli import config_cmds as _config_cmds
from xai_cli.cli import diff as _diff
from xai_cli.cli import explain as _explain
from xai_cli.cli import methods as _methods
from xai_cli.cli import run as _run
from xai_cli.cli import validate as _validate

app = typer.Typer(
    name="xai",
    help="Run every explanation method that applies to a tabular model, side by side, and "
    "measure how far they agree.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help, as ruff and pip print it: no rich import for --help
)
app.command("explain")(_explain.explain_command)
app.command("methods")(_methods.methods_command)
app.command("run")(_run.run_command)
app.command("init")(_config_cmds.init_command)
app.command("schema")(_config_cmds.schema_command)
app.command("audit")(_audit.audit_command)
app.command("diff")(_diff.diff_command)
app.command("validate")(_validate.validate_command)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"xai-cli {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """xai: explanation methods side by side."""


def main() -> None:
    """Console-script entry point (``xai`` and ``python -m xai_cli``)."""
    sys.exit(app())
