"""The report section "How far to trust each approximation".

A small MLP run with KernelSHAP, LIME, Integrated Gradients and exact Shapley must carry, as typed
checks in ``report.json``, the very numbers each method computed (standard errors, top-k
stability, completeness error, baseline spread, players); the HTML and Markdown must show them,
with every user string escaped; a report without these methods has no ``trust`` key.
"""

from __future__ import annotations

import json
import warnings

import jsonschema
import numpy as np
import pandas as pd
import pytest

import xai_cli as xai
from xai_cli.report import Report, report_json_schema
from xai_cli.report_trust import TrustCheck, TrustSection
from xai_cli.reports.escape import md_text
from xai_cli.reports.html import render as render_html
from xai_cli.reports.markdown import render as render_md

EVIL = "<img src=x onerror=alert(1)>|x"


@pytest.fixture(scope="module")
def run():
    """A 5-feature MLP classifier explained by the four methods (one feature named to inject)."""
    from sklearn.neural_network import MLPClassifier

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(150, 5)), columns=["a", "b", "c", "d", EVIL])
    y = (X.a + X.b * X.c - 0.5 * X[EVIL] > 0).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = MLPClassifier(hidden_layer_sizes=(8,), max_iter=150, random_state=0).fit(X, y)
    params = {"kernelshap": {"background_rows": 20, "max_coalitions": 20},
              "lime": {"background_rows": 20, "n_samples": 300},
              "integrated_gradients": {"background_rows": 20},
              "shapley.exact": {"background_rows": 20}}  # fmt: skip
    exp = xai.explain(model, X, y, methods=list(params), max_rows=40, params=params, n_jobs=1)
    return exp, exp.report


def _checks(report: Report, method: str) -> dict:
    assert report.trust is not None
    return {c.check: c for c in report.trust.checks if c.method == method}


def test_the_section_carries_each_methods_own_numbers(run) -> None:
    exp, report = run
    outcomes = {o.method: o for o in exp.result.outcomes}
    methods = ("kernelshap", "lime", "integrated_gradients", "shapley.exact")
    assert all(outcomes[m].status == "ok" for m in methods), [o.reason for o in outcomes.values()]
    kernel = outcomes["kernelshap"].local
    assert not kernel.params.get("exact")  # 20 coalitions < 2**5 - 2: sampled
    ks = _checks(report, "kernelshap")
    assert ks["standard error (largest)"].value == pytest.approx(np.nanmax(kernel.spread), rel=1e-5)
    assert ks["standard error (mean)"].value == pytest.approx(np.nanmean(kernel.spread), rel=1e-5)
    assert ks["standard error (mean)"].value > 0
    lime = outcomes["lime"].local.params
    (stab,) = _checks(report, "lime").values()
    assert stab.check == f"top-{lime['stability_top_k']} agreement across 5 seeds"
    assert stab.value == pytest.approx(lime["stability_topk_jaccard"], rel=1e-5)
    assert 0 < stab.value <= 1
    ig = outcomes["integrated_gradients"].local
    igc = _checks(report, "integrated_gradients")
    complete = igc["completeness error (mean baseline)"]
    assert complete.value == pytest.approx(ig.params["completeness_error"], rel=1e-5, abs=1e-12)
    assert complete.reference == pytest.approx(ig.params["output_range"], rel=1e-5)
    assert complete.value <= 1e-3 * complete.reference
    spread = igc["spread over 3 baselines (mean std)"]
    assert spread.value == pytest.approx(np.nanmean(ig.spread), rel=1e-5) and spread.value > 0
    (players,) = _checks(report, "shapley.exact").values()
    assert (players.value, players.reference) == (5, 20)
    data = report.to_json_data()
    assert data["trust"]["checks"][0]["method"] == "kernelshap"
    assert Report.model_validate_json(json.dumps(data)) == report  # it reads back
    jsonschema.validate(data, report_json_schema())  # and fits the published schema


def test_html_and_markdown_show_it_escaped(run) -> None:
    _, report = run
    html = render_html(report)
    assert "How far to trust each approximation" in html and 'id="trust-table"' in html
    table = html[html.index('id="trust-table"'):]
    table = table[: table.index("</table>")]
    stab = _checks(report, "lime")
    assert f"{next(iter(stab.values())).value:.4g}" in table
    md = render_md(report)
    assert "### How far to trust each approximation" in md
    ks = _checks(report, "kernelshap")["standard error (largest)"]
    assert f"| kernelshap | {md_text(ks.check)} | {ks.value:.4g} |" in md
    # a check whose strings carry markup is shown as text in both
    evil = TrustCheck(method=EVIL, check=EVIL, value=None, meaning=EVIL)
    hostile = report.model_copy(update={"trust": TrustSection(checks=(evil,))})
    html = render_html(hostile)
    table = html[html.index('id="trust-table"'):]
    table = table[: table.index("</table>")]
    assert "<img" not in table and table.count("&lt;img src=x onerror=alert(1)&gt;|x") == 3
    md = render_md(hostile)
    row = next(line for line in md.splitlines() if line.startswith("| &lt;img"))
    assert "<img" not in row and row.count("|") - row.count("\\|") == 5  # 4 columns, pipes escaped


def test_no_section_without_an_approximation(run) -> None:
    exp, report = run
    bare = report.model_copy(update={"trust": None})
    assert "trust" not in bare.model_dump(mode="json", by_alias=True)
    assert "How far to trust" not in render_html(bare) and "How far to trust" not in render_md(bare)
