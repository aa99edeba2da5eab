"""Time estimates before a run: the pilot arithmetic (on a fake clock), the permutation hook,
the engine handing estimates over before any method runs, and ``xai explain --estimate``.

Estimates are never compared with real timings here (speed is the benchmarks' business); what is
tested is that the extrapolation is right when the cost really is ``fixed + per_row * rows``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.conftest import SAMPLE_DATA
from xai_cli.methods import REGISTRY, ExplainContext
from xai_cli.run.engine import ExplainRequest, explain, prepare
from xai_cli.run.estimate import PILOT_FROM, Estimate, describe_estimates, estimate


@dataclass
class Clock:
    """A fake clock that only moves when a fake method works."""

    now: float = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Linear:
    """A fake method costing ``fixed + per_row * rows`` seconds, plus a one-time cost once."""

    clock: Clock
    fixed: float
    per_row: float
    once: float = 30.0
    name: str = "fake"
    uses_rows: bool = True
    seen: list[int] = field(default_factory=list)

    def estimate_seconds(self, ctx: ExplainContext, timer: Any) -> None:
        return None  # no cost model: estimated by pilots

    def explain(self, ctx: ExplainContext) -> None:
        self.clock.now += self.fixed + self.per_row * len(ctx.X) + (0 if self.seen else self.once)
        self.seen.append(len(ctx.X))


def _ctx(rows: int) -> ExplainContext:
    X = pd.DataFrame({"a": np.arange(rows, dtype=float)})
    return ExplainContext(adapter=None, X=X, y=np.zeros(rows), seed=0)  # type: ignore[arg-type]


@pytest.mark.parametrize(("fixed", "per_row"), [(0.5, 0.001), (0.0, 0.02), (2.0, 0.0)])
def test_pilots_recover_a_linear_cost_and_skip_one_time_costs(fixed: float, per_row: float) -> None:
    clock = Clock()
    method = Linear(clock, fixed, per_row)
    got = estimate(method, _ctx(20_000), rows=20_000, timer=clock)  # type: ignore[arg-type]
    assert got.seconds == pytest.approx(fixed + per_row * 20_000)
    assert got.basis == "pilots on 100 and 400 rows"
    assert method.seen == [100, 100, 400, 400]  # 4.5% of the rows


def test_a_streamed_method_is_estimated_for_every_row() -> None:
    clock = Clock()
    got = estimate(Linear(clock, 1.0, 0.001), _ctx(10_000), rows=1_000_000, timer=clock)  # type: ignore[arg-type]
    assert got.seconds == pytest.approx(1.0 + 1000.0) and got.rows == 1_000_000


def test_no_pilot_for_small_runs_model_only_methods_or_failing_pilots() -> None:
    clock = Clock()
    small = estimate(Linear(clock, 1, 1), _ctx(PILOT_FROM - 1), PILOT_FROM - 1, clock)  # type: ignore[arg-type]
    assert small.seconds is None and "too few to pilot" in small.basis
    native = estimate(REGISTRY["xgboost.gain"], _ctx(5000), 5000, clock)
    assert native.seconds is None and native.basis.startswith("reads the model only")

    class Broken(Linear):
        def explain(self, ctx: ExplainContext) -> None:
            raise ValueError("pilot rows lack a class")

    broken = estimate(Broken(clock, 1, 1), _ctx(5000), 5000, clock)  # type: ignore[arg-type]
    assert broken.seconds is None
    assert broken.basis == "pilot failed: ValueError: pilot rows lack a class"


def test_permutation_estimate_counts_every_prediction_and_bootstrap_metric(
    sample_models: Path,
) -> None:
    request = ExplainRequest(str(sample_models / "adult_xgboost.joblib"),
                             str(SAMPLE_DATA / "adult.csv"), target="income",
                             methods=("permutation",),
                             params={"permutation": {"n_repeats": 3}})  # fmt: skip
    prepared = prepare(request)
    ctx = prepared.context(request, REGISTRY["permutation"])
    ticks = iter(range(10_000))
    got = estimate(REGISTRY["permutation"], ctx, len(ctx.X), timer=lambda: float(next(ticks)))
    calls = 1 + 14 * 3  # the baseline, then 14 features x 3 repeats
    # each timed step reads one tick: call 1, drawing the resamples 1, one metric 1
    assert got.seconds == calls * 1 + 1 + (calls - 1) * 1
    assert f"x {calls} calls" in got.basis


def test_explain_hands_over_estimates_before_running_and_keeps_them(sample_models: Path) -> None:
    request = ExplainRequest(str(sample_models / "california_lightgbm.joblib"),
                             str(SAMPLE_DATA / "california_housing.csv"), target="MedHouseVal",
                             methods=("treeshap", "lightgbm.gain", "permutation"))  # fmt: skip
    events: list[Any] = []
    result = explain(request, progress=events.append, on_estimates=events.append)
    (at,) = [i for i, e in enumerate(events) if isinstance(e, tuple)]
    assert not any(str(e).startswith("running") for e in events[:at])
    found: tuple[Estimate, ...] = events[at]
    assert [e.method for e in found] == ["treeshap", "lightgbm.gain", "permutation"]
    kept = {o.method: o.provenance.estimated_s for o in result.outcomes if o.provenance}
    assert kept["lightgbm.gain"] is None
    assert kept["treeshap"] == found[0].seconds and kept["permutation"] == found[2].seconds
    assert kept["treeshap"] is not None and kept["treeshap"] > 0
    line = describe_estimates(found)
    assert line.startswith("estimated time: treeshap ") and "read from the model" in line
    quiet = explain(request)  # without the callback no pilot runs
    assert all(o.provenance.estimated_s is None for o in quiet.outcomes if o.provenance)


def test_cli_estimate_prints_and_writes_nothing(sample_models: Path, tmp_path: Path, xai) -> None:
    args = ("explain", str(sample_models / "adult_lightgbm.joblib"), str(SAMPLE_DATA / "adult.csv"),
            "--target", "income", "--out", str(tmp_path / "out"), "--estimate")  # fmt: skip
    table = xai(*args)
    assert table.code == 0, table.stderr
    assert "Estimated time per method" in table.stdout and "permutation" in table.stdout
    as_json = xai(*args, "--output-format", "json")
    rows = {e["method"]: e for e in json.loads(as_json.stdout)}
    assert rows["permutation"]["seconds"] > 0 and rows["lightgbm.split"]["seconds"] is None
    assert rows["treeshap"]["rows"] == 4000
    assert not (tmp_path / "out").exists()
    run = xai(*args[:-1], "--format", "json")
    assert run.code == 0 and "estimated time: treeshap" in run.stderr
    doc = json.loads((tmp_path / "out" / "report.json").read_text())
    assert {m["method"]: m.get("estimated_s") for m in doc["methods"]}["permutation"] > 0
    skipped = xai(*args[:-1], "--format", "json", "--no-estimate")
    assert skipped.code == 0 and "estimated time" not in skipped.stderr
    doc = json.loads((tmp_path / "out" / "report.json").read_text())
    assert all(m.get("estimated_s") is None for m in doc["methods"])
