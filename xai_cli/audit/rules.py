"""One pure function per rule type: a typed report (plus probe results) in, a RuleResult out.

Every function reads the typed report (:class:`xai_cli.report.Report`) of one job, so a rule
gives the same verdict on a saved report as on a fresh run. Rules that need the model and rows
(noise floor, stability) take the results of :mod:`xai_cli.audit.probes`; drift takes the
baseline report.

A method that does not apply to the model (skipped by ``auto``) makes its part of a rule ``SKIP``;
a method that failed, or was skipped for want of labels, makes it ``ERROR``, because the rule then
cannot say whether the model is fine.
"""

from __future__ import annotations

import fnmatch
import itertools
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from xai_cli.audit.diff import compare_reports, ranking, top, violations
from xai_cli.audit.outcome import RuleResult, Status, verdict
from xai_cli.audit.probes import NoiseFloor, Stability
from xai_cli.config.schema import (
    CONSENSUS,
    AdditivityRule,
    AgreementRule,
    DriftRule,
    ForbiddenFeaturesRule,
    LeaksRule,
    NoiseFloorRule,
    RequiredFeaturesRule,
    RuleBase,
    StabilityRule,
    ValidationRule,
)

if TYPE_CHECKING:
    from xai_cli.report import Report


def _result(rule: RuleBase, name: str, status: Status, message: str, **details: Any) -> RuleResult:
    return RuleResult(name, rule.type, rule.severity, status, message, details)  # type: ignore[attr-defined]


def method_state(report: Report, method: str) -> tuple[Status, str] | None:
    """``None`` when ``method`` produced a table; else (``SKIP`` or ``ERROR``, why)."""
    entry = report.method(method)
    if entry is None:
        return "ERROR", f"method '{method}' was not run in this job"
    if entry.status == "ok":
        return None
    reason = entry.reason or "no reason given"
    if entry.status == "skipped" and not reason.startswith("needs labels"):
        return "SKIP", f"{method} does not apply: {reason}"
    return "ERROR", f"{method} {entry.status}: {reason}"


def _split(report: Report, targets: Sequence[str]) -> tuple[list[str], list[str], list[str]]:
    """Targets that can be evaluated, and the why of those to skip and those in error."""
    usable, skipped, errors = [], [], []
    for target in targets:
        if target == CONSENSUS:
            if not report.ok_methods():
                errors.append("no method produced a result, so there is no consensus")
                continue
            usable.append(target)
            continue
        state = method_state(report, target)
        if state is None:
            usable.append(target)
        else:
            (skipped if state[0] == "SKIP" else errors).append(state[1])
    return usable, skipped, errors


def _two(value: float | None) -> str:
    return "undefined" if value is None else f"{value:.2f}"


def top_of(report: Report, target: str, k: int) -> list[str]:
    """The top-k features of a method, or of the consensus (in the top-k of every method)."""
    if target != CONSENSUS:
        return top(ranking(report, target), report.features, k)
    if k == report.top_k:
        return list(report.consensus)
    tops = [top_of(report, m.method, k) for m in report.ok_methods()]
    return [f for f in tops[0] if all(f in t for t in tops[1:])]


def _not_evaluable(rule: RuleBase, name: str, skipped: list[str], errors: list[str]) -> RuleResult:
    if errors:
        return _result(rule, name, "ERROR", "; ".join(errors), skipped=skipped)
    return _result(rule, name, "SKIP", "; ".join(skipped) or "nothing to check", skipped=skipped)


def agreement(rule: AgreementRule, name: str, report: Report) -> RuleResult:
    """Every pair of the named methods agrees at least as much as the thresholds ask."""
    usable, skipped, errors = _split(report, rule.methods)
    if errors or len(usable) < 2:
        why = [*skipped, f"fewer than two of {', '.join(rule.methods)} ran"]
        return _not_evaluable(rule, name, why, errors)
    rows = {(a.method_a, a.method_b): a for a in report.agreement if a.output == "all"}
    limits = {
        "spearman": rule.min_spearman,
        "kendall": rule.min_kendall,
        "topk_jaccard": rule.min_topk_jaccard,
    }
    pairs, broken, undefined = [], [], []
    for a, b in itertools.combinations(usable, 2):
        row = rows.get((a, b)) or rows.get((b, a))
        pair: dict[str, Any] = {"methods": [a, b]}
        for key, limit in limits.items():
            if limit is None:
                continue
            value = None if row is None else getattr(row, key)
            pair[key] = value
            if value is None:
                undefined.append(f"{a} vs {b}: {key} undefined (a constant ranking)")
            elif value < limit:
                broken.append(f"{a} vs {b}: {key} {value:.3f} < {limit:g}")
        pairs.append(pair)
    thresholds = {k: v for k, v in limits.items() if v is not None}
    details = {"pairs": pairs, "thresholds": thresholds, "skipped": skipped, "top_k": report.top_k}
    if undefined:
        return _result(rule, name, "ERROR", "; ".join(undefined), **details)
    if broken:
        return _result(rule, name, verdict(False, rule.severity), "; ".join(broken), **details)
    return _result(rule, name, "PASS", f"{len(pairs)} pair(s) agree enough", **details)


