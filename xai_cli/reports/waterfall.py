"""The steps of a waterfall: from a method's base value, one feature at a time, to its output.

Shared by the HTML report (inline SVG), the Markdown report and the terminal, so all three show
the same features in the same order. Features are taken largest |attribution| first; past
``max_steps`` the rest are folded into one "N other features" step, so the last step always ends
at the method's output (base value + every attribution).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from xai_cli.report_rows import RowEntry, RowMethodEntry, RowsSection

MAX_STEPS = 10
"""Features drawn one by one; the rest are one step."""


@dataclass(frozen=True)
class Step:
    """One bar: ``label`` (``feature = value``), its attribution and where it starts and ends."""

    feature: str
    value_text: str | None
    """The feature's raw value in this row (``None``: missing, or a folded step)."""
    contribution: float
    start: float
    end: float
    folded: int = 0
    """Features folded into this step (0 for a single feature)."""

    @property
    def label(self) -> str:
        if self.folded:
            return f"{self.folded} other features"
        return f"{self.feature} = {'missing' if self.value_text is None else self.value_text}"


@dataclass(frozen=True)
class Waterfall:
    """A method's waterfall for one row and output."""

    method: str
    unit: str
    output: str
    base: float
    total: float
    steps: tuple[Step, ...]

    @property
    def low(self) -> float:
        return min([self.base, self.total, *(s.end for s in self.steps)])

    @property
    def high(self) -> float:
        return max([self.base, self.total, *(s.end for s in self.steps)])


def waterfall(
    section: RowsSection,
    row: RowEntry,
    method: RowMethodEntry,
    max_steps: int = MAX_STEPS,
    unlisted: int = 0,
) -> Waterfall:
    """The waterfall of ``method`` for ``row``'s shown output (the predicted class, or the only
    output). ``unlisted``: features of the model the section does not list (their sum is the
    method's ``other``)."""
    k = section.outputs.index(row.shown_output) if row.shown_output in section.outputs else 0
    base = method.base_values[k] or 0.0
    contributions = [(v[k] or 0.0) for v in method.values]
    order = sorted(range(len(contributions)), key=lambda i: -abs(contributions[i]))
    shown, rest = order[:max_steps], order[max_steps:]
    folded_value = sum(contributions[i] for i in rest) + (method.other[k] or 0.0)
    steps, at = [], base
    for i in shown:
        c = contributions[i]
        steps.append(Step(section.features[i], row.values[i], c, at, at + c))
        at += c
    if rest or unlisted:
        folded = len(rest) + unlisted
        steps.append(Step("", None, folded_value, at, at + folded_value, folded=folded))
        at += folded_value
    total = method.total[k] if method.total[k] is not None else at
    return Waterfall(method.method, method.unit, section.outputs[k], base, total, tuple(steps))
