"""``--time-limit``: a method estimated to run too long is skipped (auto) or refused (named).

Wide data is the case it exists for (permutation makes one prediction per column and repeat);
here a small model and a tiny limit stand in for a wide file and the default 10 minutes, so the
tests are fast. The estimate is real (timed), and any real estimate exceeds a microsecond.
"""

from __future__ import annotations

import json
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from xai_cli.cli import app
from xai_cli.config.load import Overrides, load_plan
from xai_cli.errors import TimeLimitError, UsageError
from xai_cli.run.estimate import (
    DEFAULT_TIME_LIMIT,
    Estimate,
    apply_time_limit,
    resolve_time_limit,
)

TINY = "0.000001"


@pytest.fixture(scope="module")
def wide(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A random forest on 40 columns and 300 rows, with its CSV."""
    from sklearn.ensemble import RandomForestClassifier

    root = tmp_path_factory.mktemp("wide")
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(300, 40)), columns=[f"c{i}" for i in range(40)])
    y = (X["c0"] + X["c1"] > 0).astype(int)
    model = RandomForestClassifier(n_estimators=5, max_depth=3, random_state=0).fit(X, y)
    joblib.dump(model, root / "model.joblib")
    X.assign(y=y).to_csv(root / "data.csv", index=False)
    return root / "model.joblib", root / "data.csv"


def _explain(wide: tuple[Path, Path], out: Path, *args: str):
    model, data = wide
    argv = ["explain", str(model), str(data), "--target", "y", "--out", str(out)]
    return CliRunner().invoke(app, [*argv, "--output-format", "none", *args])


def test_auto_method_over_the_limit_is_skipped_with_the_estimate(
    wide: tuple[Path, Path], tmp_path: Path
) -> None:
    run = _explain(wide, tmp_path / "o", "--time-limit", TINY, "--format", "json")
    assert run.exit_code == 0, run.output
    doc = json.loads((tmp_path / "o" / "report.json").read_text())
    status = {m["method"]: (m["status"], m["reason"]) for m in doc["methods"]}
    assert status["permutation"][0] == "skipped"
    assert "over the time limit" in status["permutation"][1]
    assert "--time-limit" in status["permutation"][1]
    assert status["sklearn.impurity"] == ("ok", None)  # read from the model: never estimated


def test_named_method_over_the_limit_stops_the_run_before_anything_runs(
    wide: tuple[Path, Path], tmp_path: Path
) -> None:
    run = _explain(wide, tmp_path / "o", "-m", "permutation", "--time-limit", TINY)
    assert run.exit_code == 2
    lines = run.output.splitlines()
    error = next(line for line in lines if line.startswith("error["))
    assert error.startswith("error[time-limit]: method 'permutation' would take too long")
    assert any(line.strip().startswith("hint:") and "--time-limit" in line for line in lines)
    assert "Traceback" not in run.output
    assert not (tmp_path / "o").exists()  # refused up front: no report


def test_default_limit_keeps_normal_runs_unchanged(
    wide: tuple[Path, Path], tmp_path: Path
) -> None:
    run = _explain(wide, tmp_path / "o", "-m", "permutation", "--format", "json")
    assert run.exit_code == 0, run.output
    doc = json.loads((tmp_path / "o" / "report.json").read_text())
    assert [m["status"] for m in doc["methods"]] == ["ok"]


def test_no_limit_and_bad_values(wide: tuple[Path, Path], tmp_path: Path) -> None:
    run = _explain(wide, tmp_path / "o", "-m", "permutation", "--time-limit", "none")
    assert run.exit_code == 0, run.output
    bad = _explain(wide, tmp_path / "p", "--time-limit", "soon")
    assert bad.exit_code == 2 and "error[usage]: --time-limit" in bad.output


@pytest.mark.parametrize(
    ("given", "seconds"),
    [(None, DEFAULT_TIME_LIMIT), ("none", None), ("90", 90.0), ("90s", 90.0), ("10m", 600.0),
     ("1.5h", 5400.0), ("2 min", 120.0), (30, 30.0)],
)  # fmt: skip
def test_durations(given: str | int | None, seconds: float | None) -> None:
    assert resolve_time_limit(given) == seconds


@pytest.mark.parametrize("given", ["0", "-5", "inf", "nan", "10d", "", "m"])
def test_bad_durations(given: str) -> None:
    with pytest.raises(UsageError):
        resolve_time_limit(given)


def test_apply_time_limit_skips_auto_refuses_user_keeps_unestimated() -> None:
    from xai_cli.methods import REGISTRY

    perm, shap, gain = REGISTRY["permutation"], REGISTRY["treeshap"], REGISTRY["xgboost.gain"]
    found = (
        Estimate("permutation", 4000.0, 100, "timed"),
        Estimate("treeshap", 10.0, 100, "pilots"),
        Estimate("xgboost.gain", None, 100, "reads the model only"),
    )
    chosen = ((perm, "auto"), (shap, "auto"), (gain, "auto"))
    keep, skipped = apply_time_limit(chosen, found, 600.0)
    assert [e.name for e, _ in keep] == ["treeshap", "xgboost.gain"]
    assert skipped[0].method == "permutation" and "~67 min" in skipped[0].reason
    assert "--time-limit 101m" in skipped[0].reason
    assert apply_time_limit(chosen, found, None) == (chosen, ())
    with pytest.raises(TimeLimitError, match="permutation"):
        apply_time_limit(((perm, "user"),), found, 600.0)


def test_config_time_limit_and_override(tmp_path: Path, wide: tuple[Path, Path]) -> None:
    model, data = wide
    config = tmp_path / "xai.yaml"
    body = (
        f"schema_version: 1\noutput: {{folder: out}}\nexecution: {{time_limit: 2h}}\n"
        f"jobs:\n  - model: {model}\n    data: {{path: {data}, target: y}}\n"
    )
    config.write_text(body)
    assert load_plan(config).jobs[0].request.time_limit == 7200.0
    plan = load_plan(config, Overrides(time_limit="none"))
    assert plan.jobs[0].request.time_limit is None
    config.write_text(body.replace("2h", "soon"))
    with pytest.raises(Exception, match="time_limit"):
        load_plan(config)
    config.write_text(body.replace("execution: {time_limit: 2h}\n", ""))
    assert load_plan(config).jobs[0].request.time_limit == DEFAULT_TIME_LIMIT


def test_permutation_estimate_leaves_out_the_bootstrap_it_will_not_run(
    wide: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Wide data keeps no predictions for the bootstrap, so the estimate must not charge for it
    (on 3,000 x 5,000 it would add 25,000 bootstrap metrics the run never computes)."""
    from xai_cli.methods import REGISTRY, permutation
    from xai_cli.run.engine import ExplainRequest, prepare
    from xai_cli.run.estimate import estimate

    monkeypatch.setattr(permutation, "MAX_KEPT_CELLS", 0)
    request = ExplainRequest(str(wide[0]), str(wide[1]), target="y", methods=("permutation",))
    prepared = prepare(request)
    ctx = prepared.context(request, REGISTRY["permutation"])
    ticks = iter(range(10_000))
    got = estimate(REGISTRY["permutation"], ctx, len(ctx.X), timer=lambda: float(next(ticks)))
    calls = 1 + 40 * 5
    assert got.seconds == calls * 1  # one tick per timed prediction, nothing else
    assert got.basis == f"one prediction and score timed, x {calls} calls"
    assert REGISTRY["permutation"].explain(ctx).bootstrap is None  # and indeed none is made
