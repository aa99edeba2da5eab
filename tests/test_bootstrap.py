"""Bootstrap rank intervals for methods without per-row values (permutation importance).

The weighted scores must equal scikit-learn's with ``sample_weight``; the permutation bootstrap
must equal scikit-learn's ``permutation_importance`` rerun with the resample's counts as weights;
and a bootstrap whose predictions do not line up with scikit-learn's must be refused.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.inspection import permutation_importance
from sklearn.metrics import r2_score, roc_auc_score

from tests.conftest import SAMPLE_DATA
from xai_cli.compare import bootstrap
from xai_cli.compare.bootstrap import WeightedScore, resample_counts
from xai_cli.load.models import load_model
from xai_cli.methods import REGISTRY, ExplainContext
from xai_cli.methods.permutation import bootstrap_importances
from xai_cli.model.adapter import adapt
from xai_cli.run.engine import ExplainRequest, encode_target, explain


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_weighted_scores_equal_scikit_learn_with_sample_weight(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 300
    weights = next(resample_counts(n, 4, seed))
    labels = rng.integers(0, 3, n)
    probs = rng.dirichlet(np.ones(3), n).round(1)  # rounding makes many ties
    probs /= probs.sum(axis=1, keepdims=True)
    binary = np.c_[1 - probs[:, 0], probs[:, 0]]
    y_reg = rng.normal(size=n)
    pred = y_reg + rng.normal(scale=0.5, size=n)
    for b, w in enumerate(weights):
        got = WeightedScore("binary", labels == 0, binary)(weights)[b]
        assert got == pytest.approx(roc_auc_score(labels == 0, binary[:, 1], sample_weight=w))
        got = WeightedScore("multiclass", labels, probs)(weights)[b]
        want = roc_auc_score(labels, probs, multi_class="ovr", sample_weight=w)
        assert got == pytest.approx(want)
        got = WeightedScore("regression", y_reg, pred)(weights)[b]
        assert got == pytest.approx(r2_score(y_reg, pred, sample_weight=w))


def test_resample_blocks_do_not_change_the_draws(monkeypatch: pytest.MonkeyPatch) -> None:
    whole = np.vstack(list(resample_counts(50, 20, 3)))
    monkeypatch.setattr(bootstrap, "CHUNK_CELLS", 120)  # blocks of 2 resamples
    blocks = list(resample_counts(50, 20, 3))
    assert len(blocks) == 10 and np.array_equal(np.vstack(blocks), whole)
    assert (whole.sum(axis=1) == 50).all()


def _context(sample_models: Path, rows: int) -> ExplainContext:
    adapter = adapt(load_model(sample_models / "adult_xgboost.joblib").obj)
    frame = pd.read_csv(SAMPLE_DATA / "adult.csv").sample(rows, random_state=0)
    codes, adapter, _ = encode_target(adapter, frame.pop("income"))
    return ExplainContext(adapter=adapter, X=frame, y=codes, seed=7, params={"n_repeats": 3})


def test_permutation_bootstrap_equals_scikit_learn_rerun_with_the_resample_weights(
    sample_models: Path,
) -> None:
    ctx = _context(sample_models, 500)
    table = REGISTRY["permutation"].explain(ctx)
    assert table.bootstrap is not None and table.bootstrap.shape == (200, len(table.features))
    adapter = ctx.adapter

    def scorer(_: Any, X: pd.DataFrame, y: np.ndarray, sample_weight: Any = None) -> float:
        return float(roc_auc_score(y, adapter.predict_scores(X)[:, 1], sample_weight=sample_weight))

    class Fitted:
        def fit(self, *_: Any) -> Fitted:
            return self

    for b, counts in enumerate(next(resample_counts(500, 3, ctx.seed))):
        rerun = permutation_importance(
            Fitted(), ctx.X, ctx.y, scoring=scorer, n_repeats=3, random_state=ctx.seed,
            sample_weight=counts,
        )  # fmt: skip
        np.testing.assert_allclose(table.bootstrap[b], rerun.importances_mean, atol=1e-12)


def test_permutation_bootstrap_refuses_predictions_out_of_order() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    made = [np.c_[1 - p, p] for p in rng.random((1 + 2 * 3, 200))]
    scores = [roc_auc_score(y, p[:, 1]) for p in made]
    importances = (scores[0] - np.array(scores[1:])).reshape(2, 3)
    assert bootstrap_importances("binary", y, made, importances, 0) is not None
    swapped = [made[0], *made[4:], *made[1:4]]  # the two features' predictions exchanged
    assert bootstrap_importances("binary", y, swapped, importances, 0) is None


def test_explain_reports_permutation_rank_intervals_that_narrow_with_more_rows(
    sample_models: Path,
) -> None:
    base = {"model_path": str(sample_models / "california_xgboost.joblib"),
            "data_path": str(SAMPLE_DATA / "california_housing.csv"), "target": "MedHouseVal",
            "methods": ("permutation", "xgboost.gain"),
            "params": {"permutation": {"n_repeats": 2}}}  # fmt: skip
    small = explain(ExplainRequest(**base, max_rows=80)).comparison.rank_intervals
    large = explain(ExplainRequest(**base, max_rows=3000)).comparison.rank_intervals
    assert {i.method for i in small} == {"permutation"}  # gain reads the trees, not the rows
    assert {i.rows for i in small} == {80} and {i.rows for i in large} == {3000}
    for interval in small + large:
        assert interval.low <= interval.high
    width = lambda ivs: sum(i.high - i.low for i in ivs)  # noqa: E731
    assert width(large) < width(small)


def test_reports_say_why_a_method_has_no_rank_interval(sample_models: Path) -> None:
    from xai_cli.report import Report
    from xai_cli.reports.stability import interval_gaps, stability_lines

    request = ExplainRequest(
        str(sample_models / "adult_catboost.cbm"), str(SAMPLE_DATA / "adult.csv"), target="income",
        methods=("treeshap", "catboost.PredictionValuesChange", "catboost.LossFunctionChange"),
        max_rows=300,
    )  # fmt: skip
    doc = Report.from_result(explain(request))
    assert {r.method for r in doc.rank_intervals} == {"treeshap"}
    assert interval_gaps(doc) == {"model": ["catboost.PredictionValuesChange"], "every_row": [],
                                  "none": ["catboost.LossFunctionChange"]}  # fmt: skip
    lines = stability_lines(doc)
    assert lines[0].startswith("Rank intervals (treeshap; 95%, 200 bootstrap resamples of the 300")
    assert lines[1:] == [
        "Not affected by the row sample (read from the model): catboost.PredictionValuesChange",
        "No rank interval (needs a rerun per resample, as the xai audit stability rule does): "
        "catboost.LossFunctionChange",
    ]
    streamed = Report.from_result(explain(dataclasses.replace(request, chunk_rows=1000)))
    assert interval_gaps(streamed)["every_row"] == ["treeshap"]
