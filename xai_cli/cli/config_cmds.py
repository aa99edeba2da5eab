"""``xai init`` (a commented starter config) and ``xai schema`` (the config's JSON Schema)."""

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


def schema_command() -> None:
    """Print the config's JSON Schema: `xai schema > xai-config.schema.json`."""
    from xai_cli.config.schema import json_schema  # pydantic: only when the command runs

    typer.echo(json.dumps(json_schema(), indent=2))
