"""``xai audit``: read the config's ``audit:`` section, run every job, evaluate every rule.

Each job is explained in process with :func:`xai_cli.run.engine.explain`; rules that need the model
and the rows (noise floor, stability) load them again the same way the engine does (same seed, same
rows). The result is one JSON-safe audit document that every audit renderer works from, plus each
job's typed report with an ``audit`` section for its HTML report. Nothing here touches the
terminal; :func:`write_outputs` is the only function that writes files.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from xai_cli import SCHEMA_VERSION, __version__
from xai_cli.api import explain_request
from xai_cli.audit import junit, markdown, probes, rules
from xai_cli.audit.outcome import STATUSES, RuleResult, counts, exit_code
from xai_cli.config.load import JobSpec, Overrides, Plan, _report, load_plan, read_yaml
from xai_cli.config.schema import (
    CONSENSUS,
    AdditivityRule,
    AgreementRule,
    Config,
    DriftRule,
    ForbiddenFeaturesRule,
    NoiseFloorRule,
    Problem,
    RequiredFeaturesRule,
    RuleBase,
    StabilityRule,
)
from xai_cli.errors import DataError, MissingFileError, XaiError, describe
from xai_cli.methods import REGISTRY
from xai_cli.model.adapter import ModelAdapter
from xai_cli.report import AuditResult, AuditSection, Report
from xai_cli.reports.files import output_error, write_files
from xai_cli.reports.writer import FORMATS
from xai_cli.request import DEFAULT_METHODS
from xai_cli.run import engine
from xai_cli.run.engine import ExplainRequest

Progress = Callable[[str], None]
AUDIT_FILES = ("audit.json", "audit.md", "audit.junit.xml")


def _quiet(_: str) -> None:
    return None


@dataclass(frozen=True)
class NamedRule:
    """A validated rule with its unique name (``name``, else its type, numbered if repeated)."""

    name: str
    spec: RuleBase


@dataclass(frozen=True)
class AuditPlan:
    """A config with an ``audit:`` section: the jobs to run and the rules to check on each."""

    plan: Plan
    rules: tuple[NamedRule, ...]


def _rule_methods(spec: RuleBase) -> list[tuple[str, list[str]]]:
    """(key, method names) of every key of a rule that names methods."""
    keys = ("methods", "in_top_k_of", "not_in_top_k_of", "share_of")
    out = []
    for key in keys:
        value = getattr(spec, key, None)
        if key == "share_of" and getattr(spec, "max_share", None) is None:
            continue
        if value:
            out.append((key, list(value)))
    return out


def load_audit(
    path: str | Path, overrides: Overrides | None = None, env: Mapping[str, str] | None = None
) -> AuditPlan:
    """Read and check a config for ``xai audit``; one :class:`ConfigError` lists every problem.

    Beyond the schema, a rule may only name methods its jobs run (when a job lists methods), and
    the noise floor needs each job's labels.
    """
    plan = load_plan(path, overrides, env)
    shown = str(path)
    doc = read_yaml(Path(path), shown)
    config = Config.model_validate(doc.data)
    problems: list[Problem] = []
    if config.audit is None:
        problems.append(Problem((), "no `audit:` section: `xai audit` needs rules to check"))
        raise _report(shown, doc, problems)
    named: list[NamedRule] = []
    seen: dict[str, int] = {}
    for i, spec in enumerate(config.audit.rules):
        base = spec.name or spec.type  # type: ignore[attr-defined]
        if spec.name and base in seen:
            problems.append(Problem(("audit", "rules", i, "name"), f"duplicate rule name '{base}'"))
        seen[base] = seen.get(base, 0) + 1
        name = base if seen[base] == 1 or spec.name else f"{base}-{seen[base]}"
        named.append(NamedRule(name, spec))
        for job in plan.jobs:
            if job.request.methods != DEFAULT_METHODS:
                for key, names in _rule_methods(spec):
                    for j, method in enumerate(names):
                        if method != CONSENSUS and method not in job.request.methods:
                            problems.append(
                                Problem(
                                    ("audit", "rules", i, key, j),
                                    f"method '{method}' is not run by job '{job.name}' "
                                    f"(methods: {', '.join(job.request.methods)})",
                                )
                            )
            if isinstance(spec, NoiseFloorRule) and job.request.target is None:
                problems.append(
                    Problem(
                        ("audit", "rules", i),
                        f"noise_floor needs labels, but job '{job.name}' has no data.target",
                    )
                )
    if problems:
        raise _report(shown, doc, problems)
    return AuditPlan(plan, tuple(named))


@dataclass(frozen=True)
class Prepared:
    """The model adapter and the exact rows (and encoded labels) the engine explained."""

    adapter: ModelAdapter
    X: pd.DataFrame
    y: np.ndarray | None


def prepare(request: ExplainRequest) -> Prepared:
    """The model and rows :func:`xai_cli.run.engine.explain` would use, for a rule evaluated on
    its own (an audit job reuses what its explain step loaded instead)."""
    ran = engine.prepare(request)
    return Prepared(ran.adapter, ran.X, ran.encoded)


@dataclass
class Baseline:
    """The ``--baseline`` report: one ``report.json`` for every job, or a folder of
    ``<job>/report.json`` files (a job without one there is skipped by the drift rule)."""

    path: Path | None
    cache: dict[Path, Report] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.path is not None and not self.path.exists():
            raise MissingFileError(
                f"baseline report not found: {self.path}", hint="check --baseline"
            )
        if self.path is not None and self.path.is_file():  # a bad file stops the audit up front
            self.cache[self.path] = Report.read(self.path)

    def for_job(self, job: str) -> tuple[Report | None, str | None]:
        """(the baseline report for ``job``, or ``None`` and why)."""
        if self.path is None:
            return None, "no --baseline report given"
        path = self.path
        if path.is_dir():
            path = next(
                (p for p in (path / job / "report.json", path / "report.json") if p.is_file()),
                None,
            )
            if path is None:
                return None, f"no baseline report for job '{job}' in {self.path}"
        if path not in self.cache:
            self.cache[path] = Report.read(path)
        return self.cache[path], None


@dataclass
class _JobContext:
    """Lazily computed inputs of one job's rules, each computed once."""

    job: JobSpec
    doc: Report
    baseline: Baseline
    progress: Progress
    prepared: Prepared
    floors: dict[tuple[int, float], probes.NoiseFloor] = field(default_factory=dict)
    stable: dict[tuple[str, int], probes.Stability | str] = field(default_factory=dict)

    def rows(self) -> Prepared:
        """The model and the exact rows the job's explain step used (loaded once)."""
        return self.prepared

    def floor(self, spec: NoiseFloorRule) -> probes.NoiseFloor:
        key = (spec.repeats, spec.confidence)
        if key not in self.floors:
            self.progress(f"{self.job.name}: noise floor ({spec.repeats} repeats)")
            p = self.rows()
            if p.y is None:
                raise DataError("the noise floor needs labels (data.target)")
            self.floors[key] = probes.noise_floor(
                p.adapter,
                p.X,
                p.y,
                repeats=spec.repeats,
                confidence=spec.confidence,
                seed=self.job.request.seed,
            )
        return self.floors[key]

    def stability(self, spec: StabilityRule) -> dict[str, probes.Stability | str]:
        ran = [m.method for m in self.doc.ok_methods()]
        out: dict[str, probes.Stability | str] = {}
        for method in [m for m in (spec.methods or ran) if m in ran]:
            key = (method, spec.resamples)
            if key not in self.stable:
                self.progress(
                    f"{self.job.name}: stability of {method} ({spec.resamples} resamples)"
                )
                p = self.rows()
                try:
                    self.stable[key] = probes.stability(
                        p.adapter,
                        p.X,
                        p.y,
                        REGISTRY[method],
                        params=self.job.request.params_for(REGISTRY[method]),
                        resamples=spec.resamples,
                        seed=self.job.request.seed,
                    )
                except Exception as exc:  # one method failing must not hide the others
                    self.stable[key] = f"failed on a resample: {describe(exc)}"
            out[method] = self.stable[key]
        return out