def additivity(rule: AdditivityRule, name: str, report: Report) -> RuleResult:
    """SHAP values + base value reproduce the raw output within ``max_error`` on every row."""
    checks = report.additivity
    if not checks:
        return _result(rule, name, "SKIP", "no method produced per-row SHAP values")
    rows = [
        {
            "method": c.method,
            "max_abs_error": c.max_abs_error,
            "rows": c.rows,
            "ok": c.max_abs_error is not None and c.max_abs_error <= rule.max_error,
        }
        for c in checks
    ]
    bad = [r for r in rows if not r["ok"]]
    summary = ", ".join(
        f"{r['method']} max error "
        + ("non-finite" if r["max_abs_error"] is None else f"{r['max_abs_error']:.2e}")
        for r in rows
    )
    status = verdict(not bad, rule.severity)
    message = f"{summary} (limit {rule.max_error:g})"
    return _result(rule, name, status, message, checks=rows, max_error=rule.max_error)


def required_features(rule: RequiredFeaturesRule, name: str, report: Report) -> RuleResult:
    """Each feature is in the top-k of every named method (or of the consensus)."""
    k = rule.top_k or report.top_k
    usable, skipped, errors = _split(report, rule.in_top_k_of)
    if errors or not usable:
        return _not_evaluable(rule, name, skipped, errors)
    checks, missing = [], []
    for target in usable:
        tops = top_of(report, target, k)
        ranks = (
            {f: r for f, (r, _) in ranking(report, target).items()} if target != CONSENSUS else {}
        )
        for feature in rule.features:
            ok = feature in tops
            checks.append({"feature": feature, "of": target, "rank": ranks.get(feature), "ok": ok})
            if not ok:
                where = (
                    "not a feature of the model"
                    if feature not in report.features
                    else (f"rank {ranks[feature]}" if feature in ranks else "not in it")
                )
                missing.append(f"{feature} not in the top {k} of {target} ({where})")
    details = {"checks": checks, "top_k": k, "skipped": skipped}
    if missing:
        return _result(rule, name, verdict(False, rule.severity), "; ".join(missing), **details)
    n = len(rule.features)
    what = ", ".join(usable)
    return _result(rule, name, "PASS", f"all {n} in the top {k} of {what}", **details)


def match(patterns: Sequence[str], features: Sequence[str]) -> tuple[list[str], list[str]]:
    """Features matching any shell-style pattern, and the patterns that match none."""
    hits = [f for f in features if any(fnmatch.fnmatchcase(f, p) for p in patterns)]
    unused = [p for p in patterns if not any(fnmatch.fnmatchcase(f, p) for f in features)]
    return hits, unused


def forbidden_features(rule: ForbiddenFeaturesRule, name: str, report: Report) -> RuleResult:
    """Forbidden features stay out of the named top-k lists and under the share limit."""
    k = rule.top_k or report.top_k
    hits, unused = match(rule.features, report.features)
    note = {"matched": hits, "patterns_matching_nothing": unused, "top_k": k}
    if not hits:
        return _result(
            rule, name, "PASS", "no model feature matches " + ", ".join(rule.features), **note
        )
    targets = list(rule.not_in_top_k_of or [])
    shares_of = list(rule.share_of) if rule.max_share is not None else []
    usable, skipped, errors = _split(report, list(dict.fromkeys(targets + shares_of)))
    if errors or not usable:
        return _not_evaluable(rule, name, skipped, errors)
    found, checks = [], []
    for target in [t for t in targets if t in usable]:
        tops = top_of(report, target, k)
        for feature in hits:
            checks.append(
                {"feature": feature, "of": target, "check": f"top {k}", "ok": feature not in tops}
            )
            if feature in tops:
                found.append(f"{feature} in the top {k} of {target}")
    for method in [m for m in shares_of if m in usable]:
        share = {r.feature: abs(r.share or 0.0) for r in report.pooled(method)}
        for feature in hits:
            ok = share[feature] <= rule.max_share  # type: ignore[operator]
            checks.append(
                {
                    "feature": feature,
                    "of": method,
                    "check": "share",
                    "share": round(share[feature], 6),
                    "ok": ok,
                }
            )
            if not ok:
                found.append(
                    f"{feature} has {100 * share[feature]:.1f}% of {method} "
                    f"(limit {100 * rule.max_share:g}%)"
                )  # type: ignore[operator]
    details = {**note, "checks": checks, "max_share": rule.max_share, "skipped": skipped}
    if found:
        return _result(rule, name, verdict(False, rule.severity), "; ".join(found), **details)
    return _result(rule, name, "PASS", f"{', '.join(hits)} within limits", **details)


