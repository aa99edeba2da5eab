"""The validation scorecard, the leak screen, the verdict and the known-answer suite.

Each check is shown to pass on a correct method and to fail on a deliberately broken one: a
SHAP backend with its values permuted across features, a backend that ignores the model, and
xai's tree parse with its float32 routing turned off. The broken backends are registered only
inside the tests that use them (``monkeypatch``).
"""

from __future__ import annotations

import dataclasses
import json
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest

from xai_cli.methods import REGISTRY, ExplainContext, NoParams
from xai_cli.methods.base import SUPPORTED, numeric_view
from xai_cli.methods.treeshap import TreeShap
from xai_cli.request import ExplainRequest
from xai_cli.results import LocalAttribution
from xai_cli.validate import exactness, faithfulness, kinds, routing, sanity
from xai_cli.validate.checks import ValidateOptions
from xai_cli.validate.context import Subject

N_FEATURES = 6


@pytest.fixture(scope="session")
def data() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(0)
    n = 240
    X = pd.DataFrame(rng.normal(size=(n, N_FEATURES)), columns=[f"f{i}" for i in range(N_FEATURES)])
    y = ((2 * X.f0 + X.f1 - X.f2 + 0.3 * rng.normal(size=n)) > 0).astype(int).to_numpy()
    return X, y


@pytest.fixture(scope="session")
def model(data):  # noqa: ANN001, ANN201
    import xgboost as xgb

    X, y = data
    return xgb.XGBClassifier(n_estimators=15, max_depth=3, n_jobs=1, random_state=0).fit(X, y)


