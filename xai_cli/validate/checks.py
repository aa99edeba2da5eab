"""The scorecard's vocabulary: one :class:`Check` per (check, method), and the options.

A check is a measured number, the threshold it is judged against, and a status with the reason:
``PASS``, ``WARN``, ``FAIL`` or ``SKIP`` (the check does not apply, or could not run; the reason
says which). Checks are plain frozen values; the report schema (:mod:`xai_cli.validate.schema`)
copies them, and the verdict (:mod:`xai_cli.validate.verdict`) reads them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

CheckStatus = Literal["PASS", "WARN", "FAIL", "SKIP"]
MODEL = "(model)"
"""The ``method`` of a check about the model itself (routing parity, the noise floor)."""

FAMILIES = ("exactness", "routing", "sanity", "faithfulness", "probes", "stability")
"""The check families, in the order the scorecard shows them."""


@dataclass(frozen=True)
class Check:
    """One check of one method: ``value`` judged against ``threshold`` (``op`` says how)."""

    family: str
    check: str
    method: str
    status: CheckStatus
    reason: str
    value: float | None = None
    threshold: float | None = None
    op: str = ""
    """How ``value`` is compared with ``threshold`` for a PASS: ``<=``, ``>=``, ``<`` or ``>``."""
    test: str = ""
    """The test id of ``evaluation_methods.md`` (T07, T10, ...)."""
    details: dict[str, Any] = field(default_factory=dict)


def skip(family: str, check: str, method: str, reason: str, test: str = "") -> Check:
    """A check that does not apply (or could not run), with why."""
    return Check(family, check, method, "SKIP", reason, test=test)


def judged(
    family: str,
    check: str,
    method: str,
    value: float,
    threshold: float,
    op: str,
    *,
    warn: float | None = None,
    test: str = "",
    what: str = "",
    details: dict[str, Any] | None = None,
) -> Check:
    """``value`` against ``threshold``: PASS when ``value op threshold``; else WARN when it is
    still within ``warn`` (on the same side), else FAIL. ``what`` names the number in the
    reason."""
    better = {"<=": lambda a, b: a <= b, "<": lambda a, b: a < b,
              ">=": lambda a, b: a >= b, ">": lambda a, b: a > b}[op]  # fmt: skip
    if better(value, threshold):
        status: CheckStatus = "PASS"
    elif warn is not None and better(value, warn):
        status = "WARN"
    else:
        status = "FAIL"
    reason = f"{what or check} {_g(value)} (pass {op} {_g(threshold)}" + (
        f", warn {op} {_g(warn)})" if warn is not None else ")"
    )
    return Check(family, check, method, status, reason, float(value), float(threshold), op, test,
                 details or {})  # fmt: skip


def _g(value: float) -> str:
    return f"{value:.3g}"


class ValidateOptions(BaseModel):
    """Settings of ``xai validate`` (the CLI options, the config's ``validate:`` block and
    ``xai.validate(...)`` all build this). Defaults keep the cost near two ``xai explain`` runs
    of the validated model (``make bench`` measures it)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rows: int = Field(200, ge=20, description="Rows the checks run on (a seeded sample).")
    spot_rows: int = Field(3, ge=1, le=50, description="Rows of the exact-Shapley spot checks.")
    spot_background: int = Field(
        20, ge=2, le=200, description="Background rows of the interventional spot checks."
    )
    max_players: int = Field(
        10,
        ge=2,
        le=14,
        description="Most features enumerated exactly per interventional spot "
        "check (2^n coalitions); the others are held at the row's values.",
    )
    perturbations: int = Field(10, ge=2, le=200, description="Perturbations per row (T13).")
    resamples: int = Field(10, ge=3, le=200, description="Bootstrap resamples for T14.")
    probes: bool = Field(
        True,
        description="Planted probes through a refit copy, and the held-out noise floor "
        "(both need labels).",
    )
    floor_repeats: int = Field(
        10, ge=5, le=1000, description="Bootstrap-and-permute repeats of the noise floor."
    )
    label_randomisation: bool = Field(
        False, description="T11: refit on permuted labels (opt-in: a refit per method family)."
    )
    top_k: int | None = Field(
        None,
        ge=1,
        description="k of the faithfulness and probe checks; default: the explain run's top_k.",
    )
