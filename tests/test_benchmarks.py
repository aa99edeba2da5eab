"""Smoke test of the benchmark harness in quick mode: it runs end to end and writes the table.

Marked ``bench``: these start a process per measurement and take a minute or two together, so
``make test`` leaves them out and ``make bench-check`` runs them (``.ci/run`` does, after
``make test``).

Timings are never asserted (the machine is shared); only that every implementation produced a
row with numbers, that xai's values matched the library's own, and that the file was written.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from benchmarks.run import LABELS, run

pytestmark = pytest.mark.bench  # out of `make test`: `make bench-check` (CI runs it) runs them


def test_quick_benchmark_writes_the_markdown_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XAI_BENCH_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "latest.md"
    # the peers and shap are left out (a process each, ~5-10 s apiece on 2 busy cores; shapiq
    # also runs Python per row): `make bench QUICK=1` runs them, with their error columns
    skip = ("shapiq", "fasttreeshap", "woodelf", "shap", "shap_interventional")
    table = run(quick=True, budget=600.0, out=out, only=("synthetic_xgboost",), skip=skip)
    assert out.read_text(encoding="utf-8") == table
    assert "| workload | implementation | rows | threads | time (s) | rows/s | x floor |" in table
    assert "cores" in table and "load average" in table
    rows = [line for line in table.splitlines() if line.startswith("| synthetic_xgboost |")]
    for impl in ("predict", "xai", "native", "xai_interventional"):
        mine = [r for r in rows if f"| {LABELS[impl]} " in r or f"| {LABELS[impl]} (" in r]
        assert mine, f"no row for {impl}"
        for line in mine:
            cells = [c.strip() for c in line.strip("|").split("|")]
            assert re.fullmatch(r"\d+", cells[3]), line  # threads
            assert re.fullmatch(r"[\d,]+\.\d\d", cells[4]), line  # a time, not an error
            assert re.fullmatch(r"[\d,]+(\.\d)?", cells[5]), line  # rows/s
    xai_rows = [r for r in rows if f"| {LABELS['xai']} |" in r]
    assert len(xai_rows) == 2  # both quick row counts
    for line in xai_rows:
        error = float(line.strip("|").split("|")[-1])
        assert error <= 1e-5  # xai's values matched xgboost's own
    assert re.search(r"End to end `xai explain -m treeshap` on [\d,]+ rows", table)


def test_streaming_memory_benchmark_writes_its_table(sample_models: Path, tmp_path: Path) -> None:
    from benchmarks.streaming import main

    out = tmp_path / "streaming.md"
    model = str(sample_models / "adult_xgboost.joblib")
    assert main(["--rows", "3000", "9000", "--budget", "1MiB", "--model", model,
                 "--out", str(out)]) == 0  # fmt: skip
    lines = [line for line in out.read_text(encoding="utf-8").splitlines() if line[:3] == "| 3"
             or line[:3] == "| 9"]  # fmt: skip
    assert len(lines) == 6  # in memory, streamed as asked, auto (a 1 MiB budget: streams)
    for line in lines:  # every row explained in every mode, with a time and a memory figure
        cells = [c.strip() for c in line.strip("|").split("|")]  # rows, mode, chosen, explained,
        assert cells[0] == cells[3]  # seconds, MB
        assert float(cells[4]) > 0 and float(cells[5]) > 0
        if cells[1].startswith("auto"):
            assert cells[2].startswith("streamed"), line  # over the budget: streams on its own
    assert "streamed: peak memory at 9,000 rows is" in out.read_text(encoding="utf-8")


def test_estimate_benchmark_writes_its_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from benchmarks.estimate import VARIANTS
    from benchmarks.estimate import run as run_estimate

    monkeypatch.setenv("XAI_BENCH_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "estimate.md"
    table = run_estimate(quick=True, repeats=1, out=out)
    assert out.read_text(encoding="utf-8") == table
    lines = [line for line in table.splitlines() if line.startswith("| ") and "---" not in line]
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.strip("|").split("|")]
            for line in lines}  # fmt: skip
    for variant in VARIANTS:  # a row per variant, with times and the estimate's basis
        cells = rows[variant]
        assert float(cells[1]) >= 0 and float(cells[2]) > 0 and float(cells[9]) > 0
    assert rows["none"][10] == "no estimate" and rows["none"][8] == "nan"
    for variant in ("default", "pilots"):  # an estimate was made (tiny quick runs round to 0.00)
        assert rows[variant][8] != "nan" and float(rows[variant][8]) >= 0
    assert float(rows["default"][6]) >= 0 and float(rows["none"][6]) == 0  # own work, a number
    assert rows["default"][10] and rows["pilots"][10]  # how each was estimated