@dataclasses.dataclass(frozen=True)
class Permuted(TreeShap):
    """TreeSHAP with each row's values moved to other features (sums unchanged)."""

    name: str = "broken.permuted"

    def explain(self, ctx: ExplainContext) -> LocalAttribution:
        out = super().explain(ctx)
        values = np.roll(out.values, N_FEATURES // 2, axis=1)
        return dataclasses.replace(out, method=self.name, values=values)


@dataclasses.dataclass(frozen=True)
class Blind:
    """Per-row 'attributions' computed from the data alone: it never reads the model."""

    name: str = "broken.blind"
    library: str = "numpy"
    needs_target: bool = False
    uses_rows: bool = True
    description: str = "ignores the model"
    params: ClassVar[type[NoParams]] = NoParams
    in_auto: ClassVar[bool] = False
    row_wise: ClassVar[bool] = False  # centred on the rows it is given
    distributes: ClassVar[bool] = False

    def supports(self, adapter):  # noqa: ANN001, ANN201
        return SUPPORTED

    def explain(self, ctx: ExplainContext) -> LocalAttribution:
        data = numeric_view(ctx.X)
        values = (data - data.mean(axis=0))[:, :, None] * np.arange(1, data.shape[1] + 1)[:, None]
        a = ctx.adapter
        return LocalAttribution(self.name, "mean_abs_blind", a.feature_names, a.outputs, values,
                                np.zeros((len(data), 1)), data)  # fmt: skip

    def cost_model(self, ctx, rows, timer):  # noqa: ANN001, ANN201
        return None

    estimate_seconds = cost_model


@pytest.fixture
def broken(monkeypatch):  # noqa: ANN001, ANN201
    """Register the broken backends for one test only."""
    monkeypatch.setitem(REGISTRY, "broken.permuted", Permuted())
    monkeypatch.setitem(REGISTRY, "broken.blind", Blind())
    monkeypatch.setitem(kinds.GAMES, "broken.permuted", "path_dependent")


def _subject(model, data, methods: str, **options) -> Subject:  # noqa: ANN001
    import xai_cli as xai

    X, y = data
    params = {"treeshap.interventional": {"background_rows": 60}}
    explanation = xai.explain(model, X, y, methods=methods, max_rows=None, params=params)
    request = ExplainRequest(
        model_path="m",
        data_path="d",
        target="target",
        methods=tuple(methods.split(",")),
        max_rows=None,
        params=params,
    )
    opts = ValidateOptions(rows=100, **options)
    return Subject(request, explanation.prepared, explanation.result, opts)


def _outcome(subject: Subject, method: str):  # noqa: ANN202
    return next(o for o in subject.ok if o.method == method)


def test_exact_shapley_spot_check_fails_values_permuted_across_features(model, data, broken):
    subject = _subject(model, data, "treeshap,broken.permuted,treeshap.interventional")
    good, bad = _outcome(subject, "treeshap"), _outcome(subject, "broken.permuted")
    # additivity cannot see the permutation (the sums are unchanged) ...
    assert exactness.additivity(subject, good).status == "PASS"
    assert exactness.additivity(subject, bad).status == "PASS"
    # ... the brute-force exact Shapley values can
    passed = exactness.exact_shapley(subject, good)
    assert passed.status == "PASS" and passed.value < 1e-9, passed.reason
    failed = exactness.exact_shapley(subject, bad)
    assert failed.status == "FAIL" and failed.value > 1e-3, failed.reason
    # an audit rule naming only exactness checks runs only that family
    from xai_cli.validate.runner import scorecard

    card = scorecard(subject, families=frozenset({"exactness"}))
    assert {c.family for c in card.checks} == {"exactness"} and list(card.seconds) == ["exactness"]
    inter = exactness.exact_shapley(subject, _outcome(subject, "treeshap.interventional"))
    assert inter.status == "PASS", inter.reason
    # and the prediction gap: its top features move the output no more than random ones
    assert faithfulness.prediction_gap(subject, good).status == "PASS"
    assert faithfulness.prediction_gap(subject, bad).status != "PASS"


def test_parameter_randomisation_fails_a_backend_that_ignores_the_model(model, data, broken):
    subject = _subject(model, data, "treeshap,broken.blind,xgboost.gain")
    checks = {c.method: c for c in sanity.parameter_randomisation(subject)}
    assert checks["treeshap"].status == "PASS" and checks["treeshap"].value > 0.01
    assert checks["broken.blind"].status == "FAIL" and checks["broken.blind"].value == 0.0
    # gain reads the split statistics, not the leaf values: unchanged by construction (§6.2)
    assert checks["xgboost.gain"].status == "FAIL"
    blind = _outcome(subject, "broken.blind")
    assert exactness.additivity(subject, blind).status == "SKIP"  # claims no completeness


def test_routing_parity_fails_when_float32_routing_is_off(model, data, monkeypatch):
    from xai_cli.model import parsers

    subject = _subject(model, data, "xgboost.weight")
    ok = routing.routing_parity(subject)
    assert ok.status == "PASS" and ok.details["crafted"] > 0, ok.reason
    original = parsers._matrix
    monkeypatch.setattr(parsers, "_matrix", lambda a, X, c, f32: original(a, X, c, False))
    off = routing.routing_parity(subject)
    assert off.status == "FAIL" and off.value > 0, off.reason


def test_planted_id_and_leak_are_flagged_and_a_clean_model_is_not(data):
    import xgboost as xgb

    import xai_cli as xai
    from xai_cli.audit import rules
    from xai_cli.config.schema import LeaksRule

    X, y = data
    rng = np.random.default_rng(1)
    dirty = X.assign(customer_id=np.arange(len(X)) + 1000, leaked=y + rng.normal(0, 0.01, len(y)))
    for frame, expected in ((X, set()), (dirty, {("identifier", "customer_id"),
                                                  ("leak", "leaked")})):  # fmt: skip
        fitted = xgb.XGBClassifier(n_estimators=10, max_depth=3, n_jobs=1).fit(frame, y)
        report = xai.explain(fitted, frame, y, methods="treeshap").report
        found = {(f.kind, f.feature) for f in report.validation.findings}
        assert found == expected
        verdict = " ".join(report.validation.verdict)
        assert ("Fix the data" in verdict) == bool(expected)
        rule = rules.leaks(LeaksRule(type="leaks"), "leaks", report)
        assert rule.status == ("FAIL" if expected else "PASS")


def test_outlier_method_is_flagged_with_evidence():
    from xai_cli.results import Comparison, ImportanceRow
    from xai_cli.validate.leaks import outliers

    def rows(method: str, shares: list[float]) -> list[ImportanceRow]:
        order = np.argsort(-np.array(shares))
        rank = {int(i): r + 1 for r, i in enumerate(order)}
        return [ImportanceRow(method, "all", f"f{i}", s, s, rank[i]) for i, s in enumerate(shares)]

    table = rows("a", [0.5, 0.3, 0.2]) + rows("b", [0.5, 0.3, 0.2]) + rows("c", [0.05, 0.05, 0.9])
    comparison = Comparison(3, tuple(table), (), (), (), ())
    from xai_cli.validate.leaks import _pooled_rows

    found = outliers(_pooled_rows(comparison))
    assert [(f.evidence["method"], f.feature) for f in found] == [("c", "f2")]
    assert found[0].evidence["max_other_share"] == 0.2


def test_validate_api_report_verdict_rule_and_junit(model, data, broken, tmp_path):
    import xai_cli as xai
    from xai_cli.audit import junit, rules
    from xai_cli.config.schema import ValidationRule
    from xai_cli.report import Report

    X, y = data
    result = xai.validate(model, X, y, methods="treeshap,broken.permuted", max_rows=None,
                          options={"rows": 60, "resamples": 3, "perturbations": 2, "spot_rows": 1,
                 "floor_repeats": 5})  # fmt: skip
    report = result.report
    section = report.validation
    assert section.status == "FAIL"
    failed = {(c.method, c.check) for c in section.checks if c.status == "FAIL"}
    assert ("broken.permuted", "exact_shapley") in failed
    assert not [c for c in section.checks if c.method == "treeshap" and c.status == "FAIL"]
    text = " ".join(section.verdict)
    assert "Do not rely on broken.permuted" in text and "Trust treeshap" in text
    # the typed report round-trips, and every renderer shows the verdict first
    again = Report.from_json_data(json.loads(json.dumps(report.to_json_data())), "report")
    assert again.validation == section
    paths = {p.name: p for p in result.save(tmp_path)}
    md = paths["report.md"].read_text()
    assert md.index("### Verdict") < md.index("**Consensus**") and "### Scorecard: FAIL" in md
    assert 'id="scorecard"' in paths["report.html"].read_text()
    # the audit rule: only the named checks and methods count
    rule = ValidationRule(type="validation", methods=["treeshap"], checks=["exact_shapley"])
    assert rules.validation(rule, "v", report).status == "PASS"
    rule = ValidationRule(type="validation", checks=["exact_shapley"])
    assert rules.validation(rule, "v", report).status == "FAIL"
    xml = junit.render(junit.validation_suites(section, "m"))
    assert xml.count("<testcase") == len(section.checks) and "<failure" in xml


def test_suite_reproduces_the_closed_forms_exactly():
    from xai_cli.validate.suite import markdown_table, run_suite

    methods = ["treeshap", "treeshap.interventional", "xgboost.gain"]
    results = run_suite(methods=methods, tests=["T01", "T02", "T06", "T08"])
    by = {(r.test, r.case, r.method): r for r in results}
    for r in results:
        if r.method != "xgboost.gain" and r.status != "n/a":
            assert r.status == "PASS", r
    golden = [r for r in results if r.test == "T06" and r.method != "xgboost.gain"]
    assert len(golden) == 8 and all(r.value <= 1e-12 for r in golden)
    t02 = by[("T02", "consistency (10/90: cough matters more)", "treeshap")]
    assert "phi(1,1) = (35, 30)" in t02.detail
    gain = by[("T01", "symmetry (cough & fever, y = 80 [C and F])", "xgboost.gain")]
    assert gain.status == "FAIL" and gain.expected_fail
    assert "| xgboost.gain | FAIL (expected) |" in markdown_table(results)


def test_cli_validate_writes_the_scorecard_and_fails_on_a_failed_check(model, data, tmp_path, xai):
    X, y = data
    model.save_model(tmp_path / "m.json")
    X.assign(label=y).to_csv(tmp_path / "d.csv", index=False)
    run = xai("validate", str(tmp_path / "m.json"), str(tmp_path / "d.csv"), "--target", "label",
              "--methods", "treeshap,xgboost.gain", "--rows", "60", "--no-probes",
              "--resamples", "3", "--out", str(tmp_path / "out"), "--junit",
              str(tmp_path / "j.xml"))  # fmt: skip
    assert run.code == 1, run.stderr  # xgboost.gain fails T10 by construction
    assert "Scorecard" in run.stdout and "Verdict" in run.stdout
    doc = json.loads((tmp_path / "out" / "report.json").read_text())
    assert doc["validation"]["status"] == "FAIL" and doc["validation"]["checks"]
    assert "<testcase" in (tmp_path / "j.xml").read_text()
    bad = xai("validate", str(tmp_path / "m.json"))
    assert bad.code == 2 and "error[" in bad.stderr