def evaluate(rule: NamedRule, ctx: _JobContext) -> RuleResult:
    """One rule on one job; an exception while evaluating it becomes ``ERROR`` with why."""
    spec, name, doc = rule.spec, rule.name, ctx.doc
    try:
        if isinstance(spec, AgreementRule):
            return rules.agreement(spec, name, doc)
        if isinstance(spec, AdditivityRule):
            return rules.additivity(spec, name, doc)
        if isinstance(spec, RequiredFeaturesRule):
            return rules.required_features(spec, name, doc)
        if isinstance(spec, ForbiddenFeaturesRule):
            return rules.forbidden_features(spec, name, doc)
        if isinstance(spec, NoiseFloorRule):
            try:
                return rules.noise_floor(spec, name, doc, ctx.floor(spec), None)
            except (XaiError, ValueError) as exc:
                return rules.noise_floor(spec, name, doc, None, describe(exc))
        if isinstance(spec, StabilityRule):
            return rules.stability(spec, name, doc, ctx.stability(spec))
        if isinstance(spec, DriftRule):
            baseline, why = ctx.baseline.for_job(ctx.job.name)
            return rules.drift(spec, name, doc, baseline, why)
        raise TypeError(f"no evaluator for rule type {type(spec).__name__}")
    except Exception as exc:  # a rule that cannot be evaluated is ERROR, never a pass
        message = exc.message if isinstance(exc, XaiError) else describe(exc, 300)
        return RuleResult(name, spec.type, spec.severity, "ERROR", message)  # type: ignore[attr-defined]