def noise_floor(
    rule: NoiseFloorRule, name: str, report: Report, floor: NoiseFloor | None, error: str | None
) -> RuleResult:
    """No feature in the checked top-k lists is indistinguishable from a random probe."""
    k = rule.top_k or report.top_k
    ran = [m.method for m in report.ok_methods()]
    usable, skipped, errors = _split(report, rule.methods or ran)
    if error or floor is None:
        return _result(rule, name, "ERROR", error or "the noise floor was not computed")
    if errors or not usable:
        return _not_evaluable(rule, name, skipped, errors)
    checked: dict[str, list[str]] = {}
    for target in usable:
        for feature in top_of(report, target, k):
            checked.setdefault(feature, []).append(target)
    features = [
        {
            "feature": f.feature,
            "importance": round(f.mean, 6),
            "lower": round(f.lower, 6),
            "upper": round(f.upper, 6),
            "margin": round(f.margin, 6),
            "share_positive": round(f.share_positive, 4),
            "above_probe": f.above,
            "in_top_k_of": checked.get(f.feature, []),
        }
        for f in sorted(floor.features, key=lambda f: -f.margin)
    ]
    noisy = [f for f in features if f["in_top_k_of"] and not f["above_probe"]]
    details = {
        "method": "held-out permutation importance against a random probe (importance 0), "
        "bootstrap-and-permute percentile interval",
        "metric": floor.metric,
        "base_score": round(floor.base_score, 6),
        "repeats": floor.repeats,
        "confidence": floor.confidence,
        "rows": floor.rows,
        "probe_importance": 0.0,
        "top_k": k,
        "checked": usable,
        "skipped": skipped,
        "features": features,
    }
    if noisy:
        message = "; ".join(
            f"{f['feature']} (top {k} of {', '.join(f['in_top_k_of'])}) is no better than a "
            f"random probe: margin {f['margin']:.4f}"
            for f in noisy
        )
        return _result(rule, name, verdict(False, rule.severity), message, **details)
    low = min((f for f in features if f["in_top_k_of"]), key=lambda f: f["margin"])
    message = (
        f"all {len(checked)} top-{k} features beat the probe; smallest margin "
        f"{low['margin']:.4f} ({low['feature']}, {floor.metric})"
    )
    return _result(rule, name, "PASS", message, **details)


def stability(
    rule: StabilityRule,
    name: str,
    report: Report,
    results: Mapping[str, Stability | str],
) -> RuleResult:
    """Each method's ranking on bootstrap resamples correlates with its full-rows ranking."""
    ran = [m.method for m in report.ok_methods()]
    usable, skipped, errors = _split(report, rule.methods or ran)
    errors += [f"{m}: {r}" for m, r in results.items() if isinstance(r, str)]
    if errors or not usable:
        return _not_evaluable(rule, name, skipped, errors)
    methods, low = [], []
    for method in usable:
        s = results[method]
        assert not isinstance(s, str)
        p05 = s.quantile(0.05)
        undefined = len(s.spearman) - len(s.defined())
        ok = p05 is not None and p05 >= rule.min_spearman and undefined == 0
        methods.append(
            {
                "method": method,
                "resamples": s.resamples,
                "rows": s.rows,
                "spearman_p05": None if p05 is None else round(p05, 6),
                "spearman_median": None if p05 is None else round(s.quantile(0.5) or 0.0, 6),
                "spearman_min": None if p05 is None else round(min(s.defined()), 6),
                "undefined": undefined,
                "identical_on_every_resample": s.identical,
                "ok": ok,
                "ranks": [
                    {"feature": f.feature, "rank": f.rank, "low": f.low, "high": f.high}
                    for f in sorted(s.features, key=lambda f: (f.rank, f.feature))
                ],
            }
        )
        if not ok:
            what = "undefined" if p05 is None else f"{p05:.3f}"
            low.append(
                f"{method}: 5th percentile Spearman {what} < {rule.min_spearman:g}"
                + (f" ({undefined} resample(s) undefined)" if undefined else "")
            )
    details = {
        "methods": methods,
        "min_spearman": rule.min_spearman,
        "skipped": skipped,
        "rank_interval": 0.95,
    }
    if low:
        return _result(rule, name, verdict(False, rule.severity), "; ".join(low), **details)
    summary = ", ".join(f"{m['method']} {m['spearman_p05']:.2f}" for m in methods)
    return _result(rule, name, "PASS", f"5th percentile Spearman: {summary}", **details)


