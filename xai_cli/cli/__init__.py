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
from xai_cli.cli import warmup as _warmup
from xai_cli.cli.help import XaiCommand, epilog

app = typer.Typer(
    name="xai",
    help="Run every explanation method that applies to a tabular model, side by side, and "
    "measure how far they agree.",
    no_args_is_help=True,
    add_completion=True,  # xai --install-completion / --show-completion (bash, zsh, fish, pwsh)
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help, as ruff and pip print it: no rich import for --help
)


def _command(name: str, function: object) -> None:
    """Register ``function`` as ``xai NAME``, with placeholders and examples in its help."""
    app.command(name, cls=XaiCommand, epilog=epilog(name))(function)  # type: ignore[arg-type]


_command("explain", _explain.explain_command)
_command("methods", _methods.methods_command)
_command("run", _run.run_command)
_command("init", _config_cmds.init_command)
_command("schema", _config_cmds.schema_command)
_command("audit", _audit.audit_command)
_command("diff", _diff.diff_command)
_command("warmup", _warmup.warmup_command)
_command("validate", _validate.validate_command)


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
