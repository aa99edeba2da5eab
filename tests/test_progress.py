"""Progress that tells the truth: units, elapsed time and an ETA from measured speed; plain
timestamped lines at a bounded rate when stderr is not a terminal (a CI log)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier

from xai_cli import progress
from xai_cli.progress import MethodProgress

STAMP = re.compile(r"^\[\d\d:\d\d:\d\d\] ", re.M)


@pytest.fixture(scope="module")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A tiny forest and its data: a permutation run of a fraction of a second."""
    import joblib

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(600, 6)), columns=[f"x{i}" for i in range(6)])
    y = (X["x0"] + 0.5 * X["x1"] > 0).astype(int)
    folder = tmp_path_factory.mktemp("progress")
    joblib.dump(RandomForestClassifier(5, max_depth=4, random_state=0).fit(X, y),
                folder / "m.joblib")  # fmt: skip
    X.assign(y=y).to_csv(folder / "d.csv", index=False)
    return folder / "m.joblib", folder / "d.csv"


def test_eta_comes_from_measured_units_not_the_estimate() -> None:
    p = MethodProgress("permutation", estimate=100.0, started=0.0)
    assert p.eta(now=10.0) == (90.0, False)  # nothing done yet: the estimate, marked as such
    p.first_done_at, p.first_done, p.done, p.total, p.unit = 20.0, 10, 10, 100, "copies"
    p.done = 40  # 30 more units in 10 s after the first report: 3/s, 60 left -> 20 s
    assert p.eta(now=30.0) == (20.0, True)
    assert "40/100 copies, 30 s elapsed, 20 s left" in p.line(now=30.0)
    p.done = 100
    assert p.eta(now=31.0) == (0.0, True)


def test_a_new_stage_is_timed_afresh() -> None:
    seen: list[tuple[int, int, str, bool]] = []

    class Spy:
        def start(self, p: MethodProgress) -> None: ...
        def finish(self, p: MethodProgress) -> None: ...

        def update(self, p: MethodProgress) -> None:
            seen.append((p.done, p.total, p.unit, p.eta()[1]))

    with progress.tracking(Spy()):
        progress.advance(5, 10, "rows")  # outside a method: nobody listens
        with progress.method("m", estimate=1.0):
            progress.advance(10, 10, "copies")
            progress.advance(0, 200, "resamples")
            with progress.suppressed():
                progress.advance(1, 2, "chunk rows")
    assert seen == [(10, 10, "copies", True), (0, 200, "resamples", False)]


def test_log_lines_appear_while_a_long_method_runs(xai, small_run, tmp_path: Path) -> None:
    model, data = small_run
    run = xai("explain", str(model), str(data), "-t", "y", "-m", "permutation",
              "--param", "permutation:n_repeats=20", "--out", str(tmp_path), "--output-format",
              "none", env={"XAI_PROGRESS_INTERVAL": "0.05"})  # fmt: skip
    assert run.code == 0, run.stderr
    # the first line is "started (estimated ...)" when loading already outlasted the interval,
    # else the first heartbeat of the running method (which of the two depends on the machine)
    assert re.search(r"^\[\d\d:\d\d:\d\d\] permutation: (started \(estimated|\d)", run.stderr, re.M)
    beats = re.findall(r"\] permutation: (\d+)/120 shuffled copies, \d+ s elapsed", run.stderr)
    assert beats, run.stderr  # life shown between start and end, with units done of the total
    assert [int(b) for b in beats] == sorted(int(b) for b in beats)
    assert re.search(r"\] permutation: finished in \d+ s", run.stderr)


def test_a_run_shorter_than_the_interval_prints_no_lines(xai, small_run, tmp_path: Path) -> None:
    model, data = small_run
    run = xai("explain", str(model), str(data), "-t", "y", "-m", "permutation",
              "--param", "permutation:n_repeats=20", "--out", str(tmp_path), "--output-format",
              "none", "--no-estimate", env={"XAI_PROGRESS_INTERVAL": "600"})  # fmt: skip
    assert run.code == 0, run.stderr
    assert not STAMP.search(run.stderr)  # a run shorter than the interval: no progress lines
    quiet = xai("explain", str(model), str(data), "-t", "y", "-m", "treeshap", "-q", "--out",
                str(tmp_path), "--output-format", "none")  # fmt: skip
    assert quiet.code == 0 and not STAMP.search(quiet.stderr)


def test_treeshap_in_slices_reports_rows_and_gives_identical_values(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from xai_cli.methods.tables import tableshap
    from xai_cli.model.adapter import adapt

    rng = np.random.default_rng(1)
    X = pd.DataFrame(rng.normal(size=(1000, 4)), columns=list("abcd"))
    model = RandomForestClassifier(4, max_depth=4, random_state=0).fit(X, X["a"] > 0)
    compiled = tableshap.compile_parsed(tableshap.compile_model(adapt(model)).parsed, "tables")
    matrix = tableshap.encode(compiled, X)
    table = tableshap.path_dependent_table(compiled)
    whole = tableshap.evaluate(compiled, matrix, table)  # nobody watching: one call
    monkeypatch.setattr(tableshap, "SLICE_BLOCKS", 1)  # a slice per round of blocks
    seen: list[tuple[int, int]] = []

    class Spy:
        def start(self, p: MethodProgress) -> None: ...
        def finish(self, p: MethodProgress) -> None: ...
        def update(self, p: MethodProgress) -> None:
            seen.append((p.done, p.total))

    with progress.tracking(Spy()), progress.method("treeshap"):
        sliced = tableshap.evaluate(compiled, matrix, table)
    assert np.array_equal(sliced, whole)
    assert len(seen) > 1 and seen[-1] == (1000, 1000)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    # the quadrature engine reports the same way, with the same values in slices
    deep = tableshap.compile_parsed(compiled.parsed, "quadrature")
    seen.clear()
    with progress.tracking(Spy()), progress.method("treeshap"):
        sliced = tableshap.path_dependent(deep, matrix)
    assert np.array_equal(sliced, tableshap.path_dependent(deep, matrix))
    np.testing.assert_allclose(sliced, whole, rtol=0, atol=1e-12)
    assert len(seen) > 1 and seen[-1] == (1000, 1000)
