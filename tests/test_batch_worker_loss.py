"""``run_plan`` when a worker process dies: a job whose complete folder this run wrote keeps its
outcome; every other unfinished job is lost, unless ``--resume`` would have skipped it anyway.

joblib is replaced by a stand-in that runs some jobs in this process and then fails the way a dead
worker does, with no result delivered: the race between a job's folder landing and its result
reaching the parent, made deterministic.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from joblib.externals.loky.process_executor import TerminatedWorkerError

from tests.conftest import SAMPLE_DATA
from xai_cli.config.load import Plan, load_plan
from xai_cli.run import batch
from xai_cli.run.batch import FINGERPRINT_FILE, JobOutcome, run_plan


@pytest.fixture
def plan(tmp_path: Path, sample_models: Path) -> Plan:
    """Two small jobs, ``first`` and ``second``, writing into ``tmp_path/out``."""
    data = {"path": str(SAMPLE_DATA / "adult.csv"), "target": "income"}
    config = {
        "schema_version": 1,
        "output": {"folder": "out", "formats": ["json", "csv"], "top_k": 3},
        "defaults": {"data": {"max_rows": 200, "seed": 3}, "methods": ["treeshap"]},
        "jobs": [
            {"name": "first", "model": str(sample_models / "adult_xgboost.joblib"), "data": data},
            {"name": "second", "model": str(sample_models / "adult_lightgbm.joblib"), "data": data},
        ],
    }
    path = tmp_path / "xai.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return load_plan(path)


def dies_after(count: int) -> Callable[..., Any]:
    """A ``joblib.Parallel`` whose pool runs the first ``count`` jobs to the end, then dies before
    any result reaches the caller."""

    def parallel(**_options: Any) -> Callable[[Any], Iterator[JobOutcome]]:
        def results(tasks: Any) -> Iterator[JobOutcome]:
            for func, args, kwargs in list(tasks)[:count]:
                func(*args, **kwargs)  # the folder is written; the outcome is lost
            raise TerminatedWorkerError("A worker process managed by the executor was killed")
            yield  # a generator, like return_as="generator_unordered"

        return results

    return parallel


def stored_outcome(plan: Plan, name: str) -> JobOutcome:
    text = (plan.out_dir / name / FINGERPRINT_FILE).read_text(encoding="utf-8")
    return JobOutcome.from_dict(json.loads(text)["outcome"])


def test_a_job_whose_folder_landed_before_its_worker_died_keeps_its_outcome(
    plan: Plan, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(batch, "Parallel", dies_after(1))
    jobs = {o.name: o for o in run_plan(plan, n_jobs=2)}
    assert jobs["first"].status == "ok"
    assert jobs["first"] == stored_outcome(plan, "first")
    assert jobs["second"].status == "error"
    assert "worker process died" in (jobs["second"].error or "")
    assert not (plan.out_dir / "second").exists()


def test_a_folder_from_an_earlier_run_is_not_taken_for_this_runs_result(
    plan: Plan, monkeypatch: pytest.MonkeyPatch
) -> None:
    earlier = {o.name: o for o in run_plan(plan, n_jobs=1)}
    assert {o.status for o in earlier.values()} == {"ok"}
    monkeypatch.setattr(batch, "Parallel", dies_after(0))
    rerun = run_plan(plan, n_jobs=2)  # the same inputs, but this run finished nothing
    assert {o.name: o.status for o in rerun} == {"first": "error", "second": "error"}
    resumed = {o.name: o for o in run_plan(plan, n_jobs=2, resume=True)}
    for name, outcome in resumed.items():  # what the worker would have answered: unchanged
        assert outcome.status == "skipped" and outcome.resumed_from
        assert outcome.top_features == earlier[name].top_features
