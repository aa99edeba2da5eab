"""Time estimates before a run: the pilot arithmetic (on a fake clock), the cost models that
skip pilots for short runs, the permutation and TreeSHAP hooks, the per-run cache that lets the
pilots and the run parse and compile a model once, the engine handing estimates over before any
method runs, and ``xai explain --estimate``.

Estimates are never compared with real timings here (speed is the benchmarks' business: ``make
bench`` runs benchmarks/estimate.py); what is tested is that the extrapolation is right when the
cost really is ``fixed + per_row * rows``, which work runs how often, and that an estimate never
changes a result.
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
from xai_cli.methods.tables import tableshap
from xai_cli.run.engine import ExplainRequest, estimates, explain, prepare, run_prepared
from xai_cli.run.estimate import (
    PILOT_FROM,
    QUICK_BELOW,
    Estimate,
    describe_estimates,
    estimate,
)


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

    def cost_model(self, ctx: ExplainContext, rows: int, timer: Any) -> None:
        return None  # no a-priori model

    def estimate_seconds(self, ctx: ExplainContext, rows: int, timer: Any) -> None:
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
    assert got.basis == "pilots on 50 and 200 rows"
    assert method.seen == [50, 50, 200]  # untimed warm-up, then m and 4m: 1.5% of the rows


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


# ----- cost models: no pilots for short runs -----------------------------------------------
@dataclass
class Modelled(Linear):
    """A fake method with an a-priori cost model that predicts ``predicted`` seconds."""

    predicted: float = 1.0
    asked: list[int] = field(default_factory=list)

    def cost_model(self, ctx: ExplainContext, rows: int, timer: Any) -> tuple[float, str]:
        self.asked.append(rows)
        return self.predicted, "fake model"


def test_a_run_predicted_short_is_not_piloted_and_says_why() -> None:
    clock = Clock()
    method = Modelled(clock, 0.5, 0.001, predicted=QUICK_BELOW - 0.1)
    got = estimate(method, _ctx(20_000), 20_000, timer=clock)  # type: ignore[arg-type]
    assert method.seen == [] and method.asked == [20_000]
    assert got.seconds == QUICK_BELOW - 0.1
    assert got.basis == "predicted under 3 s: no pilots (fake model)"


def test_a_run_predicted_long_or_an_explicit_estimate_is_piloted() -> None:
    clock = Clock()
    long = Modelled(clock, 0.5, 0.001, predicted=QUICK_BELOW + 1)
    got = estimate(long, _ctx(20_000), 20_000, timer=clock)  # type: ignore[arg-type]
    assert long.seen == [50, 50, 200] and got.basis == "pilots on 50 and 200 rows"
    assert got.seconds == pytest.approx(0.5 + 0.001 * 20_000)
    asked = Modelled(Clock(), 0.5, 0.001, predicted=0.1)
    got = estimate(asked, _ctx(20_000), 20_000, timer=asked.clock, pilot=True)  # type: ignore[arg-type]
    assert asked.asked == [] and asked.seen == [50, 50, 200]  # --estimate pilots anyway

    class Failing(Modelled):
        def cost_model(self, ctx: ExplainContext, rows: int, timer: Any) -> tuple[float, str]:
            raise RuntimeError("cannot tell")

    failing = Failing(Clock(), 0.5, 0.001)
    assert estimate(failing, _ctx(20_000), 20_000, failing.clock).seconds is not None  # type: ignore[arg-type]
    assert failing.seen == [50, 50, 200]  # a cost model that fails leaves it to the pilots


def test_treeshap_cost_model_times_a_slab_of_the_run_tables(sample_models: Path) -> None:
    request = ExplainRequest(str(sample_models / "adult_xgboost.joblib"),
                             str(SAMPLE_DATA / "adult.csv"), target="income",
                             methods=("treeshap",))  # fmt: skip
    prepared = prepare(request)
    ctx = prepared.context(request, REGISTRY["treeshap"])
    ticks = iter(np.arange(0.0, 1000.0, 0.001))  # each reading of the clock: 1 ms later
    got = estimate(REGISTRY["treeshap"], ctx, len(ctx.X), timer=lambda: float(next(ticks)))
    blocks = -(-len(ctx.X) // 128)
    small = min(128 * tableshap.thread_count(None) * 4, len(ctx.X))  # 4 rounds of blocks
    large = min(4 * small, len(ctx.X))
    # every timing reads 1 ms: no cost per row, 1 ms per call, one call for these rows
    assert got.seconds == pytest.approx(0.001)
    kernel = "the tables" if prepared.cache.get(
        "tableshap.compile", (ctx.adapter,), lambda: None
    ).engine == tableshap.TABLES else "the quadrature kernel"  # whichever the cost model chose
    assert got.basis.startswith(
        f"predicted under 3 s: no pilots ({kernel} timed on {small:,} and {large:,} rows "
        "(fastest of 2): 1.0 ms per call + 0.0 us per row"
    )
    assert f"x {blocks:,} blocks" in got.basis
    # the tables the cost model used are the run's: built once, kept for it
    assert prepared.cache.builds == {
        "tableshap.compile": 1, "tableshap.check": 1, "tableshap.path_dependent_table": 1,
        "tableshap.slab_seconds": 1,
    }
    native = ExplainRequest(request.model_path, request.data_path, target="income",
                            methods=("treeshap",),
                            params={"treeshap": {"engine": "native"}})  # fmt: skip
    ctx = prepared.context(native, REGISTRY["treeshap"])
    assert REGISTRY["treeshap"].cost_model(ctx, len(ctx.X), lambda: 0.0) is None  # type: ignore[attr-defined]


# ----- one parse per run, identical results ------------------------------------------------
@pytest.fixture(scope="module")
def big_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """An XGBoost model and 2,400 rows: enough for pilots of the methods that have no hook."""
    import joblib
    import xgboost as xgb

    rng = np.random.default_rng(3)
    X = pd.DataFrame(rng.normal(size=(2_400, 6)), columns=[f"x{i}" for i in range(6)])
    y = X["x0"] * 2 + np.sin(X["x1"]) + X["x2"] * X["x3"]
    folder = tmp_path_factory.mktemp("big_run")
    model = xgb.XGBRegressor(n_estimators=30, max_depth=4, random_state=0, n_jobs=1).fit(X, y)
    joblib.dump(model, folder / "model.joblib")
    X.to_csv(folder / "rows.csv", index=False)
    return str(folder / "model.joblib"), str(folder / "rows.csv")


def _counting(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Count the real parse, compile, check and table builds (the real functions still run)."""
    from xai_cli.methods.tables import tableshap
    from xai_cli.model import parsers

    calls: dict[str, int] = {}

    def counted(name: str, fn: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            calls[name] = calls.get(name, 0) + 1
            return fn(*args, **kwargs)

        return wrapper

    monkeypatch.setitem(parsers.PARSERS, "xgboost", counted("parse", parsers.PARSERS["xgboost"]))
    for name in ("compile_model", "model_offset", "path_dependent_table", "interventional_table"):
        monkeypatch.setattr(tableshap, name, counted(name, getattr(tableshap, name)))
    return calls


def test_pilots_and_run_parse_check_and_compile_the_model_once(
    big_run: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _counting(monkeypatch)
    request = ExplainRequest(*big_run, methods=("treeshap", "treeshap.interventional"))
    prepared = prepare(request)
    found = estimates(request, prepared, pilot=True)  # pilots even though the run is short
    assert found[1].basis == "pilots on 25 and 100 rows"  # interventional: no hook, piloted
    assert calls == {"parse": 1, "compile_model": 1, "model_offset": 1,
                     "path_dependent_table": 1, "interventional_table": 1}  # fmt: skip
    result = run_prepared(request, prepared)
    assert all(o.status == "ok" for o in result.outcomes)
    assert calls == {"parse": 1, "compile_model": 1, "model_offset": 1,
                     "path_dependent_table": 1, "interventional_table": 1}  # fmt: skip
    assert len(prepared.cache) == 0  # the run's end frees its tables
    run_prepared(request, prepare(request))  # another run builds its own
    assert calls["parse"] == 2 and calls["path_dependent_table"] == 2


def test_results_are_identical_with_and_without_estimates(big_run: tuple[str, str]) -> None:
    request = ExplainRequest(*big_run, methods=("treeshap", "treeshap.interventional"))
    plain = run_prepared(request, prepare(request))
    piloted = prepare(request)
    estimates(request, piloted, pilot=True)
    after = run_prepared(request, piloted)
    for a, b in zip(plain.outcomes, after.outcomes, strict=True):
        assert a.method == b.method and a.local is not None and b.local is not None
        assert np.array_equal(a.local.values, b.local.values)
        assert np.array_equal(a.local.base_values, b.local.base_values)
        assert a.local.notes == b.local.notes
