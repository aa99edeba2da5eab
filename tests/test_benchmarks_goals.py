"""The verdict logic of ``benchmarks/goals.py`` on synthetic rows, and the README's benchmark table
against ``benchmarks/results/latest.md`` (``benchmarks/readme_table.py``). Pure Python, no timing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from benchmarks import goals, readme_table

ROOT = Path(__file__).resolve().parents[1]


def rec(workload: str, impl: str, rows: int, rows_per_s: float, **extra: Any) -> dict[str, Any]:
    return {"workload": workload, "impl": impl, "rows": rows, "rows_per_s": rows_per_s, **extra}


def passing_rows() -> list[dict[str, Any]]:
    """Rows that meet every measured goal (xai 12x own, 4x the fastest peer, ...)."""
    rows = []
    for w in ("deep_xgboost", "deep_lightgbm"):
        rows += [rec(w, "native", 300, 10.0), rec(w, "xai", 300, 120.0, max_error_vs_own=4e-7),
                 rec(w, "fasttreeshap", 300, 30.0), rec(w, "woodelf", 300, 8.0),
                 rec(w, "shapiq", 1, 0.01)]  # fmt: skip
    rows += [rec("deep_random_forest", "xai", 300, 250.0, max_error_vs_own=1e-14),
             rec("deep_random_forest", "woodelf", 300, 12.0),
             rec("synthetic_catboost", "native", 10_000, 8_000.0),
             rec("synthetic_catboost", "xai", 10_000, 2e4, max_error_vs_own=1e-16)]  # fmt: skip
    return rows


PERMUTATION = """| scikit-learn permutation_importance | 25.28 | 1.0x |
| xai permutation | 10.00 | 2.53x |

Largest difference between the two importances: 0.0e+00 (identical when 0).
"""
STREAMING = """| rows | mode | what ran | rows explained by treeshap | time (s) | peak RSS (MB) |
|---:|---|---|---:|---:|---:|
| 100,000 | in memory | in memory | 100,000 | 11.9 | 513 |
| 100,000 | streamed | streamed, chunks of 50,000 | 100,000 | 7.0 | 452 |
| 100,000 | auto (budget 256MiB) | in memory | 100,000 | 8.7 | 511 |
| 1,000,000 | in memory | in memory | 1,000,000 | 72.2 | 1156 |
| 1,000,000 | streamed | streamed, chunks of 50,000 | 1,000,000 | 14.8 | 458 |

