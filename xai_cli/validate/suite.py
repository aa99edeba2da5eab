"""The synthetic known-answer suite (``xai validate --suite``): T01-T06, T08, T09 and T15 of
evaluation_methods.md §9 against every registered method, and its Markdown table.

Each (test, method) pair is run once with the method's default parameters, except that a method
with a background sample gets the whole of the case's data as its background (the closed forms
are for that background; a smaller sample would add its own sampling error), and is judged
against the case's known answer: PASS, FAIL, or ``n/a`` with why (the method does not apply to
that model, or the property is about per-row values and the method has none). Native
split/gain/cover importances are *expected* to fail symmetry, consistency and implementation
invariance (§2.2, §9): such failures are marked as expected, a known limitation of those
measures, not a bug.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from xai_cli.methods import REGISTRY, ExplainContext, Explainer
from xai_cli.model.adapter import ModelAdapter, adapt
from xai_cli.results import ImportanceTable, LocalAttribution
from xai_cli.validate import kinds, suite_cases
from xai_cli.validate.context import pooled

EXACT = 1e-6
"""Relative tolerance of closed forms for exact methods (x output scale)."""
SAMPLED = 0.05
NATIVE = ("xgboost.", "lightgbm.", "catboost.", "sklearn.impurity")
EXPECTED_FAIL = {"T01", "T02", "T09"}
"""Tests native structure importances are documented to fail (§2.2, §9)."""


@dataclass(frozen=True)
class SuiteResult:
    """One (test, method) outcome."""

    test: str
    case: str
    method: str
    status: str  # PASS, FAIL, n/a, INFO
    detail: str
    value: float | None = None
    expected_fail: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"test": self.test, "case": self.case, "method": self.method,
                "status": self.status, "detail": self.detail, "value": self.value,
                "expected_fail": self.expected_fail}  # fmt: skip


Output = ImportanceTable | LocalAttribution


def _run(
    explainer: Explainer, adapter: ModelAdapter, X: pd.DataFrame, y: np.ndarray, seed: int,
    background: pd.DataFrame | None = None,
) -> Output:  # fmt: skip
    pool = X if background is None else background
    params = {"background_rows": len(pool)} if "background_rows" in explainer.params.model_fields \
        else {}  # fmt: skip
    ctx = ExplainContext(adapter=adapter, X=X, y=y, seed=seed, params=params, background=pool)
    return explainer.explain(ctx)


def _tol(method: str, scale: float) -> float:
    return (SAMPLED if kinds.sampled(method) else EXACT) * scale


def _names(out: Output) -> list[str]:
    return list(out.features)


def _local_at(out: LocalAttribution, X: pd.DataFrame, point: tuple[float, ...]) -> np.ndarray:
    hit = np.flatnonzero((X.to_numpy() == np.asarray(point, dtype=float)).all(axis=1))[0]
    return out.values[hit, :, 0]


def _judge_t01_t02(case: suite_cases.Case, method: str, out: Output) -> tuple[str, str, float]:
    names = _names(out)
    g = np.abs(pooled(out))
    c, f = g[names.index("cough")], g[names.index("fever")]
    scale = 80.0
    if case.test == "T01":
        gap = abs(c - f) / max(g.max(), 1e-300)
        ok = gap <= (0.05 if kinds.sampled(method) else 0.01)
        detail = f"|I_C - I_F| / max I = {gap:.3g}"
        value = gap
    else:
        ok = c > f
        detail = f"I_C {c:.4g} vs I_F {f:.4g}"
        value = float(c - f)
    if isinstance(out, LocalAttribution):
        phi = _local_at(out, case.X, (1.0, 1.0))
        pc, pf = phi[names.index("cough")], phi[names.index("fever")]
        if case.test == "T02":
            ok = ok and pc > pf
        if kinds.game(method):  # a Shapley method must hit the closed form
            want, mean_want = case.known["phi_11"], case.known["mean_abs"]
            err = max(abs(pc - want[0]), abs(pf - want[1]), abs(c - mean_want[0]),
                      abs(f - mean_want[1]))  # fmt: skip
            ok = ok and err <= _tol(method, scale)
            detail += f"; phi(1,1) = ({pc:.6g}, {pf:.6g}), closed form {want}, error {err:.2g}"
        else:
            detail += f"; phi(1,1) = ({pc:.4g}, {pf:.4g})"
    return ("PASS" if ok else "FAIL"), detail, value


def _judge_first(case: suite_cases.Case, out: Output) -> tuple[str, str, float]:
    names = _names(out)
    g = np.abs(pooled(out))
    first = names.index(case.known["first"])
    above = int((g > g[first]).sum())
    score = 1 - above / (len(g) - 1)
    return (
        ("PASS" if above == 0 else "FAIL"),
        f"score {score:.2f} ({above} feature(s) above {case.known['first']})",
        score,
    )


def _judge_dummy(
    case: suite_cases.Case, method: str, out: Output, scale: float
) -> tuple[str, str, float]:
    names = _names(out)
    g = np.abs(pooled(out))
    value = float(g[names.index(case.known.get("dummy") or case.known["twin"])])
    native = method.startswith(NATIVE)
    limit = 0.0 if native else (0.05 * g.max() if kinds.sampled(method) else EXACT * scale)
    return ("PASS" if value <= limit else "FAIL"), f"I = {value:.3g} (limit {limit:.3g})", value


def _judge_linear(case: suite_cases.Case, method: str, out: Output) -> tuple[str, str, float]:
    names = _names(out)
    model, X = case.model, case.X
    if not hasattr(model, "coef_"):  # the GBM fitted to the linear data: SA@3 on ranks
        g = np.abs(pooled(out))
        top3 = {names[i] for i in np.argsort(-g, kind="stable")[:3]}
        ok = top3 == case.known["top3"]
        return (
            ("PASS" if ok else "FAIL"),
            f"top-3 {sorted(top3)} (want {sorted(case.known['top3'])})",
            float(ok),
        )
    coef = np.asarray(model.coef_)
    if isinstance(out, LocalAttribution) and kinds.game(method):
        background = X.iloc[: case.known.get("background_rows", len(X))].to_numpy()
        want = coef * (X.to_numpy() - background.mean(axis=0))
        err = float(np.abs(out.values[:, :, 0] - want).max())
        scale = float(np.std(model.predict(X)))
        ok = err <= _tol(method, scale)
        return ("PASS" if ok else "FAIL"), f"max |phi - w(x - mean)| = {err:.3g}", err
    if method == "permutation":
        var_y = float(np.var(case.y))
        want = 2 * coef**2 * X.var(ddof=0).to_numpy() / var_y
        got = pooled(out)
        big = want > 0.01 * want.max()
        rel = float(np.max(np.abs(got[big] - want[big]) / want[big]))
        return (
            ("PASS" if rel <= 0.10 else "FAIL"),
            f"max relative error vs 2 w^2 var(x) / var(y): {rel:.3f}",
            rel,
        )
    g = np.abs(pooled(out))
    top3 = {names[i] for i in np.argsort(-g, kind="stable")[:3]}
    ok = top3 == case.known["top3"]
    return ("PASS" if ok else "FAIL"), f"top-3 {sorted(top3)}", float(ok)


def _judge_golden(case: suite_cases.Case, method: str, out: Output) -> tuple[str, str, float]:
    if not isinstance(out, LocalAttribution) or not kinds.game(method):
        return "n/a", "needs per-row Shapley values", float("nan")
    phi = _local_at(out, case.X, case.known["instance"])
    err = float(np.abs(phi - np.asarray(case.known["exact"])).max())
    ok = err <= (1e-6 if kinds.sampled(method) else 1e-9)
    return ("PASS" if ok else "FAIL"), f"max |phi - exact fraction| = {err:.2g}", err


Check = Callable[[suite_cases.Case, str, Output], tuple[str, str, float]]


def _each_method(methods: Iterable[str]) -> list[tuple[str, Explainer]]:
    return [(m, REGISTRY[m]) for m in methods]


def _apply(
    case: suite_cases.Case, methods: list[tuple[str, Explainer]], judge: Check, seed: int,
) -> list[SuiteResult]:  # fmt: skip
    adapter = adapt(case.model)
    out: list[SuiteResult] = []
    for name, explainer in methods:
        support = explainer.supports(adapter)
        if not support.ok:
            out.append(SuiteResult(case.test, case.title, name, "n/a", support.reason))
            continue
        rows = case.known.get("background_rows")
        background = None if rows is None else case.X.iloc[:rows]
        try:
            result = _run(explainer, adapter, case.X, case.y, seed, background)
            status, detail, value = judge(case, name, result)
        except Exception as exc:
            out.append(SuiteResult(case.test, case.title, name, "FAIL", f"error: {exc}"))
            continue
        expected = status == "FAIL" and case.test in EXPECTED_FAIL and name.startswith(NATIVE)
        out.append(SuiteResult(case.test, case.title, name, status, detail,
                               None if value != value else float(value), expected))  # fmt: skip
    return out


def _invariance(methods: list[tuple[str, Explainer]], seed: int) -> list[SuiteResult]:
    a, b = suite_cases.t09_pair()
    ad_a, ad_b = adapt(a.model), adapt(b.model)
    gap = float(np.abs(ad_a.predict_raw(a.X)[:, 0] - ad_b.predict_raw(b.X)[:, 0]).max())
    out = []
    for name, explainer in methods:
        if not explainer.supports(ad_a).ok:
            out.append(SuiteResult("T09", b.title, name, "n/a", explainer.supports(ad_a).reason))
            continue
        if gap > 1e-9:
            out.append(SuiteResult("T09", b.title, name, "n/a", f"models differ by {gap:.2g}"))
            continue
        try:
            ra, rb = _run(explainer, ad_a, a.X, a.y, seed), _run(explainer, ad_b, b.X, b.y, seed)
        except Exception as exc:
            out.append(SuiteResult("T09", b.title, name, "FAIL", f"error: {exc}"))
            continue
        ga = dict(zip(ra.features, np.abs(pooled(ra)), strict=True))
        gb = dict(zip(rb.features, np.abs(pooled(rb)), strict=True))
        diff = max(abs(ga[f] - gb[f]) for f in ga) / max(max(ga.values()), 1e-300)
        ok = diff <= (0.05 if kinds.sampled(name) else 1e-8)
        expected = not ok and name.startswith(NATIVE)
        out.append(SuiteResult("T09", b.title, name, "PASS" if ok else "FAIL",
                               f"max relative gap between the two orders {diff:.2g}", diff,
                               expected))  # fmt: skip
    return out


def _sensitivity(methods: list[tuple[str, Explainer]], seed: int) -> list[SuiteResult]:
    """T08(b) on T02's model: baseline x' = (0,0), rows differing from it in one feature."""
    case = suite_cases.t02()
    adapter = adapt(case.model)
    base = pd.DataFrame([[0.0, 0.0]], columns=case.X.columns)
    rows = pd.DataFrame([[1.0, 0.0], [0.0, 1.0]], columns=case.X.columns)
    delta = adapter.predict_raw(rows)[:, 0] - adapter.predict_raw(base)[0, 0]
    out = []
    for name, explainer in methods:
        if kinds.game(name) != "interventional":
            out.append(SuiteResult("T08", "sensitivity(a), single-point baseline", name, "n/a",
                                   "needs a baseline (background) value function"))  # fmt: skip
            continue
        if not explainer.supports(adapter).ok:
            out.append(
                SuiteResult("T08", "sensitivity", name, "n/a", explainer.supports(adapter).reason)
            )
            continue
        try:
            got = _run(explainer, adapter, rows, case.y[:2], seed, background=base)
        except Exception as exc:
            out.append(SuiteResult("T08", "sensitivity", name, "FAIL", f"error: {exc}"))
            continue
        assert isinstance(got, LocalAttribution)
        phi = np.array([got.values[0, 0, 0], got.values[1, 1, 0]])
        err = float(np.abs(phi - delta).max())
        sensitive = all(abs(p) > 0.01 * abs(d) for p, d in zip(phi, delta, strict=True)
                        if abs(d) > 1e-3 * 80)  # fmt: skip
        ok = sensitive and err <= _tol(name, 80.0)
        out.append(SuiteResult("T08", "sensitivity(a), single-point baseline", name,
                               "PASS" if ok else "FAIL",
                               f"phi_j(x^(j)) = {phi.round(6).tolist()} vs f(x^(j)) - f(x') = "
                               f"{delta.round(6).tolist()}", err))  # fmt: skip
    return out


def run_suite(
    methods: Iterable[str] | None = None, tests: Iterable[str] | None = None, seed: int = 0,
    progress: Callable[[str], None] = lambda _: None,
) -> list[SuiteResult]:  # fmt: skip
    """Every test (or ``tests``) against every registered method (or ``methods``)."""
    chosen = _each_method(methods or REGISTRY)
    wanted = set(tests or ("T01", "T02", "T03", "T04", "T05", "T06", "T08", "T09", "T15"))
    out: list[SuiteResult] = []

    def step(test: str, work: Callable[[], list[SuiteResult]]) -> None:
        if test in wanted:
            progress(f"suite: {test}")
            out.extend(work())

    step("T01", lambda: _apply(suite_cases.t01(), chosen, _judge_t01_t02, seed))
    step("T02", lambda: _apply(suite_cases.t02(), chosen, _judge_t01_t02, seed))
    step("T03", lambda: _apply(suite_cases.t03(), chosen, lambda c, m, o: _judge_first(c, o), seed))
    step(
        "T04",
        lambda: _apply(
            suite_cases.t04(),
            chosen,
            lambda c, m, o: _judge_dummy(c, m, o, float(np.std(c.y))),
            seed,
        ),
    )
    step(
        "T05",
        lambda: (
            _apply(suite_cases.t05(), chosen, _judge_linear, seed)
            + _apply(suite_cases.t05_gbm(), chosen, _judge_linear, seed)
        ),
    )
    step(
        "T06",
        lambda: [
            r
            for h in suite_cases.H_CASES
            for r in _apply(suite_cases.t06(h), chosen, _judge_golden, seed)
        ],
    )
    step("T08", lambda: _sensitivity(chosen, seed))
    step("T09", lambda: _invariance(chosen, seed))
    a, b = suite_cases.t15() if "T15" in wanted else (None, None)
    step(
        "T15",
        lambda: (
            _apply(a, chosen, lambda c, m, o: _judge_dummy(c, m, o, float(np.std(c.y))), seed)
            + _twin_report(b, chosen, seed)
        ),
    )
    return out


def _twin_report(
    case: suite_cases.Case, methods: list[tuple[str, Explainer]], seed: int
) -> list[SuiteResult]:
    """T15(B): how each method splits credit between exact twins (reported, not judged)."""
    adapter = adapt(case.model)
    out = []
    for name, explainer in methods:
        if not explainer.supports(adapter).ok:
            continue
        try:
            got = _run(explainer, adapter, case.X, case.y, seed)
        except Exception as exc:
            out.append(SuiteResult("T15", case.title, name, "INFO", f"error: {exc}"))
            continue
        g = np.abs(pooled(got))
        names = _names(got)
        ib, ic = g[names.index("b")], g[names.index("c")]
        split = ic / (ib + ic) if ib + ic > 0 else 0.0
        out.append(SuiteResult("T15", case.title, name, "INFO",
                               f"I_b {ib:.3g}, I_c {ic:.3g}: the copy takes {100 * split:.0f}%",
                               float(split)))  # fmt: skip
    return out


def markdown_table(results: list[SuiteResult]) -> str:
    """The published scorecard: methods x tests, then every result's number."""
    tests = list(dict.fromkeys(r.test for r in results))
    methods = list(dict.fromkeys(r.method for r in results))
    cell: dict[tuple[str, str], list[SuiteResult]] = {}
    for r in results:
        if r.status != "INFO":
            cell.setdefault((r.method, r.test), []).append(r)

    def mark(rs: list[SuiteResult]) -> str:
        if not rs:
            return ""
        statuses = {r.status for r in rs}
        if "FAIL" in statuses:
            return (
                "FAIL (expected)"
                if all(r.expected_fail for r in rs if r.status == "FAIL")
                else "FAIL"
            )
        if "PASS" in statuses:
            return "PASS"
        return "n/a"

    lines = [
        "# Known-answer suite: every registered method",
        "",
        "Generated by `make validate-suite` (`xai validate --suite`); do not edit by hand. "
        "Tests from `evaluation_methods.md` §9, each run once with default parameters. "
        '"FAIL (expected)": native split/gain/cover importances failing symmetry, consistency '
        "or implementation invariance, a documented limitation of those measures.",
        "",
        "| method | " + " | ".join(tests) + " |",
        "|---|" + "---|" * len(tests),
    ]
    for m in methods:
        lines.append(f"| {m} | " + " | ".join(mark(cell.get((m, t), [])) for t in tests) + " |")
    lines += ["", "## Details", "", "| test | case | method | status | measured |",
              "|---|---|---|---|---|"]  # fmt: skip
    for r in results:
        if r.status == "n/a":
            continue  # the matrix says n/a; `xai methods MODEL` gives each method's reason
        status = r.status + (" (expected)" if r.expected_fail else "")
        detail = r.detail.replace("|", "\\|")
        lines.append(f"| {r.test} | {r.case} | {r.method} | {status} | {detail} |")
    return "\n".join(lines) + "\n"
