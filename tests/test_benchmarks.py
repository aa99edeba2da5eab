"""Smoke test of the benchmark harness in quick mode: it runs end to end and writes the table.

Timings are never asserted (the machine is shared); only that every implementation produced a
row with numbers, that xai's values matched the library's own, and that the file was written.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from benchmarks.run import LABELS, run


def test_quick_benchmark_writes_the_markdown_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XAI_BENCH_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "latest.md"
    table = run(quick=True, budget=600.0, out=out, only=("synthetic_xgboost",))
    assert out.read_text(encoding="utf-8") == table
    assert "| workload | implementation | rows | time (s) | rows/s |" in table
    assert "cores" in table and "load average" in table
    rows = [line for line in table.splitlines() if line.startswith("| synthetic_xgboost |")]
    for impl in ("xai", "native", "shap", "xai_interventional", "shap_interventional"):
        mine = [r for r in rows if f"| {LABELS[impl]} " in r or f"| {LABELS[impl]} (" in r]
        assert mine, f"no row for {impl}"
        for line in mine:
            cells = [c.strip() for c in line.strip("|").split("|")]
            assert re.fullmatch(r"[\d,]+\.\d\d", cells[3]), line  # a time, not an error
            assert re.fullmatch(r"[\d,]+", cells[4]), line  # rows/s
    xai_rows = [r for r in rows if f"| {LABELS['xai']} |" in r]
    assert len(xai_rows) == 2  # both quick row counts
    for line in xai_rows:
        error = float(line.strip("|").split("|")[-1])
        assert error <= 1e-5  # xai's values matched xgboost's own
    assert re.search(r"End to end `xai explain -m treeshap` on [\d,]+ rows", table)