streamed: peak memory at 1,000,000 rows is 1.01x that at 100,000
"""


def by_goal(found: list[goals.Verdict]) -> dict[str, goals.Verdict]:
    return {v.goal: v for v in found}


def test_every_goal_met_on_rows_that_meet_them() -> None:
    found = goals.verdicts(passing_rows(), PERMUTATION, STREAMING)
    assert len(found) == 10
    assert all(v.met is True for v in found), [v.line() for v in found if v.met is not True]
    text = "\n".join(goals.summary(found))
    assert "(10 of 10 met)" in text and "**MET**: XGBoost depth 10: xai >= 10x" in text
    assert "12.0x (xai 120.0 rows/s on 300 rows, own 10.0 rows/s on 300 rows)" in text
    assert "4.0x (xai 120.0 rows/s on 300 rows, FastTreeSHAP v2 30.0 rows/s" in text


@pytest.mark.parametrize(
    ("workload", "impl", "speed", "goal"),
    [
        ("deep_xgboost", "native", 13.0, "XGBoost depth 10: xai >= 10x the library's own TreeSHAP"),
        ("deep_lightgbm", "woodelf", 41.0, "LightGBM depth 10: xai >= 3x the fastest peer"),
        ("deep_random_forest", "woodelf", 251.0, "RandomForest depth 10: xai >= 1x"),
        ("synthetic_catboost", "native", 10_001.0, "CatBoost depth 6: xai >= 2x"),
    ],
)
def test_a_slower_xai_fails_its_goal(workload: str, impl: str, speed: float, goal: str) -> None:
    rows = [dict(r, rows_per_s=speed) if (r["workload"], r["impl"]) == (workload, impl) else r
            for r in passing_rows()]  # fmt: skip
    failed = [v for v in goals.verdicts(rows, PERMUTATION, STREAMING) if v.met is False]
    assert len(failed) == 1 and failed[0].goal.startswith(goal), [v.line() for v in failed]
    assert failed[0].line().startswith("- **NOT MET**")


def test_values_off_by_more_than_the_limit_fail() -> None:
    rows = passing_rows()
    rows[1] = dict(rows[1], max_error_vs_own=3e-5)
    verdict = goals.values_exact(rows)
    assert verdict.met is False and "3.0e-05 (deep_xgboost)" in verdict.detail


def test_missing_skipped_or_failed_rows_are_not_measured_never_met() -> None:
    rows = [r for r in passing_rows() if r["workload"] != "deep_lightgbm"]
    rows.append({"workload": "deep_lightgbm", "impl": "xai", "rows": 300, "skipped": "skipped"})
    rows.append({"workload": "deep_lightgbm", "impl": "native", "rows": 300, "error": "boom"})
    found = by_goal(goals.verdicts(rows, None, None))
    lgbm = [v for g, v in found.items() if g.startswith("LightGBM")]
    assert len(lgbm) == 2 and all(v.met is None for v in lgbm)
    assert found["permutation importance >= 1.5x scikit-learn's, same values"].met is None
    assert all(v.met is None for g, v in found.items() if "streamed" in g)
    assert goals.values_exact([]).met is None


def test_own_and_xai_compared_only_at_the_same_row_count() -> None:
    rows = [rec("deep_xgboost", "native", 300, 10.0), rec("deep_xgboost", "xai", 1_000, 500.0)]
    assert goals.versus_own(rows, "deep_xgboost", 10, "x").met is None


def test_permutation_verdict_reads_speed_and_identical_values() -> None:
    assert goals.permutation(PERMUTATION).met is True
    slow = PERMUTATION.replace("| 10.00 | 2.53x |", "| 26.12 | 0.97x |")
    assert goals.permutation(slow).met is False and "0.97x" in goals.permutation(slow).detail
    different = PERMUTATION.replace("0.0e+00", "1.2e-03")
    assert goals.permutation(different).met is False


def test_permutation_verdict_reads_the_tree_walk_format() -> None:
    """The current format: xai's row says how it predicted, a library-predictions row beside it
    (never read as xai's), and the difference line names xai first."""
    text = (
        "| scikit-learn permutation_importance | 7.06 | 1.0x |\n"
        "| xai permutation (xai tree walk (checked)) | 1.60 | 4.42x |\n"
        "| xai permutation (library predictions) | 8.47 | 0.83x |\n\n"
        "Largest difference from scikit-learn's importances: xai 0.0e+00, xai with library "
        "predictions 0.0e+00 (identical when 0).\n"
    )
    verdict = goals.permutation(text)
    assert verdict.met is True and "4.42x" in verdict.detail
    xai_row = "| xai permutation (xai tree walk (checked)) | 1.60 | 4.42x |\n"
    only_library = text.replace(xai_row, "")
    assert goals.permutation(only_library).met is None  # the library row is not xai's
    assert goals.permutation(text.replace("xai 0.0e+00", "xai 3.0e-04")).met is False


def test_streaming_verdicts_read_the_first_table() -> None:
    flat, below = goals.streaming(STREAMING)
    assert flat.met is True and "1.01x (458 vs 452 MB)" in flat.detail
    assert below.met is True and "100,000: 452 vs 513 MB" in below.detail
    grown = STREAMING.replace("| 14.8 | 458 |", "| 14.8 | 600 |")
    assert goals.streaming(grown)[0].met is False  # 1.33x the 100k peak
    above = STREAMING.replace("| 7.0 | 452 |", "| 7.0 | 520 |")
    assert goals.streaming(above)[1].met is False  # streamed above in memory at 100k


def test_streaming_at_10m_counts_and_a_skipped_in_memory_run_is_ignored() -> None:
    rows = STREAMING.replace("\n\nstreamed:", "\n| 10,000,000 | in memory | skipped: predicted "
                             "peak ~7,000 MB > 4,096 MB (linear in rows) | | | |\n"
                             "| 10,000,000 | streamed | streamed, chunks of 50,000 | 10,000,000 | "
                             "150.0 | 470 |\n\nstreamed:")  # fmt: skip
    peaks = goals.streaming_peaks(rows)
    assert peaks["streamed"][10_000_000] == 470 and 10_000_000 not in peaks["in memory"]
    flat, below = goals.streaming(rows)
    assert flat.met is True and "1.04x at 10,000,000 rows" in flat.detail
    assert below.met is True and "10,000,000" not in below.detail
    grown = rows.replace("| 150.0 | 470 |", "| 150.0 | 560 |")  # 1.24x the 100k peak at 10M
    assert goals.streaming(grown)[0].met is False


def test_goals_section_is_replaced_not_repeated() -> None:
    found = goals.verdicts(passing_rows(), PERMUTATION, STREAMING)
    once = goals.with_summary("# run\n\n| a |\n", found)
    twice = goals.with_summary(once, goals.verdicts([], None, None))
    assert once.count(goals.TITLE) == 1 and twice.count(goals.TITLE) == 1
    assert "(0 of 10 met)" in twice and twice.startswith("# run\n\n| a |\n\n## Goals")


LATEST = """# xai-cli benchmark (full mode)

- Started 2026-12-03T20:00:00+00:00; took 24.0 min.
- Machine: AMD EPYC, 2 cores, load average at start 0.5; at the end 1.0. Python 3.11.7.
- Threads, as measured: xai treeshap 2.

| workload | implementation | rows |
|---|---|---:|
| deep_xgboost | xai treeshap | 300 |

End to end: 1 s.

## Goals of issue 15 (1 of 10 met)

- **MET**: something
"""


def test_readme_block_holds_the_table_and_the_goals() -> None:
    readme = "intro\n<!-- bench:start -->\nold table\n<!-- bench:end -->\nafter\n"
    out = readme_table.render(readme, LATEST)
    assert "old table" not in out and out.startswith("intro\n<!-- bench:start -->\n")
    assert out.endswith("<!-- bench:end -->\nafter\n")
    assert "| deep_xgboost | xai treeshap | 300 |" in out and "- Started 2026-12-03" in out
    assert "**Goals of issue 15 (1 of 10 met)**" in out and "End to end" not in out
    assert readme_table.render(out, LATEST) == out  # idempotent
    with pytest.raises(ValueError, match="bench:start"):
        readme_table.render("no markers\n", LATEST)


def test_readme_table_equals_the_committed_latest_run() -> None:
    """The README cannot drift from benchmarks/results/latest.md: regenerate it with
    `python -m benchmarks.readme_table` after a run."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    latest = (ROOT / "benchmarks" / "results" / "latest.md").read_text(encoding="utf-8")
    assert readme_table.render(readme, latest) == readme
    edited = latest.replace("| 10,000 |", "| 10,001 |", 1)
    assert edited != latest and readme_table.render(readme, edited) != readme


def test_in_memory_peak_prediction_of_the_streaming_benchmark() -> None:
    from benchmarks.streaming import predicted_peak

    assert predicted_peak({}, 10**6) is None
    # one size: the growth over the streamed (fixed) peak, scaled with the rows
    assert predicted_peak({100_000: 504.0}, 1_000_000, base=436.0) == pytest.approx(1116.0)
    # two sizes: the line through them (the 1M figure measured 1,156 MB in memory)
    line = predicted_peak({100_000: 513.0, 300_000: 634.0}, 1_000_000)
    assert line == pytest.approx(634.0 + 121.0 / 200_000 * 700_000)


def test_streaming_reads_every_current_table_but_not_earlier_runs() -> None:
    second = ("\n\nSecond run:\n\n| rows | mode | what ran | rows explained by treeshap | time (s) "
              "| peak RSS (MB) |\n|---:|---|---|---:|---:|---:|\n"
              "| 300,000 | in memory | in memory | 300,000 | 38.4 | 634 |\n"
              "| 300,000 | streamed | streamed, chunks of 50,000 | 300,000 | 20.0 | 456 |\n")
    earlier = "\n## Earlier runs\n\n| 300,000 | streamed | streamed | 300,000 | 1.0 | 999 |\n"
    peaks = goals.streaming_peaks(STREAMING + second + earlier)
    assert peaks["streamed"] == {100_000: 452.0, 300_000: 456.0, 1_000_000: 458.0}
    assert peaks["in memory"][300_000] == 634.0
    below = goals.streaming(STREAMING + second + earlier)[1]
    assert below.met is True and "300,000: 456 vs 634 MB" in below.detail
