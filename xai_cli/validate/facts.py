"""What a run carries for its ``validation`` report section, and how the section is built.

:class:`Facts` rides on :class:`~xai_cli.results.ExplainResult` (its ``validation`` field): the
findings screened in every run and, after ``xai validate``, the scorecard. :func:`section` turns
them, with the run's comparison, into the typed report section (verdict first).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from xai_cli.validate.schema import CheckEntry, FindingEntry, ValidationSection, clean, finite

if TYPE_CHECKING:
    from xai_cli.results import ExplainResult
    from xai_cli.validate.leaks import Finding
    from xai_cli.validate.runner import Scorecard


@dataclass(frozen=True)
class Facts:
    """The measured facts behind a run's verdict."""

    findings: tuple[Finding, ...] = ()
    scorecard: Scorecard | None = None
    screen_error: str | None = None
    """Why the leak screen did not run, when it could not (said in the verdict)."""


def overall(statuses: list[str]) -> str:
    """FAIL if any check failed, else WARN if any warned, else PASS."""
    if "FAIL" in statuses:
        return "FAIL"
    return "WARN" if "WARN" in statuses else "PASS"


def section(result: ExplainResult) -> ValidationSection:
    """The report's validation section of ``result`` (verdict, warnings, scorecard)."""
    from xai_cli.validate.verdict import build

    facts = result.validation if result.validation is not None else Facts()
    methods = [o.method for o in result.outcomes if o.status == "ok" and o.table is not None]
    card = facts.scorecard
    verdict = build(
        result.comparison, methods, facts.findings, None if card is None else card.checks
    )
    if facts.screen_error:
        verdict = (*verdict, f"The leak and identifier screen did not run: {facts.screen_error}.")
    return ValidationSection(
        verdict=verdict,
        findings=tuple(
            FindingEntry(
                kind=f.kind, feature=f.feature, message=f.message, evidence=clean(f.evidence)
            )
            for f in facts.findings
        ),  # fmt: skip
        status="NOT_RUN" if card is None else overall([c.status for c in card.checks]),
        checks=()
        if card is None
        else tuple(
            CheckEntry(
                family=c.family,
                check=c.check,
                method=c.method,
                status=c.status,
                reason=c.reason,
                value=finite(c.value),
                threshold=finite(c.threshold),
                op=c.op,
                test=c.test,
                details=clean(c.details),
            )
            for c in card.checks
        ),  # fmt: skip
        seconds={} if card is None else dict(card.seconds),
        rows=None if card is None else card.rows,
        options={} if card is None else clean(card.options),
    )