def overall(statuses: list[str]) -> str:
    """The worst status: ERROR, FAIL, WARN, PASS, then SKIP (only when everything skipped)."""
    for status in ("ERROR", "FAIL", "WARN", "PASS"):
        if status in statuses:
            return status
    return "SKIP"


@dataclass(frozen=True)
class JobAudit:
    """One job's report (``None`` when the job could not run) and rule results."""

    name: str
    report: Report | None
    results: tuple[RuleResult, ...]
    error: str | None = None


def audit_job(
    job: JobSpec, rules_: tuple[NamedRule, ...], baseline: Baseline, progress: Progress = _quiet
) -> JobAudit:
    """Explain one job and check every rule; a job that cannot run makes every rule ``ERROR``."""
    try:
        explanation = explain_request(job.request, lambda m: progress(f"{job.name}: {m}"))
    except XaiError as exc:
        why = f"the job could not run: {exc.message}" + (f" ({exc.cause})" if exc.cause else "")
        return JobAudit(
            job.name,
            None,
            tuple(RuleResult(r.name, r.spec.type, r.spec.severity, "ERROR", why) for r in rules_),  # type: ignore[attr-defined]
            why,
        )
    doc = explanation.report
    ran = explanation.prepared
    assert ran is not None  # explain_request always keeps what it loaded
    ctx = _JobContext(job, doc, baseline, progress, Prepared(ran.adapter, ran.X, ran.encoded))
    results = tuple(evaluate(rule, ctx) for rule in rules_)
    statuses = [r.status for r in results]
    section = AuditSection(
        status=overall(statuses),  # type: ignore[arg-type]
        summary=counts(statuses),
        baseline=None if baseline.path is None else str(baseline.path),
        results=tuple(AuditResult(**r.to_dict()) for r in results),
    )
    return JobAudit(job.name, doc.model_copy(update={"audit": section}), results)


