"""Rule statuses and the frozen result every rule returns.

Statuses (after evidently's test suites): ``PASS``; ``WARN`` (a ``warn`` rule is broken);
``FAIL`` (a ``fail`` rule is broken); ``ERROR`` (the rule could not be evaluated, with why);
``SKIP`` (the rule does not apply here, with why). Exit codes follow from them: 2 when anything
is ``ERROR`` (the audit could not fully run, so its verdict cannot be trusted), else 1 when
anything is ``FAIL``, else 0.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

Status = Literal["PASS", "WARN", "FAIL", "ERROR", "SKIP"]
STATUSES: tuple[Status, ...] = ("PASS", "WARN", "FAIL", "ERROR", "SKIP")
Severity = Literal["fail", "warn"]


def _frozen(value: Any) -> Any:
    """A deep, read-only copy of JSON-like data (mappings become read-only views)."""
    if isinstance(value, Mapping):
        return MappingProxyType({str(k): _frozen(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(_frozen(v) for v in value)
    return value


def _plain(value: Any) -> Any:
    """The JSON-safe form of :func:`_frozen` data."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


@dataclass(frozen=True)
class RuleResult:
    """One rule's verdict on one job: status, a one-line message and JSON-safe details."""

    rule: str
    type: str
    severity: Severity
    status: Status
    message: str
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown status {self.status!r}")
        details = _frozen(dict(self.details))
        json.dumps(_plain(details), allow_nan=False)  # fail here, not in a renderer
        object.__setattr__(self, "details", details)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form used in ``audit.json`` and the report's ``audit`` section."""
        return {
            "rule": self.rule,
            "type": self.type,
            "severity": self.severity,
            "status": self.status,
            "message": self.message,
            "details": _plain(self.details),
        }


def verdict(ok: bool, severity: Severity) -> Status:
    """``PASS`` when the rule holds; otherwise ``FAIL`` or ``WARN`` by severity."""
    if ok:
        return "PASS"
    return "FAIL" if severity == "fail" else "WARN"


def counts(statuses: Iterable[str]) -> dict[str, int]:
    """How many of each status, every status present (zero included), in a fixed order."""
    seen = list(statuses)
    return {s: seen.count(s) for s in STATUSES}


def exit_code(statuses: Iterable[str]) -> int:
    """2 if any ``ERROR``, else 1 if any ``FAIL``, else 0 (``WARN`` and ``SKIP`` pass)."""
    seen = set(statuses)
    if "ERROR" in seen:
        return 2
    return 1 if "FAIL" in seen else 0
