"""Method parameters, declared once: a small pydantic model per method, and its error messages.

Each backend names its parameter model in ``Explainer.params`` (:mod:`xai_cli.methods.base`): the
names, types, bounds, defaults and descriptions live there and nowhere else. The command line
(``--param METHOD:KEY=VALUE``, values as text), the ``xai run`` config (its JSON Schema is built
from these models) and :class:`xai_cli.request.ExplainRequest` all validate through
:func:`parse`, so a misspelt name or an out-of-range value is refused, with a "did you mean",
before any model is loaded. Backends read the typed object, never ``dict.get`` with a default.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from xai_cli.errors import ParamError


class MethodParams(BaseModel):
    """Base of every method's parameters: unknown names are errors; values are immutable.

    Not strict, so text from the command line is coerced (``"3"`` -> ``3``); the config file
    validates the same models strictly (see :mod:`xai_cli.config.schema`).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)


class NoParams(MethodParams):
    """The parameters of a method that takes none."""


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """``" (did you mean 'x'?)"`` for the closest of ``choices``, or ``""``."""
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


_BOUNDS = {
    "greater_than_equal": ("ge", ">="),
    "greater_than": ("gt", ">"),
    "less_than_equal": ("le", "<="),
    "less_than": ("lt", "<"),
}
_KINDS = {
    "int_parsing": "an integer",
    "int_type": "an integer",
    "int_from_float": "a whole number",
    "float_parsing": "a number",
    "float_type": "a number",
    "bool_parsing": "true or false",
    "bool_type": "true or false",
    "string_type": "text",
}


def out_of_range(err: Mapping[str, Any]) -> str | None:
    """``must be >= 1 (got 0)`` for a pydantic bound error, else ``None``."""
    if err["type"] not in _BOUNDS:
        return None
    name, sign = _BOUNDS[err["type"]]
    return f"must be {sign} {(err.get('ctx') or {}).get(name)} (got {err.get('input')})"


def _message(method: str, model: type[MethodParams], err: Mapping[str, Any]) -> str:
    """One pydantic error as one plain sentence naming the method and the parameter."""
    key = ".".join(str(p) for p in err["loc"])
    kind, value, ctx = err["type"], err.get("input"), err.get("ctx") or {}
    if kind == "extra_forbidden":
        names = list(model.model_fields)
        if not names:
            return f"method '{method}' takes no parameters (got '{key}')"
        return f"unknown parameter '{key}' for method '{method}'{did_you_mean(key, names)}"
    bound = out_of_range(err)
    if bound is not None:
        return f"{method}: {key} {bound}"
    if kind == "literal_error":
        expected = str(ctx.get("expected", ""))
        hint = did_you_mean(str(value), re.findall(r"'([^']*)'", expected))
        return f"{method}: {key} must be {expected} (got {value!r}){hint}"
    if kind in _KINDS:
        return f"{method}: {key} must be {_KINDS[kind]} (got {value!r})"
    return f"{method}: {key}: {err['msg']} (got {value!r})"


def describe_field(name: str, model: type[MethodParams]) -> str:
    """``n_repeats (integer >= 1, default 5)``: one parameter for hints and help."""
    schema = model.model_json_schema()["properties"][name]
    return f"{name} ({_type_text(schema)}, default {_default(model, name)})"


def _default(model: type[MethodParams], name: str) -> str:
    """A field's default as a user writes it; ``unset`` for ``None`` (the description says
    what unset means)."""
    value = model.model_fields[name].default
    return "unset" if value is None else repr(value)


def _type_text(schema: Mapping[str, Any]) -> str:
    """A field's JSON Schema in words: ``integer >= 1``, ``'auto' or 'native'`` (an optional
    value's ``null`` is left out: leaving it unset is how a user gives it)."""
    options = [o for o in schema.get("anyOf", []) if o.get("type") != "null"]
    if options:
        return " or ".join(_type_text(o) for o in options)
    if "enum" in schema:
        return " or ".join(repr(v) for v in schema["enum"])
    if "const" in schema:
        return repr(schema["const"])
    kind = {"integer": "integer", "number": "number", "string": "text", "boolean": "true/false",
            "null": "null"}.get(schema.get("type", ""), "value")  # fmt: skip
    bounds = [
        f"{sign} {schema[key]}"
        for key, sign in (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<="),
                          ("exclusiveMaximum", "<"))  # fmt: skip
        if key in schema
    ]
    return " ".join([kind, ", ".join(bounds)]).strip()


def parse(method: str, model: type[MethodParams], values: Any) -> MethodParams:
    """``values`` (a mapping, or already a ``model``) validated as ``method``'s parameters.

    Raises :class:`ParamError` with every problem in one line: unknown names with the closest
    known one, out-of-range values with the bound, wrong types with what was expected.
    """
    if isinstance(values, model):
        return values
    if isinstance(values, MethodParams):
        values = values.model_dump(exclude_unset=True)
    if not isinstance(values, Mapping):
        raise ParamError(
            f"parameters of method '{method}' must be a mapping of name to value, "
            f"got {type(values).__name__}"
        )
    try:
        return model.model_validate(dict(values))
    except ValidationError as exc:
        problems = [_message(method, model, err) for err in exc.errors()]
        names = [describe_field(n, model) for n in model.model_fields]
        hint = f"{method} takes: " + "; ".join(names) if names else None
        raise ParamError("; ".join(dict.fromkeys(problems)), hint=hint) from None


def parse_options(items: Iterable[str]) -> dict[str, dict[str, str]]:
    """``--param METHOD:KEY=VALUE`` options as ``{method: {key: "value"}}``, values as text.

    Only the shape is checked here; names and values are validated (and text coerced) by each
    method's model, through :func:`xai_cli.methods.validate_params`.
    """
    out: dict[str, dict[str, str]] = {}
    for item in items:
        method, sep, rest = item.partition(":")
        key, eq, text = rest.partition("=")
        if not (sep and eq and method.strip() and key.strip()):
            raise ParamError(
                f"--param '{item}' is not METHOD:KEY=VALUE",
                hint="e.g. --param treeshap.interventional:background_rows=500",
            )
        out.setdefault(method.strip(), {})[key.strip()] = text.strip()
    return out


def markdown_table(explainers: Iterable[Any]) -> str:
    """The README's table of every method's parameters (one row a parameter)."""
    lines = ["| method | parameter | type and bounds | default | what it does |",
             "|---|---|---|---|---|"]  # fmt: skip
    for explainer in explainers:
        model: type[MethodParams] = explainer.params
        properties = model.model_json_schema().get("properties", {})
        for name, info in model.model_fields.items():
            lines.append(
                f"| `{explainer.name}` | `{name}` | {_type_text(properties[name])} | "
                f"{_default(model, name)} | {info.description or ''} |"
            )
    return "\n".join(lines) + "\n"

