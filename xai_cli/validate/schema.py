"""The report's ``validation`` section: the verdict, the warnings and (after ``xai validate``)
the scorecard. Typed like the rest of :class:`xai_cli.report.Report` and read by every renderer
and the audit's ``validation`` and ``leaks`` rules."""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

CheckStatus = Literal["PASS", "WARN", "FAIL", "SKIP"]


class _Base(BaseModel):
    model_config = ConfigDict(
        frozen=True, extra="forbid", serialize_by_alias=True, use_attribute_docstrings=True
    )


class CheckEntry(_Base):
    """One scorecard check of one method (``(model)`` for checks of the model itself)."""

    family: str
    check: str
    method: str
    status: CheckStatus
    reason: str
    """The measured number, the threshold and why this status."""
    value: float | None
    threshold: float | None
    op: str
    """How ``value`` compares with ``threshold`` for a PASS."""
    test: str
    """Test id in the evaluation reference (T07, T10, ...), or empty."""
    details: dict[str, Any]


class FindingEntry(_Base):
    """A leak, identifier or importance-outlier warning about one feature, with its evidence."""

    kind: Literal["leak", "identifier", "importance_outlier"]
    feature: str
    message: str
    evidence: dict[str, Any]


class ValidationSection(_Base):
    """What the report says about trusting its own numbers: the verdict (sentences built from
    measured facts only), the warnings, and the scorecard when ``xai validate`` ran."""

    verdict: tuple[str, ...]
    findings: tuple[FindingEntry, ...] = ()
    status: Literal["PASS", "WARN", "FAIL", "NOT_RUN"] = "NOT_RUN"
    """The scorecard's overall status (``NOT_RUN`` in ``xai explain`` reports)."""
    checks: tuple[CheckEntry, ...] = ()
    seconds: dict[str, float] = {}
    """Wall time per check family."""
    rows: int | None = None
    """Rows the checks ran on."""
    options: dict[str, Any] = {}

    def of(self, method: str) -> list[CheckEntry]:
        return [c for c in self.checks if c.method == method]


def finite(value: float | None) -> float | None:
    """``None`` for a missing or non-finite number (JSON has no inf)."""
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def clean(data: Any) -> Any:
    """JSON-safe details: non-finite floats become ``None``, numpy scalars plain numbers."""
    if isinstance(data, dict):
        return {str(k): clean(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [clean(v) for v in data]
    if hasattr(data, "item") and not isinstance(data, str):
        data = data.item()
    if isinstance(data, float):
        return finite(data)
    return data
