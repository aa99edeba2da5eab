"""Streaming row-wise methods over every row, and the Dask engine on a real ``LocalCluster``.

A streamed run's global importances must equal an in-memory run's, whatever the chunk size; the
same chunking must give bit-identical numbers locally and on Dask; the plot sample must not depend
on how the file is split.
"""

from __future__ import annotations

from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest

from tests.conftest import SAMPLE_DATA
from xai_cli.load.streaming import partitions, row_keys, stream_sample
from xai_cli.results import ExplainResult
from xai_cli.run.engine import ExplainRequest, explain


def _ok(result: ExplainResult) -> dict:
    return {o.method: o for o in result.outcomes if o.status == "ok"}


@pytest.fixture(scope="module")
def multi_row_group(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Adult sample as Parquet with 4 row groups of 1,000 rows."""
    path = tmp_path_factory.mktemp("stream") / "adult.parquet"
    pd.read_parquet(SAMPLE_DATA / "adult.parquet").to_parquet(path, row_group_size=1000)
    return path


@pytest.fixture(scope="module")
def multiclass(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A 3-class LightGBM model on California housing (price terciles), with its CSV."""
    import lightgbm as lgb

    root = tmp_path_factory.mktemp("multiclass")
    frame = pd.read_csv(SAMPLE_DATA / "california_housing.csv")
    y = pd.qcut(frame.pop("MedHouseVal"), 3, labels=["low", "mid", "high"]).astype(str)
    model = lgb.LGBMClassifier(n_estimators=25, num_leaves=15, random_state=0, verbose=-1)
    joblib.dump(model.fit(frame, y), root / "model.joblib")
    frame.assign(band=y).to_csv(root / "data.csv", index=False)
    return root / "model.joblib", root / "data.csv"


def test_row_keys_depend_only_on_seed_and_position() -> None:
    whole = row_keys(7, 0, 1000)
    assert np.array_equal(whole[300:], row_keys(7, 300, 700))
    assert not np.array_equal(whole, row_keys(8, 0, 1000))
    assert len(np.unique(whole)) == 1000


def test_sample_is_the_same_however_the_file_is_chunked(multi_row_group: Path) -> None:
    samples = [
        stream_sample(multi_row_group, chunk, seed=3, keep=250, target="income")[0]
        for chunk in (64, 333, 5000)
    ]
    csv = stream_sample(SAMPLE_DATA / "adult.csv", 777, seed=3, keep=250, target="income")[0]
    for other in [*samples[1:], csv]:
        pd.testing.assert_frame_equal(samples[0], other, check_dtype=False)
    assert len(samples[0]) == 250
    assert [p.rows for p in partitions(multi_row_group, 10)] == [1000] * 4


@pytest.mark.parametrize(
    ("model", "data", "target"),
    [
        ("adult_xgboost.joblib", "adult.parquet", "income"),
        ("adult_catboost.joblib", "adult.csv", "income"),
        ("california_lightgbm.joblib", "california_housing.csv", "MedHouseVal"),
        ("california_random_forest.joblib", "california_housing.parquet", "MedHouseVal"),
    ],
)
def test_streamed_global_importances_equal_in_memory(
    sample_models: Path, model: str, data: str, target: str
) -> None:
    base = {"model_path": str(sample_models / model), "data_path": str(SAMPLE_DATA / data),
            "target": target, "methods": ("treeshap",)}  # fmt: skip
    memory = _ok(explain(ExplainRequest(**base)))["treeshap"]
    for chunk in (333, 1500):
        streamed = _ok(explain(ExplainRequest(**base, chunk_rows=chunk)))["treeshap"]
        np.testing.assert_allclose(streamed.table.values, memory.table.values, rtol=1e-10)
        assert streamed.table.params["rows"] == memory.table.params["rows"] == 4000
        assert streamed.table.unit == memory.table.unit
        assert "streamed over all 4000 rows" in " ".join(streamed.provenance.notes)


def test_streamed_multiclass_and_sample_values_match(multiclass: tuple[Path, Path]) -> None:
    model, data = multiclass
    base = {"model_path": str(model), "data_path": str(data), "target": "band",
            "methods": ("treeshap", "permutation"), "max_rows": 600}  # fmt: skip
    full = _ok(explain(ExplainRequest(**{**base, "max_rows": None})))["treeshap"]
    result = explain(ExplainRequest(**base, chunk_rows=700))
    streamed = _ok(result)
    assert set(streamed) == {"treeshap", "permutation"}
    table = streamed["treeshap"].table
    assert table.outputs == full.table.outputs and len(table.outputs) == 4  # pooled + 3 classes
    np.testing.assert_allclose(table.values, full.table.values, rtol=1e-10)
    # the kept local values are those of the sample rows, which the other methods used
    assert streamed["treeshap"].local.values.shape == (600, 8, 3)
    assert result.provenance.rows_used == 600 and result.provenance.rows_total == 4000
    (check,) = result.comparison.additivity
    assert check.rows == 4000 and check.ok
    # a perturbed table would be caught by the comparison above
    with pytest.raises(AssertionError):
        np.testing.assert_allclose(table.values * (1 + 1e-6), full.table.values, rtol=1e-10)


def test_dask_local_cluster_equals_local_engine(sample_models: Path, multi_row_group: Path) -> None:
    base = {"model_path": str(sample_models / "adult_lightgbm.joblib"),
            "data_path": str(multi_row_group), "target": "income",
            "methods": ("treeshap", "lightgbm.gain", "permutation", "occlusion"),
            "max_rows": 400, "chunk_rows": 300, "seed": 5,
            "params": {"occlusion": {"background_rows": 2}}}  # fmt: skip
    local = explain(ExplainRequest(**base))
    dask = explain(ExplainRequest(**base, engine="dask"))
    a, b = _ok(local), _ok(dask)
    assert set(a) == set(b) == {"treeshap", "lightgbm.gain", "permutation", "occlusion"}
    for method in a:
        assert np.array_equal(a[method].table.values, b[method].table.values), method
    assert np.array_equal(a["treeshap"].local.values, b["treeshap"].local.values)
    notes = " ".join(b["treeshap"].provenance.notes)
    assert "engine dask" in notes and "4 partitions" in notes
    pa, pb = a["treeshap"].provenance, b["treeshap"].provenance
    assert (pa.backend, pa.library) == (pb.backend, pb.library)  # same code either way
    assert local.comparison.additivity == dask.comparison.additivity
    # permutation's shuffled-copy predictions ran as tasks on the cluster, with equal numbers
    assert b["permutation"].table.params["predictions"] == "dask"
    assert a["permutation"].table.params["predictions"] == "xai tree walk (checked)"
    assert np.array_equal(a["permutation"].table.spread, b["permutation"].table.spread)
    assert local.comparison.rank_intervals == dask.comparison.rank_intervals
    # the coalition engine's blocks of masked rows (occlusion here) ran as tasks, same numbers
    assert b["occlusion"].local.params["predictions"] == "dask"
    assert np.array_equal(a["occlusion"].local.values, b["occlusion"].local.values)


def test_cli_streamed_run_and_dask_needs_parquet(sample_models: Path, tmp_path: Path, xai) -> None:
    model = str(sample_models / "adult_xgboost.joblib")
    run = xai("explain", model, str(SAMPLE_DATA / "adult.csv"), "--target", "income",
              "--chunk-rows", "900", "--max-rows", "300", "--out", str(tmp_path / "r"),
              "--output-format", "json", "-q")  # fmt: skip
    assert run.code == 0, run.stderr
    assert "streamed" in run.stdout
    bad = xai("explain", model, str(SAMPLE_DATA / "adult.csv"), "--engine", "dask",
              "--out", str(tmp_path / "d"))  # fmt: skip
    assert bad.code == 2 and bad.stderr.startswith("error[usage]: --engine dask reads Parquet")
    assert not (tmp_path / "d").exists()


def test_bootstrap_rank_intervals_narrow_as_the_sample_grows(sample_models: Path) -> None:
    base = {"model_path": str(sample_models / "adult_xgboost.joblib"),
            "data_path": str(SAMPLE_DATA / "adult.csv"), "target": "income",
            "methods": ("treeshap", "xgboost.gain")}  # fmt: skip
    small = explain(ExplainRequest(**base, max_rows=100)).comparison.rank_intervals
    large = explain(ExplainRequest(**base, max_rows=None)).comparison.rank_intervals
    assert {i.method for i in small} == {"treeshap"}  # only methods with per-row values
    assert {i.rows for i in small} == {100} and {i.rows for i in large} == {4000}
    for interval in small + large:
        assert interval.low <= interval.rank <= interval.high
    width = lambda ivs: sum(i.high - i.low for i in ivs)  # noqa: E731
    assert width(large) < width(small)
    again = explain(ExplainRequest(**base, max_rows=100)).comparison.rank_intervals
    assert again == small  # seeded
    streamed = explain(ExplainRequest(**base, max_rows=100, chunk_rows=1000))
    assert streamed.comparison.rank_intervals == ()  # every row explained: no sampling error
