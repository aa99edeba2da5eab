"""The one method runner: a row-wise method streamed over every row and the same method in memory
are recorded the same way (provenance, failures, non-finite importances).

A small XGBoost model trained here, on 600 synthetic rows, keeps these tests fast; the streamed run
uses chunks of 250 rows (three partitions) so the partition path is exercised.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
import xgboost as xgb

from xai_cli.methods import REGISTRY
from xai_cli.results import MethodOutcome
from xai_cli.run import rowwise
from xai_cli.run.engine import ExplainRequest, explain
from xai_cli.run.runner import NON_FINITE

ROWS = 600


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A binary XGBoost model and its CSV (features a..d, label y driven by a and b)."""
    root = tmp_path_factory.mktemp("method_runner")
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(ROWS, 4)), columns=list("abcd"))
    y = (X["a"] + 0.5 * X["b"] + rng.normal(scale=0.3, size=ROWS) > 0).astype(int)
    model = xgb.XGBClassifier(n_estimators=15, max_depth=3, random_state=0).fit(X, y)
    joblib.dump(model, root / "model.joblib")
    X.assign(y=y).to_csv(root / "data.csv", index=False)
    return root / "model.joblib", root / "data.csv"


def _treeshap(files: tuple[Path, Path], streamed: bool) -> MethodOutcome:
    model, data = files
    request = ExplainRequest(
        str(model), str(data), target="y", methods=("treeshap",), max_rows=None,
        chunk_rows=250 if streamed else None,
    )  # fmt: skip
    (outcome,) = [o for o in explain(request).outcomes if o.method == "treeshap"]
    return outcome


def _recorded(outcome: MethodOutcome) -> dict[str, object]:
    """The provenance fields that must not depend on how the method was computed."""
    assert outcome.provenance is not None
    fields = dataclasses.asdict(outcome.provenance)
    return {k: v for k, v in fields.items() if k not in ("elapsed_s", "notes")}


def test_streamed_and_in_memory_record_the_same_provenance(files, monkeypatch) -> None:
    def no_reload(*_args, **_kwargs):
        raise AssertionError("the local streamed run loaded the model file again")

    rowwise._adapter.cache_clear()
    monkeypatch.setattr(rowwise, "load_model", no_reload)  # partitions use the run's model
    memory, streamed = _treeshap(files, False), _treeshap(files, True)
    assert memory.status == streamed.status == "ok"
    assert _recorded(streamed) == _recorded(memory)
    assert _recorded(memory)["uses_rows"] is True and _recorded(memory)["library"]
    # the streamed run adds its own note after the method's, nothing else differs
    *method_notes, note = streamed.provenance.notes

    def same(notes: tuple[str, ...] | list[str]) -> list[str]:
        # the engine choice's note names the rows its build is spread over: a partition's in a
        # streamed run, the sample's in memory; the choice itself must be the same
        return [n.split(" (their build")[0] for n in notes]

    assert same(method_notes) == same(memory.provenance.notes)
    assert note.startswith(f"streamed over all {ROWS} rows in 3 partitions")
    assert streamed.provenance.elapsed_s > 0 and memory.provenance.elapsed_s > 0
    np.testing.assert_allclose(streamed.table.values, memory.table.values, rtol=1e-10)


def test_a_method_raising_fails_the_same_way_in_both_paths(files, monkeypatch) -> None:
    def explode(self, ctx):
        raise RuntimeError("kernel exploded")

    monkeypatch.setattr(type(REGISTRY["treeshap"]), "explain", explode)
    memory, streamed = _treeshap(files, False), _treeshap(files, True)
    for outcome in (memory, streamed):
        assert outcome.status == "failed" and outcome.table is None
        assert "kernel exploded" in (outcome.reason or "")
        assert outcome.provenance.notes == ()  # nothing was computed, so nothing was noted
    assert memory.reason == streamed.reason
    assert _recorded(streamed) == _recorded(memory)


def test_non_finite_importances_fail_in_both_paths(files, monkeypatch) -> None:
    cls = type(REGISTRY["treeshap"])
    real = cls.explain

    def with_nan(self, ctx):
        local = real(self, ctx)
        values = np.array(local.values)
        values[0, 1, 0] = np.nan  # one row of one feature: the mean is NaN
        return dataclasses.replace(local, values=values)

    monkeypatch.setattr(cls, "explain", with_nan)
    memory, streamed = _treeshap(files, False), _treeshap(files, True)
    for outcome in (memory, streamed):
        assert (outcome.status, outcome.reason) == ("failed", NON_FINITE)
        assert outcome.table is None and outcome.local is None
    assert _recorded(streamed) == _recorded(memory)
    assert streamed.provenance.notes[-1].startswith("streamed over all")
