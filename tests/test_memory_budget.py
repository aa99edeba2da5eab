"""Streaming chosen for the user: the memory estimate, the budget, and the streamed run's numbers.

A run that would hold every row in memory over the budget streams on its own and says why; under
the budget it runs in memory; a streamed run's global importances equal the in-memory run's; a bad
budget is one readable error line with exit code 2.
"""

from __future__ import annotations

import json
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest

from tests.conftest import SAMPLE_DATA
from xai_cli.errors import UsageError
from xai_cli.methods import REGISTRY
from xai_cli.request import ExplainRequest
from xai_cli.run.memory import (
    MIN_CHUNK,
    chunk_rows_for,
    count_rows,
    decide,
    estimate_memory,
    parse_budget,
)

ROWS = 3_000


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A 20-tree XGBoost regressor on 3,000 California rows, with its CSV."""
    import xgboost as xgb

    root = tmp_path_factory.mktemp("budget")
    frame = pd.read_csv(SAMPLE_DATA / "california_housing.csv").iloc[:ROWS]
    y = frame.pop("MedHouseVal")
    model = xgb.XGBRegressor(n_estimators=20, max_depth=3, n_jobs=1, random_state=0)
    joblib.dump(model.fit(frame, y), root / "model.joblib")
    frame.assign(MedHouseVal=y).to_csv(root / "data.csv", index=False)
    return root / "model.joblib", root / "data.csv"


def _request(data: Path, **kw: object) -> ExplainRequest:
    return ExplainRequest(model_path="m.joblib", data_path=str(data), methods=("treeshap",), **kw)


def test_decision_streams_over_the_budget_and_not_under(small: tuple[Path, Path]) -> None:
    _, data = small
    treeshap = [REGISTRY["treeshap"]]
    over = decide(_request(data, memory_budget="64KiB"), treeshap, 8, 1, 9)
    assert over.streams and over.request.streamed
    assert over.request.chunk_rows is not None and over.request.chunk_rows >= MIN_CHUNK
    assert over.note is not None and "over the memory budget of 64 KiB" in over.note
    assert f"all {ROWS:,} rows" in over.note and "over the memory budget" in over.note
    assert "treeshap" in over.note
    under = decide(_request(data, memory_budget="1GiB"), treeshap, 8, 1, 9)
    assert not under.streams and under.note is None and not under.request.streamed
    # the estimate is what decided: just above and just below it
    total = estimate_memory(ROWS, 9, treeshap, 8, 1).total
    assert decide(_request(data, memory_budget=total - 1), treeshap, 8, 1, 9).streams
    assert not decide(_request(data, memory_budget=total), treeshap, 8, 1, 9).streams
    # a sampled run, a run turned off, a run without a row-wise method: not streamed
    assert not decide(
        _request(data, memory_budget="64KiB", max_rows=100), treeshap, 8, 1, 9
    ).streams
    assert not decide(_request(data, memory_budget="none"), treeshap, 8, 1, 9).streams
    assert not decide(
        _request(data, memory_budget="64KiB"), [REGISTRY["xgboost.gain"]], 8, 1, 9
    ).streams


def test_budget_from_the_environment(
    small: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, data = small
    monkeypatch.setenv("XAI_MEMORY_BUDGET", "64KiB")
    assert decide(_request(data), [REGISTRY["treeshap"]], 8, 1, 9).streams
    monkeypatch.setenv("XAI_MEMORY_BUDGET", "8GiB")
    assert not decide(_request(data), [REGISTRY["treeshap"]], 8, 1, 9).streams


def test_sizes_and_chunks() -> None:
    assert parse_budget("4GiB") == 4 << 30 and parse_budget("512M") == 512 << 20
    assert parse_budget("none") is None and parse_budget(1000) == 1000
    for bad in ("lots", "-1G", 0, "4 parsecs"):
        with pytest.raises(UsageError):
            parse_budget(bad)
    treeshap = [REGISTRY["treeshap"]]
    small_budget = chunk_rows_for(64 << 20, 50, treeshap, 50, 1)
    assert MIN_CHUNK <= small_budget < chunk_rows_for(512 << 20, 50, treeshap, 50, 1)
    assert chunk_rows_for(1, 50, treeshap, 50, 1) == MIN_CHUNK
    # never near the file's size: a chunk costs about what its rows cost in memory
    assert chunk_rows_for(1 << 40, 50, treeshap, 50, 1, rows=80_000) == 10_000


def test_rows_counted_before_loading(small: tuple[Path, Path], tmp_path: Path) -> None:
    _, data = small
    assert count_rows(data) == ROWS
    no_newline = tmp_path / "n.csv"
    no_newline.write_bytes(data.read_bytes().rstrip(b"\n"))
    assert count_rows(no_newline) == ROWS
    path = tmp_path / "d.parquet"
    pd.read_csv(data).to_parquet(path)
    assert count_rows(path) == ROWS


def test_streamed_on_its_own_equals_in_memory(
    small: tuple[Path, Path], tmp_path: Path, xai
) -> None:
    model, data = small
    common = [
        "explain", str(model), str(data), "-m", "treeshap", "--target", "MedHouseVal",
        "--max-rows", "all", "--format", "json", "--output-format", "none", "--no-estimate",
    ]  # fmt: skip
    streamed = xai(*common, "--out", str(tmp_path / "s"), "--memory-budget", "64KiB")
    whole = xai(*common, "--out", str(tmp_path / "m"), "--memory-budget", "none")
    assert streamed.code == 0 and whole.code == 0, streamed.stderr + whole.stderr
    notes = [line for line in streamed.stderr.splitlines() if "streaming on its own" in line]
    assert (
        len(notes) == 1 and notes[0].startswith("note: ") and "over the memory budget" in notes[0]
    )
    assert "streaming on its own" not in whole.stderr

    def treeshap(folder: str) -> tuple[dict, list[str], np.ndarray]:
        report = json.loads((tmp_path / folder / "report.json").read_text(encoding="utf-8"))
        method = next(m for m in report["methods"] if m["method"] == "treeshap")
        rows = sorted((e["feature"], e["value"]) for e in report["importances"]
                      if e["method"] == "treeshap")  # fmt: skip
        return method, report["provenance"]["notes"], np.array([v for _, v in rows])

    s, s_notes, s_values = treeshap("s")
    m, m_notes, m_values = treeshap("m")
    assert s["params"]["streamed"] and s["params"]["rows"] == ROWS
    assert s["params"]["chunk_rows"] < ROWS  # more than one chunk
    assert not m["params"].get("streamed") and m["params"]["rows"] == ROWS
    assert any("streaming on its own" in n for n in s_notes)
    assert not any("streaming on its own" in n for n in m_notes)
    assert len(s_values) == 8
    np.testing.assert_allclose(s_values, m_values, rtol=1e-9, atol=1e-12)
    assert not np.allclose(s_values * (1 + 1e-6), m_values, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize(
    ("args", "env"),
    [(("--memory-budget", "lots"), {}), ((), {"XAI_MEMORY_BUDGET": "-3G"})],
)
def test_bad_budget_is_one_line_exit_2(
    small: tuple[Path, Path], xai, args: tuple, env: dict
) -> None:
    model, data = small
    run = xai("explain", str(model), str(data), "--max-rows", "all", *args, env=env)
    assert run.code == 2
    first = run.stderr.strip().splitlines()[0]
    assert first.startswith("error[") and "memory" in first.lower()
    assert "Traceback" not in run.stderr


def test_budget_from_a_config(small: tuple[Path, Path], tmp_path: Path) -> None:
    from xai_cli.config.load import load_plan
    from xai_cli.config.schema import ConfigError

    model, data = small
    text = (
        f"schema_version: 1\noutput:\n  folder: out\njobs:\n  - model: {model}\n"
        f"    data: {data}\nexecution:\n  memory_budget: BUDGET\n"
    )
    path = tmp_path / "a.yaml"
    path.write_text(text.replace("BUDGET", "3GiB"), encoding="utf-8")
    assert load_plan(path).jobs[0].request.memory_budget == "3GiB"
    path.write_text(text.replace("BUDGET", "lots"), encoding="utf-8")
    with pytest.raises(ConfigError, match="memory"):
        load_plan(path)


def test_budget_from_the_api(small: tuple[Path, Path]) -> None:
    from xai_cli.api import explain_files

    model, data = small
    run = explain_files(model, data, target="MedHouseVal", methods="treeshap", max_rows=None,
                        memory_budget="64KiB")  # fmt: skip
    assert any("streaming on its own" in n for n in run.report.provenance.notes)
    with pytest.raises(UsageError, match="memory"):
        explain_files(model, data, max_rows=None, memory_budget="a lot")
