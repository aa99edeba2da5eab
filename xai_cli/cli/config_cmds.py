"""``xai init`` (a commented starter config) and ``xai schema`` (the JSON Schema of the config, or
of ``report.json`` with ``xai schema report``)."""

from __future__ import annotations

import json
from importlib import resources

import typer


def starter_config() -> str:
    """The text of the commented starter config that ``xai init`` prints."""
    return resources.files("xai_cli").joinpath("starter.yaml").read_text(encoding="utf-8")


def init_command() -> None:
    """Print a commented starter config: `xai init > configs/my-model.yaml`."""
    typer.echo(starter_config(), nl=False)


SCHEMAS = ("config", "report")


def schema_command(
    what: str = typer.Argument(
        "config", help="config (the `xai run`/`xai audit` YAML) or report (report.json)."
    ),
) -> None:
    """Print a JSON Schema: `xai schema > xai-config.schema.json`, or `xai schema report`."""
    from xai_cli.cli.errors import check_choice, error_boundary

    with error_boundary(False):
        check_choice(what, "SCHEMA", SCHEMAS)
    if what == "report":
        from xai_cli.report import report_json_schema

        typer.echo(json.dumps(report_json_schema(), indent=2))
    else:
        from xai_cli.config.schema import json_schema  # pydantic: only when the command runs

        typer.echo(json.dumps(json_schema(), indent=2))