def drift(
    rule: DriftRule, name: str, report: Report, baseline: Report | None, why_not: str | None
) -> RuleResult:
    """The ranking stays close to the baseline report's (needs ``--baseline``)."""
    if baseline is None:
        return _result(rule, name, "SKIP", why_not or "no --baseline report given")
    diff = compare_reports(baseline, report, top_k=rule.top_k, methods=rule.methods)
    compared = [m for m in diff["methods"] if m["status"] == "compared"]
    missing = [m["reason"] for m in diff["methods"] if m["status"] == "missing"]
    details = {
        "top_k": diff["top_k"],
        "min_spearman": rule.min_spearman,
        "min_topk_jaccard": rule.min_topk_jaccard,
        "methods": diff["methods"],
    }
    if missing and rule.methods:
        return _result(rule, name, "ERROR", "; ".join(missing), **details)
    if not compared:
        return _result(rule, name, "ERROR", "no method ran in both reports", **details)
    broken, undefined = [], []
    for entry in compared:
        b, u = violations(entry, rule.min_spearman, rule.min_topk_jaccard)
        moves = ""
        if b and (entry["entering"] or entry["leaving"]):
            moves = (
                f" (entering: {', '.join(entry['entering']) or 'none'}; leaving: "
                f"{', '.join(entry['leaving']) or 'none'})"
            )
        broken += [f"{entry['method']}: {x}{moves}" for x in b]
        undefined += [f"{entry['method']}: {x}" for x in u]
    if undefined:
        return _result(rule, name, "ERROR", "; ".join(undefined), **details)
    if broken:
        return _result(rule, name, verdict(False, rule.severity), "; ".join(broken), **details)
    summary = ", ".join(
        f"{e['method']} Spearman {_two(e['spearman'])} / top-{diff['top_k']} Jaccard "
        f"{e['topk_jaccard']:.2f}"
        for e in compared
    )
    return _result(rule, name, "PASS", f"close to the baseline: {summary}", **details)


def validation(rule: ValidationRule, name: str, report: Report) -> RuleResult:
    """The named scorecard checks pass for the named methods (a SKIP neither passes nor
    fails; a WARN fails only with ``allow_warn: false``). Model checks count for every method."""
    section = report.validation
    if section is None or not section.checks:
        return _result(rule, name, "ERROR", "the job was not validated (no scorecard)")
    ran = [m.method for m in report.ok_methods()]
    usable, skipped, errors = _split(report, rule.methods or ran)
    if errors or not usable:
        return _not_evaluable(rule, name, skipped, errors)
    wanted = set(rule.checks) if rule.checks else None
    chosen = [
        c for c in section.checks
        if (c.method in usable or c.method == "(model)") and (wanted is None or c.check in wanted)
    ]  # fmt: skip
    bad_states = {"FAIL"} if rule.allow_warn else {"FAIL", "WARN"}
    bad = [c for c in chosen if c.status in bad_states]
    checks = [{"method": c.method, "check": c.check, "status": c.status, "reason": c.reason,
               "value": c.value, "threshold": c.threshold, "test": c.test} for c in chosen]
    details = {"checks": checks, "skipped": skipped, "scorecard": section.status}
    if not [c for c in chosen if c.status != "SKIP"]:
        return _result(rule, name, "SKIP", "no applicable check among those named", **details)
    if bad:
        message = "; ".join(f"{c.method} {c.check} {c.status}: {c.reason}" for c in bad[:5])
        more = f" (+{len(bad) - 5} more)" if len(bad) > 5 else ""
        return _result(rule, name, verdict(False, rule.severity), message + more, **details)
    n = len([c for c in chosen if c.status != "SKIP"])
    return _result(rule, name, "PASS", f"{n} check(s) pass for {', '.join(usable)}", **details)


def leaks(rule: LeaksRule, name: str, report: Report) -> RuleResult:
    """No finding of the named kinds in the report's leak and identifier screen."""
    section = report.validation
    if section is None:
        return _result(rule, name, "ERROR", "the report has no leak screen (written before it)")
    found = [f for f in section.findings if f.kind in rule.kinds]
    details = {"kinds": list(rule.kinds),
               "findings": [{"kind": f.kind, "feature": f.feature, "message": f.message,
                             "evidence": f.evidence} for f in found]}  # fmt: skip
    if found:
        message = "; ".join(f.message for f in found)
        return _result(rule, name, verdict(False, rule.severity), message, **details)
    return _result(rule, name, "PASS", f"no {' / '.join(rule.kinds)} found", **details)
