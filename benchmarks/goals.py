"""Issue 15's goals checked against measured benchmark rows: MET / NOT MET with the numbers.

:func:`verdicts` reads the measurement records of :mod:`benchmarks.run` (dicts with
``workload``, ``impl``, ``rows``, ``rows_per_s`` and, for the explainers compared with the
library's own values, ``max_error_vs_own``; skipped or failed ones carry ``skipped``/``error``)
and the Markdown results of :mod:`benchmarks.permutation` and :mod:`benchmarks.streaming`, and
returns one :class:`Verdict` per goal. A goal whose rows were not measured is ``NOT MEASURED``,
never MET: the summary only claims what the run shows.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
TITLE = "## Goals of issue 15"

Row = dict[str, Any]
PEERS = ("fasttreeshap", "woodelf", "shapiq", "shap")
"""Other exact path-dependent TreeSHAP implementations (not the library's own)."""
PEER_NAMES = {"fasttreeshap": "FastTreeSHAP v2", "woodelf": "WOODELF",
              "shapiq": "shapiq", "shap": "shap"}  # fmt: skip
ERROR_LIMIT = 1e-5
"""Largest |xai - library's own| allowed, relative to the model's output range."""
FLAT_LIMIT = 1.2
"""Streamed peak memory at 1M rows may be at most this multiple of that at 100k."""


@dataclass(frozen=True)
class Verdict:
    """One goal: ``met`` is True/False, or None when the run did not measure it."""

    goal: str
    met: bool | None
    detail: str

    def line(self) -> str:
        """The Markdown bullet of the summary block."""
        word = {True: "MET", False: "NOT MET", None: "NOT MEASURED"}[self.met]
        return f"- **{word}**: {self.goal}: {self.detail}"


def _measured(rows: Iterable[Row], workload: str, impl: str) -> list[Row]:
    return [r for r in rows if r.get("workload") == workload and r.get("impl") == impl
            and "rows_per_s" in r]  # fmt: skip


def _at_shared_rows(rows: Sequence[Row], workload: str, a: str, b: str) -> tuple[Row, Row] | None:
    """The measurements of ``a`` and ``b`` at the largest row count both were measured at."""
    mine = {r["rows"]: r for r in _measured(rows, workload, a)}
    theirs = {r["rows"]: r for r in _measured(rows, workload, b)}
    shared = sorted(set(mine) & set(theirs))
    return (mine[shared[-1]], theirs[shared[-1]]) if shared else None


def _speed(r: Row) -> str:
    return f"{r['rows_per_s']:,.1f} rows/s on {r['rows']:,} rows"


def versus_own(rows: Sequence[Row], workload: str, factor: float, label: str) -> Verdict:
    """xai's rows/s at least ``factor`` times the library's own at the same row count."""
    goal = f"{label}: xai >= {factor:g}x the library's own TreeSHAP"
    pair = _at_shared_rows(rows, workload, "xai", "native")
    if pair is None:
        return Verdict(goal, None, f"xai and the library's own not both measured on {workload}")
    xai, own = pair
    ratio = xai["rows_per_s"] / own["rows_per_s"]
    return Verdict(goal, ratio >= factor,
                   f"{ratio:.1f}x (xai {_speed(xai)}, own {_speed(own)})")  # fmt: skip


def versus_peers(
    rows: Sequence[Row], workload: str, factor: float, label: str, peers: Sequence[str] = PEERS
) -> Verdict:
    """xai's rows/s at least ``factor`` times the fastest of ``peers`` (their best measured
    rows/s, at whatever row count each ran; the rows are stated)."""
    names = " / ".join(PEER_NAMES[p] for p in peers)
    goal = f"{label}: xai >= {factor:g}x the fastest peer ({names})"
    xai = _measured(rows, workload, "xai")
    found = [r for p in peers for r in _measured(rows, workload, p)]
    if not xai or not found:
        return Verdict(goal, None, f"xai or every peer unmeasured on {workload}")
    best = max(found, key=lambda r: r["rows_per_s"])
    # xai at the peer's row count when measured there, else xai's slowest measured row count
    same = [r for r in xai if r["rows"] == best["rows"]]
    mine = same[0] if same else min(xai, key=lambda r: r["rows_per_s"])
    ratio = mine["rows_per_s"] / best["rows_per_s"]
    return Verdict(goal, ratio >= factor, f"{ratio:.1f}x (xai {_speed(mine)}, "
                   f"{PEER_NAMES[best['impl']]} {_speed(best)})")  # fmt: skip


def values_exact(rows: Sequence[Row]) -> Verdict:
    """Every xai row within :data:`ERROR_LIMIT` of the library's own values."""
    goal = f"xai's values within {ERROR_LIMIT:g} x the output range of the library's own"
    errors = [(r["max_error_vs_own"], r["workload"]) for r in rows
              if r.get("impl") == "xai" and r.get("max_error_vs_own") is not None]  # fmt: skip
    if not errors:
        return Verdict(goal, None, "no xai row was compared with the library's own values")
    worst, where = max(errors)
    detail = f"largest {worst:.1e} ({where}) over {len(errors)} measured xai rows"
    return Verdict(goal, worst <= ERROR_LIMIT, detail)


def permutation(text: str | None) -> Verdict:
    """From ``benchmarks/results/permutation.md``: xai >= 1.5x scikit-learn, same values."""
    goal = "permutation importance >= 1.5x scikit-learn's, same values"
    if text is None:
        return Verdict(goal, None, "benchmarks/results/permutation.md not found")
    # xai's default row ("xai permutation" or "xai permutation (how it predicted)"), not the
    # "(library predictions)" comparison row
    speed = re.search(r"^\| xai permutation(?: \((?!library predictions)[^|]*\))? \| "
                      r"([\d.,]+) \| ([\d.]+)x \|", text, re.M)  # fmt: skip
    gap = re.search(r"Largest difference (?:between the two importances:|from scikit-learn's "
                    r"importances: xai) ([-+.\deE]+)", text)  # fmt: skip
    if not speed or not gap:
        return Verdict(goal, None, "permutation.md has no xai row or no difference line")
    ratio, diff = float(speed.group(2)), float(gap.group(1).rstrip("."))
    return Verdict(goal, ratio >= 1.5 and diff == 0.0,
                   f"{ratio:.2f}x scikit-learn's time ({speed.group(1)} s), largest "
                   f"difference {diff:.1e} (permutation.md)")  # fmt: skip


def streaming_peaks(text: str) -> dict[str, dict[int, float]]:
    """Peak RSS (MB) by mode and row count from every table of ``streaming.md`` above a
    ``## Earlier runs`` heading (a later table's figure for the same mode and size wins;
    ``auto (budget ...)`` is read as ``auto``; skipped runs have no figure)."""
    peaks: dict[str, dict[int, float]] = {}
    for line in text.split("\n## Earlier runs", 1)[0].splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 6 or not re.fullmatch(r"[\d,]+", cells[0]):
            continue
        if not re.fullmatch(r"[\d.]+", cells[5]):  # a skipped run has no peak
            continue
        mode = cells[1].split(" (")[0]
        peaks.setdefault(mode, {})[int(cells[0].replace(",", ""))] = float(cells[5])
    return peaks


def streaming(text: str | None) -> list[Verdict]:
    """From ``benchmarks/results/streaming.md``: streamed peak flat (1M and larger <= 1.2x 100k)
    and below the in-memory peak at every size both ran."""
    flat_goal = (f"streamed peak memory at 1M rows (and every larger size measured) <= "
                 f"{FLAT_LIMIT:g}x that at 100k")  # fmt: skip
    below_goal = "streamed peak memory below the in-memory peak at every size"
    if text is None:
        return [Verdict(g, None, "benchmarks/results/streaming.md not found")
                for g in (flat_goal, below_goal)]  # fmt: skip
    peaks = streaming_peaks(text)
    streamed, in_memory = peaks.get("streamed", {}), peaks.get("in memory", {})
    if 100_000 in streamed and 1_000_000 in streamed:
        ratio = streamed[1_000_000] / streamed[100_000]
        top = max(streamed)
        worst = max(streamed[n] for n in streamed if n >= 1_000_000) / streamed[100_000]
        detail = f"{ratio:.2f}x ({streamed[1_000_000]:.0f} vs {streamed[100_000]:.0f} MB)"
        if top > 1_000_000:
            detail += f"; {streamed[top] / streamed[100_000]:.2f}x at {top:,} rows"
        flat = Verdict(flat_goal, worst <= FLAT_LIMIT, detail)
    else:
        flat = Verdict(flat_goal, None, "streamed not measured at both 100k and 1M rows")
    both = sorted(set(streamed) & set(in_memory))
    if both:
        pairs = ", ".join(f"{n:,}: {streamed[n]:.0f} vs {in_memory[n]:.0f} MB" for n in both)
        below = Verdict(below_goal, all(streamed[n] < in_memory[n] for n in both), pairs)
    else:
        below = Verdict(below_goal, None, "no size measured both streamed and in memory")
    return [flat, below]


def verdicts(rows: Sequence[Row], permutation_md: str | None = None,
             streaming_md: str | None = None) -> list[Verdict]:  # fmt: skip
    """Every goal of issue 15, in the order the issue lists them."""
    return [
        versus_own(rows, "deep_xgboost", 10, "XGBoost depth 10"),
        versus_peers(rows, "deep_xgboost", 3, "XGBoost depth 10"),
        versus_own(rows, "deep_lightgbm", 10, "LightGBM depth 10"),
        versus_peers(rows, "deep_lightgbm", 3, "LightGBM depth 10"),
        versus_peers(rows, "deep_random_forest", 1, "RandomForest depth 10", ("woodelf",)),
        versus_own(rows, "synthetic_catboost", 2, "CatBoost depth 6"),
        permutation(permutation_md),
        *streaming(streaming_md),
        values_exact(rows),
    ]


def summary(found: Sequence[Verdict]) -> list[str]:
    """The Markdown block appended to ``latest.md``."""
    met = sum(v.met is True for v in found)
    return [f"{TITLE} ({met} of {len(found)} met)", "",
            *(v.line() for v in found), ""]  # fmt: skip


def with_summary(latest: str, found: Sequence[Verdict]) -> str:
    """``latest`` with its goals section (from :data:`TITLE` to the end) replaced by, or
    extended with, the summary of ``found``."""
    head = latest.split(f"\n{TITLE}", 1)[0].rstrip("\n")
    return head + "\n\n" + "\n".join(summary(found))


def _text(path: Path) -> str | None:
    return path.read_text(encoding="utf-8") if path.exists() else None


def main(argv: list[str] | None = None) -> int:
    """Rewrite the goals section of ``latest.md`` from its measurement records (the ``.json``
    next to it) and the current permutation and streaming results: ``make bench`` runs this
    after every benchmark, so the verdicts read this run's files, not the previous run's."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--latest", type=Path, default=RESULTS / "latest.md")
    parser.add_argument("--permutation", type=Path, default=RESULTS / "permutation.md")
    parser.add_argument("--streaming", type=Path, default=RESULTS / "streaming.md")
    args = parser.parse_args(argv)
    records = json.loads(args.latest.with_suffix(".json").read_text(encoding="utf-8"))
    found = verdicts(records, _text(args.permutation), _text(args.streaming))
    args.latest.write_text(with_summary(args.latest.read_text(encoding="utf-8"), found),
                           encoding="utf-8")  # fmt: skip
    print("\n".join(summary(found)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
