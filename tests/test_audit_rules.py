"""Each audit rule passes on a sound model and fails on a broken one: real XGBoost models
trained on the sample Adult data (see ``sample_data/train_audit_models.py``), audited on
held-out rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from xai_cli.audit import rules
from xai_cli.audit.probes import noise_floor, stability
from xai_cli.audit.runner import prepare
from xai_cli.config.schema import (
    AdditivityRule,
    AgreementRule,
    DriftRule,
    ForbiddenFeaturesRule,
    NoiseFloorRule,
    RequiredFeaturesRule,
    StabilityRule,
)
from xai_cli.methods import REGISTRY
from xai_cli.report import Report
from xai_cli.run.engine import ExplainRequest, explain

METHODS = ("treeshap", "xgboost.gain", "xgboost.weight", "xgboost.cover", "permutation")


def _request(model: Path, data: Path, **kw) -> ExplainRequest:
    return ExplainRequest(str(model), str(data), target="income", methods=METHODS, **kw)


@pytest.fixture(scope="module")
def docs(audit_models) -> dict[str, Report]:
    """Reports of the clean, leaky, pure-noise-column and retrained models."""
    m = audit_models
    requests = {
        "clean": _request(m.clean, m.holdout),
        "leaky": _request(m.leaky, m.leaky_holdout),
        "noise": _request(m.noise, m.noise_holdout),
        "no_relationship": _request(m.no_relationship, m.holdout, drop=("relationship",)),
    }
    return {k: Report.from_result(explain(r)) for k, r in requests.items()}


def test_agreement_passes_for_shap_vs_gain_and_fails_for_shap_vs_cover(docs) -> None:
    good = AgreementRule(type="agreement", methods=["treeshap", "xgboost.gain"], min_spearman=0.7)
    result = rules.agreement(good, "a", docs["clean"])
    assert result.status == "PASS", result.message
    assert result.details["pairs"][0]["spearman"] >= 0.7
    bad = AgreementRule(
        type="agreement",
        methods=["treeshap", "xgboost.cover"],
        min_spearman=0.7,
        min_topk_jaccard=0.5,
    )
    result = rules.agreement(bad, "a", docs["clean"])
    assert result.status == "FAIL"
    assert "treeshap vs xgboost.cover: spearman" in result.message
    warn = bad.model_copy(update={"severity": "warn"})
    assert rules.agreement(warn, "a", docs["clean"]).status == "WARN"


def test_agreement_skips_a_method_that_does_not_apply_and_errors_on_a_failed_one(
    audit_models, docs
) -> None:
    auto = ExplainRequest(
        str(audit_models.clean), str(audit_models.holdout), target="income", max_rows=300
    )
    rule = AgreementRule(type="agreement", methods=["treeshap", "lightgbm.gain"], min_spearman=0.5)
    result = rules.agreement(rule, "a", Report.from_result(explain(auto)))
    assert result.status == "SKIP" and "lightgbm.gain does not apply" in result.message
    not_run = rules.agreement(rule, "a", docs["clean"])
    assert not_run.status == "ERROR" and "'lightgbm.gain' was not run" in not_run.message
    failed = {"status": "failed", "reason": "ValueError: boom"}
    methods = tuple(
        m.model_copy(update=failed) if m.method == "xgboost.gain" else m
        for m in docs["clean"].methods
    )
    doc = docs["clean"].model_copy(update={"methods": methods})
    rule = AgreementRule(type="agreement", methods=["treeshap", "xgboost.gain"], min_spearman=0.5)
    result = rules.agreement(rule, "a", doc)
    assert result.status == "ERROR" and "boom" in result.message


def test_additivity_passes_within_tolerance_and_fails_below_the_measured_error(docs) -> None:
    measured = docs["clean"].additivity[0].max_abs_error
    assert measured is not None
    assert 0 < measured < 1e-3
    ok = rules.additivity(AdditivityRule(type="additivity", max_error=1e-3), "x", docs["clean"])
    assert ok.status == "PASS"
    tight = AdditivityRule(type="additivity", max_error=measured / 10)
    assert rules.additivity(tight, "x", docs["clean"]).status == "FAIL"
    no_shap = docs["clean"].model_copy(update={"additivity": ()})
    assert rules.additivity(ok_rule := tight, "x", no_shap).status == "SKIP", ok_rule


def test_required_features_pass_and_fail_when_the_model_lost_the_feature(docs) -> None:
    rule = RequiredFeaturesRule(
        type="required_features",
        features=["relationship", "capital-gain"],
        in_top_k_of=["treeshap", "permutation"],
    )
    assert rules.required_features(rule, "r", docs["clean"]).status == "PASS"
    result = rules.required_features(rule, "r", docs["no_relationship"])
    assert result.status == "FAIL"
    assert (
        "relationship not in the top 5 of treeshap (not a feature of the model)" in result.message
    )
    low = RequiredFeaturesRule(
        type="required_features", features=["race"], in_top_k_of=["consensus"]
    )
    result = rules.required_features(low, "r", docs["clean"])
    assert result.status == "FAIL" and "race not in the top 5 of consensus" in result.message


def test_forbidden_features_catch_the_leaked_target_copy(docs) -> None:
    rule = ForbiddenFeaturesRule(
        type="forbidden_features",
        features=["gender", "race", "income*"],
        not_in_top_k_of=["treeshap", "permutation"],
        max_share=0.02,
    )
    clean = rules.forbidden_features(rule, "f", docs["clean"])
    assert clean.status == "PASS", clean.message
    assert list(clean.details["patterns_matching_nothing"]) == ["income*"]
    leaky = rules.forbidden_features(rule, "f", docs["leaky"])
    assert leaky.status == "FAIL"
    assert "income_verified in the top 5 of treeshap" in leaky.message
    assert "income_verified has" in leaky.message and "of treeshap (limit 2%)" in leaky.message
    shares = {c["feature"]: c for c in leaky.details["checks"] if c["check"] == "share"}
    assert shares["income_verified"]["share"] > 0.02 and not shares["income_verified"]["ok"]
    assert shares["gender"]["ok"] and shares["race"]["ok"]
    tight = ForbiddenFeaturesRule(type="forbidden_features", features=["gender"], max_share=0.0001)
    assert rules.forbidden_features(tight, "f", docs["clean"]).status == "FAIL"


@pytest.fixture(scope="module")
def floors(audit_models) -> dict[str, object]:
    m = audit_models
    out = {}
    for name, model, data in (("clean", m.clean, m.holdout), ("noise", m.noise, m.noise_holdout)):
        p = prepare(_request(model, data))
        out[name] = noise_floor(p.adapter, p.X, p.y, repeats=30, seed=0)
    return out


def test_noise_floor_separates_a_pure_noise_column_from_a_real_one(docs, floors) -> None:
    floor = floors["noise"]
    assert floor.of("noise").margin <= 0 and not floor.of("noise").above
    assert floor.of("capital-gain").margin > 0.01 and floor.of("capital-gain").above
    # The model split on the noise column so often that its split count ranks it first ...
    weight_top = rules.top_of(docs["noise"], "xgboost.weight", 5)
    assert weight_top[0] == "noise"
    # ... and the rule flags it there, with its margin.
    rule = NoiseFloorRule(type="noise_floor", methods=["xgboost.weight"])
    result = rules.noise_floor(rule, "n", docs["noise"], floor, None)
    assert result.status == "FAIL"
    assert "noise (top 5 of xgboost.weight) is no better than a random probe" in result.message
    by_name = {f["feature"]: f for f in result.details["features"]}
    assert list(by_name["noise"]["in_top_k_of"]) == ["xgboost.weight"]
    assert by_name["noise"]["margin"] == pytest.approx(floor.of("noise").margin, abs=1e-6)


def test_noise_floor_passes_on_the_sound_model(docs, floors) -> None:
    rule = NoiseFloorRule(type="noise_floor", methods=["treeshap", "xgboost.gain"])
    # the probe ran on exactly the rows the report explained
    assert floors["clean"].rows == docs["clean"].provenance.rows_used
    result = rules.noise_floor(rule, "n", docs["clean"], floors["clean"], None)
    assert result.status == "PASS", result.message
    assert all(f["margin"] > 0 for f in result.details["features"] if f["in_top_k_of"])
    error = rules.noise_floor(rule, "n", docs["clean"], None, "no labels")
    assert error.status == "ERROR" and error.message == "no labels"


def test_stability_passes_for_shap_and_fails_for_permutation_on_a_model_of_noise(
    audit_models, docs
) -> None:
    p = prepare(_request(audit_models.shuffled, audit_models.holdout, max_rows=600))
    shap = stability(p.adapter, p.X, p.y, REGISTRY["treeshap"], resamples=8, seed=0)
    perm = stability(
        p.adapter, p.X, p.y, REGISTRY["permutation"], params={"n_repeats": 2}, resamples=8, seed=0
    )
    doc = docs["clean"]  # treeshap and permutation ran; the rule reads only the results given
    rule = StabilityRule(type="stability", methods=["treeshap", "permutation"], min_spearman=0.8)
    result = rules.stability(rule, "s", doc, {"treeshap": shap, "permutation": perm})
    assert result.status == "FAIL"
    assert result.message.startswith("permutation: 5th percentile Spearman")
    methods = {m["method"]: m for m in result.details["methods"]}
    assert methods["treeshap"]["ok"] and not methods["permutation"]["ok"]
    # every feature has a rank interval that contains its full-rows rank or sits around it
    for m in methods.values():
        assert len(m["ranks"]) == len(p.adapter.feature_names)
        assert all(1 <= r["low"] <= r["high"] <= len(m["ranks"]) for r in m["ranks"])
    assert any(r["high"] - r["low"] >= 3 for r in methods["permutation"]["ranks"])
    only_shap = StabilityRule(type="stability", methods=["treeshap"], min_spearman=0.8)
    assert rules.stability(only_shap, "s", doc, {"treeshap": shap}).status == "PASS"


def test_stability_of_a_method_that_ignores_the_rows_is_identical(audit_models) -> None:
    p = prepare(_request(audit_models.clean, audit_models.holdout, max_rows=400))
    s = stability(p.adapter, p.X, p.y, REGISTRY["xgboost.gain"], resamples=5, seed=0)
    assert s.identical and s.quantile(0.05) == pytest.approx(1.0)
    assert all(f.low == f.high == f.rank for f in s.features)


def test_drift_against_itself_is_perfect(docs) -> None:
    rule = DriftRule(type="drift", min_spearman=0.99, min_topk_jaccard=1.0)
    result = rules.drift(rule, "d", docs["clean"], docs["clean"], None)
    assert result.status == "PASS", result.message
    for entry in result.details["methods"]:
        assert entry["spearman"] == pytest.approx(1.0) and entry["topk_jaccard"] == 1.0
        assert not entry["entering"] and not entry["leaving"]
        assert all(c["change"] == 0 for c in entry["rank_changes"])


def test_drift_detects_the_retrained_model_without_its_top_feature(docs) -> None:
    top = rules.top_of(docs["clean"], "treeshap", 1)
    assert top == ["relationship"]
    rule = DriftRule(type="drift", methods=["treeshap"], min_spearman=0.8, min_topk_jaccard=0.8)
    result = rules.drift(rule, "d", docs["no_relationship"], docs["clean"], None)
    assert result.status == "FAIL"
    entry = result.details["methods"][0]
    assert "relationship" in entry["leaving"]
    assert list(entry["features_removed"]) == ["relationship"]
    assert entry["topk_jaccard"] < 0.8
    assert "leaving: relationship" in result.message
    skipped = rules.drift(rule, "d", docs["clean"], None, "no --baseline report given")
    assert skipped.status == "SKIP"
