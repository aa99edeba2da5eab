"""The verdict: deterministic sentences, built only from numbers the report carries.

Input: a run's comparison (agreement, additivity, pooled ranks), its leak/identifier findings,
and, after ``xai validate``, the scorecard. Output: a few sentences, in a fixed order: warnings to
fix first; which methods to trust and why; which disagree and the measured reason; what to do.
Every number quoted is one the report shows elsewhere (agreement, additivity, checks).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from xai_cli.results import POOLED, Comparison
from xai_cli.validate import kinds
from xai_cli.validate.checks import MODEL, Check
from xai_cli.validate.leaks import Finding, _ordinal

AGREE = 0.7
"""Mean Spearman with the other methods at or above which a method is said to agree."""
DISAGREE = 0.4
"""Mean Spearman below which a method is said to disagree."""


def _join(names: Sequence[str]) -> str:
    names = list(names)
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def _mean_agreement(comparison: Comparison, methods: list[str]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    pooled = [a for a in comparison.agreement if a.output == POOLED]
    for m in methods:
        rhos = [
            a.spearman
            for a in pooled
            if m in (a.method_a, a.method_b) and a.spearman is not None
            and {a.method_a, a.method_b} <= set(methods)
        ]  # fmt: skip
        out[m] = statistics.fmean(rhos) if rhos else None
    return out


def _ranks(comparison: Comparison) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for r in comparison.rows:
        if r.output == POOLED:
            out.setdefault(r.method, {})[r.feature] = r.rank
    return out


def _findings(findings: Sequence[Finding]) -> list[str]:
    if not findings:
        return []
    by_kind: dict[str, list[str]] = {}
    for f in findings:
        by_kind.setdefault(f.kind, []).append(f.feature)
    parts = []
    if "leak" in by_kind:
        verb = "predicts" if len(by_kind["leak"]) == 1 else "each predict"
        parts.append(f"{_join(by_kind['leak'])} alone {verb} the target almost perfectly")
    if "identifier" in by_kind:
        verb = (
            "looks like a row identifier"
            if len(by_kind["identifier"]) == 1
            else ("look like row identifiers")
        )
        parts.append(f"{_join(by_kind['identifier'])} {verb}")
    out = []
    if parts:
        out.append(
            "Fix the data before trusting any ranking: " + "; ".join(parts) + " (see the "
            "warnings for the evidence). Drop such columns and retrain."
        )
    if "importance_outlier" in by_kind:
        pairs = sorted({(f.evidence.get("method", ""), f.feature) for f in findings
                        if f.kind == "importance_outlier"})  # fmt: skip
        out.append(
            "One method alone puts weight on "
            + _join([f"{feat} ({m})" for m, feat in pairs])
            + ": treat it as a property of that method until a check says otherwise."
        )
    return out


def _disagreement(
    method: str, reference: str, ranks: dict[str, dict[str, int]], rho: float,
    probes: dict[str, dict[str, int]],
) -> str:  # fmt: skip
    """'m disagrees (mean Spearman x): it ranks F 1st where ref ranks it 18th; why; probe'."""
    mine, theirs = ranks.get(method, {}), ranks.get(reference, {})
    common = [f for f in mine if f in theirs]
    sentence = f"{method} disagrees with the other methods (mean Spearman {rho:.2f})"
    if common:
        feature = max(common, key=lambda f: (theirs[f] - mine[f], -mine[f]))
        if theirs[feature] > mine[feature]:
            sentence += (
                f": it ranks {feature} {_ordinal(mine[feature])} where {reference} ranks it "
                f"{_ordinal(theirs[feature])}"
            )
    if method in kinds.WHY:
        sentence += f"; {kinds.WHY[method]}"
    p, q = probes.get(method, {}), probes.get(reference, {})
    if "probe_noise_highcard" in p and "probe_noise_highcard" in q:
        sentence += (
            f"; a planted continuous noise column ranked {_ordinal(p['probe_noise_highcard'])} "
            f"under {method} and {_ordinal(q['probe_noise_highcard'])} under {reference}"
        )
    return sentence + "."


def _failed(checks: Sequence[Check], method: str) -> list[Check]:
    return [c for c in checks if c.method == method and c.status == "FAIL"]


def build(
    comparison: Comparison,
    methods: Sequence[str],
    findings: Sequence[Finding] = (),
    checks: Sequence[Check] | None = None,
) -> tuple[str, ...]:
    """The verdict sentences for one run (``checks``: the scorecard, when validated)."""
    methods = list(methods)
    out = _findings(findings)
    if not methods:
        return (*out, "No method produced a result, so there is nothing to trust yet.")
    agreement = _mean_agreement(comparison, methods)
    ranks = _ranks(comparison)
    additive = {a.method: a for a in comparison.additivity}
    probes: dict[str, dict[str, int]] = {}
    for c in checks or ():
        if c.check == "cardinality_probe" and "ranks" in c.details:
            probes[c.method] = dict(c.details["ranks"])
    if checks is None:
        trusted = [m for m in methods if m in additive and additive[m].ok]
        why = [
            f"{m}'s values add up to the model's output (max error "
            f"{additive[m].max_abs_error:.1e}, tolerance {additive[m].tolerance:.0e})"
            for m in trusted
        ]
        agreeing = [m for m in methods if (agreement[m] or 0.0) >= AGREE]
        if why:
            out.append("Exact: " + "; ".join(why) + ".")
    else:
        applicable = {m: [c for c in checks if c.method == m and c.status != "SKIP"]
                      for m in methods}  # fmt: skip
        trusted = [m for m in methods if applicable[m] and not _failed(checks, m)]
        agreeing = trusted
        if trusted:
            parts = []
            for m in trusted:
                n = len(applicable[m])
                warned = [c.check for c in applicable[m] if c.status == "WARN"]
                parts.append(
                    f"{m} ({n - len(warned)} of {n} checks pass"
                    + (f", warnings: {', '.join(warned)})" if warned else ")")
                )
            out.append("Trust " + _join(parts) + ".")
        for m in methods:
            bad = _failed(checks, m)
            if bad:
                out.append(f"Do not rely on {m}: " + "; ".join(
                    f"{c.check} failed ({c.reason})" for c in bad[:3]) + ".")  # fmt: skip
        for c in checks:
            if c.method == MODEL and c.status == "FAIL":
                out.append(f"Model check {c.check} failed: {c.reason}.")
    defined = {m: r for m, r in agreement.items() if r is not None}
    if defined and len(methods) >= 2:
        reference = next((m for m in trusted if m in ranks), max(defined, key=defined.get))
        together = [m for m in methods if (defined.get(m) or 0.0) >= AGREE]
        if len(together) >= 2:
            low = min(defined[m] for m in together)
            out.append(f"{_join(together)} agree with the others (mean Spearman >= {low:.2f}).")
        for m in methods:
            rho = defined.get(m)
            if m != reference and rho is not None and rho < DISAGREE:
                out.append(_disagreement(m, reference, ranks, rho, probes))
    best = [m for m in (trusted or agreeing) if kinds.game(m)] or list(trusted or agreeing)
    if best:
        advice = f"Read this model's ranking from {_join(best[:2])}"
    else:
        advice = (
            "No method both passes its checks and agrees with another: read the rankings "
            "as hypotheses"
        )
    if checks is None:
        advice += "; run `xai validate` to test every method on this model."
    else:
        advice += "."
    out.append(advice)
    return tuple(out)
