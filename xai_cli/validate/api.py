"""Validation as a step after an explain run: the scorecard attached to an Explanation.

Shared by ``xai.validate(model, X, y)``, ``xai validate MODEL DATA`` and the audit's
``validation`` rule: each runs (or reuses) the explain run and then :func:`validated`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from xai_cli.explanation import Explanation
from xai_cli.request import ExplainRequest
from xai_cli.validate.checks import ValidateOptions


def options_from(options: ValidateOptions | Mapping[str, Any] | None) -> ValidateOptions:
    """``options`` as :class:`ValidateOptions` (a mapping is validated; ``None``: defaults).
    Raises :class:`xai_cli.errors.ParamError` with the field and why on a bad value."""
    from pydantic import ValidationError

    from xai_cli.errors import ParamError

    if isinstance(options, ValidateOptions):
        return options
    try:
        return ValidateOptions.model_validate(dict(options or {}))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "validate"
        raise ParamError(
            f"validate option {where}: {first['msg']}",
            hint="options: " + ", ".join(ValidateOptions.model_fields),
        ) from exc


def validated(
    explanation: Explanation,
    request: ExplainRequest,
    options: ValidateOptions,
    progress: Callable[[str], None] | None = None,
    families: frozenset[str] | None = None,
) -> Explanation:
    """``explanation`` with its scorecard measured and attached (the report's verdict reads it);
    ``families``: only those check families (``None``: all)."""
    from xai_cli.validate.context import Subject
    from xai_cli.validate.facts import Facts
    from xai_cli.validate.runner import scorecard

    if explanation.prepared is None:
        raise ValueError("validation needs the explain run's prepared model and rows")
    subject = Subject(request, explanation.prepared, explanation.result, options)
    card = scorecard(subject, progress or (lambda _: None), families)
    facts = explanation.result.validation or Facts()
    result = dataclasses.replace(
        explanation.result, validation=dataclasses.replace(facts, scorecard=card)
    )
    return Explanation(result, prepared=explanation.prepared)
