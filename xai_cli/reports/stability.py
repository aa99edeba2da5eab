"""Sentences on rank stability, shared by the Markdown, HTML and terminal renderers.

They only format the report's numbers: which methods have bootstrap rank intervals, and why the
others have none.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from xai_cli.report import Report

GAP_TEXT = {
    "model": "Not affected by the row sample (read from the model)",
    "every_row": "Explained every row, so no sampling error",
    "none": "No rank interval (needs a rerun per resample, as the xai audit stability rule does)",
}


def interval_gaps(report: Report) -> dict[str, list[str]]:
    """The methods that ran without rank intervals, grouped by why.

    ``model``: read from the model alone, so the row sample cannot change them; ``every_row``:
    streamed over every row, so there is no sampling error; ``none``: they use the sampled rows
    but cannot reweight them without rerunning (the audit ``stability`` rule reruns them).
    """
    covered = {r.method for r in report.rank_intervals}
    gaps: dict[str, list[str]] = {"model": [], "every_row": [], "none": []}
    for m in report.ok_methods():
        if m.method in covered:
            continue
        if m.uses_rows is False:
            gaps["model"].append(m.method)
        elif m.params.get("streamed"):
            gaps["every_row"].append(m.method)
        else:
            gaps["none"].append(m.method)
    return gaps


def stability_lines(report: Report) -> list[str]:
    """One sentence per method with rank intervals (the top-k features' 95% bootstrap ranks),
    then one per group of methods without intervals, saying why."""
    lines = []
    k = report.top_k
    for method in dict.fromkeys(r.method for r in report.rank_intervals):
        rows = sorted(
            (r for r in report.rank_intervals if r.method == method),
            key=lambda r: (r.rank, r.feature),
        )[:k]
        cells = ", ".join(
            f"{r.feature} {r.low}" + (f"–{r.high}" if r.high != r.low else "") for r in rows
        )
        lines.append(
            f"Rank intervals ({method}; 95%, {rows[0].resamples} bootstrap resamples of the "
            f"{rows[0].rows} explained rows): {cells}"
        )
    for key, methods in interval_gaps(report).items():
        if methods:
            lines.append(f"{GAP_TEXT[key]}: {', '.join(methods)}")
    return lines