def run_audit(
    audit_plan: AuditPlan, baseline: Path | None = None, progress: Progress = _quiet
) -> tuple[dict[str, Any], list[JobAudit]]:
    """Run every job of the plan and build the audit document."""
    started = datetime.now(UTC).isoformat(timespec="seconds")
    base = Baseline(baseline)
    jobs = [audit_job(job, audit_plan.rules, base, progress) for job in audit_plan.plan.jobs]
    return audit_document(audit_plan, jobs, baseline, started), jobs


def audit_document(
    audit_plan: AuditPlan, jobs: list[JobAudit], baseline: Path | None, started: str
) -> dict[str, Any]:
    """The JSON-safe audit document (``audit.json``) that every audit renderer reads."""
    statuses = [r.status for j in jobs for r in j.results]
    entries = []
    for j in jobs:
        prov = j.report.provenance if j.report else None
        figures = {
            key: None if prov is None else getattr(prov, key)
            for key in ("model_path", "model_sha256", "data_path", "rows_used")
        }
        wrote_json = j.report is not None and "json" in audit_plan.plan.formats
        entries.append(
            {
                "name": j.name,
                "status": overall([r.status for r in j.results]),
                "error": j.error,
                "report": f"{j.name}/report.json" if wrote_json else None,
                **figures,
                "summary": counts(r.status for r in j.results),
                "results": [r.to_dict() for r in j.results],
            }
        )
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": "xai-audit",
        "tool": {"name": "xai-cli", "version": __version__},
        "config": str(audit_plan.plan.config_path),
        "baseline": None if baseline is None else str(baseline),
        "started_at": started,
        "statuses": list(STATUSES),
        "status": overall(statuses),
        "exit_code": exit_code(statuses),
        "summary": counts(statuses),
        "rules": [
            {"name": r.name, "type": r.spec.type, "severity": r.spec.severity}  # type: ignore[attr-defined]
            for r in audit_plan.rules
        ],
        "jobs": entries,
    }


def write_outputs(
    audit_doc: dict[str, Any], jobs: list[JobAudit], out_dir: Path, formats: tuple[str, ...]
) -> list[Path]:
    """Write every job's reports and ``audit.json``/``.md``/``.junit.xml``, all or nothing.

    Everything is rendered before anything is written, so a renderer error leaves no partial set,
    and written through :func:`~xai_cli.reports.files.write_files`, so a write error (disk full,
    read-only folder) is an :class:`~xai_cli.errors.OutputError` that leaves the previous outputs.
    """
    rendered: dict[Path, str] = {}
    for j in jobs:
        if j.report is not None:
            for fmt in formats:
                for filename, render in FORMATS[fmt].items():
                    rendered[out_dir / j.name / filename] = render(j.report)
    rendered[out_dir / "audit.json"] = json.dumps(audit_doc, indent=2, allow_nan=False) + "\n"
    rendered[out_dir / "audit.md"] = markdown.render_audit(audit_doc)
    rendered[out_dir / "audit.junit.xml"] = junit.render(junit.audit_suites(audit_doc))
    return write_files(rendered, "the audit outputs")


def append_step_summary(text: str, env: Mapping[str, str] | None = None) -> Path | None:
    """Append ``text`` to the file named by ``GITHUB_STEP_SUMMARY`` (GitHub Actions), if set.

    A failed append is cut back to the file's previous length, so the summary never ends in half
    a report, and raised as an :class:`~xai_cli.errors.OutputError` naming the cause.
    """
    target = (os.environ if env is None else env).get("GITHUB_STEP_SUMMARY")
    if not target:
        return None
    path = Path(target)
    data = (text if text.endswith("\n") else text + "\n").encode("utf-8")
    try:
        with path.open("ab") as handle:
            size = handle.tell()
            try:
                handle.write(data)
                handle.flush()
            except OSError:  # do not leave half a summary behind
                with contextlib.suppress(OSError):
                    handle.truncate(size)
                raise
    except OSError as exc:
        error = output_error(exc, "the step summary", path)
        error.hint = "check the file GITHUB_STEP_SUMMARY names, or unset it"
        raise error from exc
    return path
