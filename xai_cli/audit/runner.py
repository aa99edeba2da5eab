"""``xai audit``: read the config's ``audit:`` section, run every job, evaluate every rule.

The jobs run through the same job runner as ``xai run`` (:func:`xai_cli.run.batch.run_jobs`):
in parallel with ``--jobs``, each job's folder written atomically, ``--resume`` for jobs whose
inputs, rules and baseline are unchanged. The rules are evaluated inside each job's worker by
:class:`AuditWork`, on the model and rows its explain step loaded (noise floor and stability probes
reuse them; nothing is loaded twice); the worker returns only the JSON-safe rule results, and the
typed report it writes gets an ``audit`` section for its HTML report. The result is one JSON-safe
audit document that every audit renderer works from. Nothing here touches the terminal; the job
folders are written by the job runner and the audit's own files by :func:`write_outputs`.
"""

from __future__ import annotations

import contextlib
import json
import os
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from xai_cli import SCHEMA_VERSION, __version__
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
    LeaksRule,
    NoiseFloorRule,
    Problem,
    RequiredFeaturesRule,
    RuleBase,
    StabilityRule,
    ValidationRule,
)
from xai_cli.errors import DataError, MissingFileError, XaiError, describe
from xai_cli.explanation import Explanation
from xai_cli.methods import REGISTRY
from xai_cli.model.adapter import ModelAdapter
from xai_cli.report import AuditResult, AuditSection, Report
from xai_cli.reports.files import output_error, write_files
from xai_cli.request import DEFAULT_METHODS
from xai_cli.run import engine
from xai_cli.run.batch import JobResult, JobWork, Notify, Payload, run_jobs, sha256_or_none
from xai_cli.run.engine import ExplainRequest
from xai_cli.validate.checks import ValidateOptions

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
    validate: ValidateOptions = field(default_factory=ValidateOptions)
    """The config's ``validate:`` block (settings of a ``validation`` rule's scorecard)."""


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
    return AuditPlan(plan, tuple(named), config.validate_)


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

    def source(self, job: str) -> Path | None:
        """The baseline file for ``job``, or ``None`` when there is none."""
        if self.path is None or not self.path.is_dir():
            return self.path
        folder = self.path
        return next((p for p in (folder / job / "report.json", folder / "report.json")
                     if p.is_file()), None)  # fmt: skip

    def for_job(self, job: str) -> tuple[Report | None, str | None]:
        """(the baseline report for ``job``, or ``None`` and why)."""
        if self.path is None:
            return None, "no --baseline report given"
        path = self.source(job)
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
            self.progress(f"noise floor ({spec.repeats} repeats)")
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
                self.progress(f"stability of {method} ({spec.resamples} resamples)")
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
        if isinstance(spec, ValidationRule):
            return rules.validation(spec, name, doc)
        if isinstance(spec, LeaksRule):
            return rules.leaks(spec, name, doc)
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
    """One job's rule results, where its reports are (``files`` in its folder; none when the job
    could not run, with ``error`` saying why) and the provenance figures the audit shows."""

    name: str
    results: tuple[RuleResult, ...]
    error: str | None = None
    files: tuple[str, ...] = ()
    provenance: Mapping[str, Any] = field(default_factory=dict)


PROVENANCE_KEYS = ("model_path", "model_sha256", "data_path", "rows_used")
"""The report provenance each job's entry in ``audit.json`` repeats."""


@dataclass(frozen=True)
class AuditWork(JobWork):
    """An audit job's work in the job runner: check every rule on the job's explanation, in the
    worker that explained it (the probes reuse its loaded model and rows)."""

    rules: tuple[NamedRule, ...] = ()
    baseline: Baseline = field(default_factory=lambda: Baseline(None))
    estimate: bool = False  # the audit reports no time estimates
    debug: bool = False
    """Add the traceback to the reason a job could not run (``--debug``)."""
    validate: ValidateOptions = field(default_factory=ValidateOptions)
    """Settings of the scorecard, run when a rule is of type ``validation``."""

    def fingerprint(self, job: JobSpec) -> dict[str, Any]:
        """The rules and the job's baseline report: a resumed job's verdicts depend on them."""
        source = self.baseline.source(job.name)
        return {
            "audit": {
                "rules": [
                    {"name": r.name, "spec": r.spec.model_dump(mode="json")} for r in self.rules
                ],
                "baseline_sha256": None if source is None else sha256_or_none(source),
            }
        }

    def finish(self, job: JobSpec, explanation: Explanation, say: Notify) -> tuple[Report, Payload]:
        """Evaluate every rule; return the report with its ``audit`` section and the JSON-safe
        results (what crosses back from a worker process)."""
        wanted = [r.spec for r in self.rules if isinstance(r.spec, ValidationRule)]
        if wanted:
            from xai_cli.validate.api import validated
            from xai_cli.validate.runner import FAMILY_OF

            named = [spec.checks for spec in wanted]
            families = None if any(c is None for c in named) else frozenset(
                FAMILY_OF[c] for checks in named for c in checks or ())  # fmt: skip
            explanation = validated(
                explanation, job.request, self.validate, lambda m: say(job.name, m), families
            )
        report = explanation.report
        ran = explanation.prepared
        assert ran is not None  # explain_request always keeps what it loaded
        ctx = _JobContext(
            job, report, self.baseline, lambda m: say(job.name, m),
            Prepared(ran.adapter, ran.X, ran.encoded),
        )  # fmt: skip
        results = [evaluate(rule, ctx).to_dict() for rule in self.rules]
        statuses = [r["status"] for r in results]
        section = AuditSection(
            status=overall(statuses),  # type: ignore[arg-type]
            summary=counts(statuses),
            baseline=None if self.baseline.path is None else str(self.baseline.path),
            results=tuple(AuditResult(**r) for r in results),
        )
        prov = report.provenance
        payload = {
            "results": results,
            "provenance": {key: getattr(prov, key) for key in PROVENANCE_KEYS},
        }
        return report.model_copy(update={"audit": section}), payload

    def failed(self, job: JobSpec, exc: Exception) -> Payload:
        """Why a job could not run; every rule of it is then ``ERROR`` with that reason."""
        if isinstance(exc, XaiError):
            why = exc.message + (f" ({exc.cause})" if exc.cause else "")
        else:
            why = describe(exc, 300)
        if self.debug:
            why += "\n" + traceback.format_exc()
        return {"error": f"the job could not run: {why}"}


def job_audit(result: JobResult, rules_: tuple[NamedRule, ...]) -> JobAudit:
    """A job's audit from what the job runner returned (run now, resumed, failed or lost)."""
    outcome, payload = result.outcome, result.payload or {}
    if "results" in payload:
        return JobAudit(
            outcome.name,
            tuple(RuleResult(**r) for r in payload["results"]),
            files=outcome.files,
            provenance=payload["provenance"],
        )
    why = payload.get("error") or f"the job could not run: {outcome.error}"
    errors = tuple(
        RuleResult(r.name, r.spec.type, r.spec.severity, "ERROR", why)  # type: ignore[attr-defined]
        for r in rules_
    )
    return JobAudit(outcome.name, errors, why)


def run_audit(
    audit_plan: AuditPlan,
    baseline: Path | None = None,
    progress: Progress = _quiet,
    n_jobs: int = 1,
    resume: bool = False,
    debug: bool = False,
) -> tuple[dict[str, Any], list[JobAudit]]:
    """Run every job of the plan through the job runner (``n_jobs`` in parallel; ``resume`` skips
    unchanged jobs) and build the audit document; jobs are listed in config order."""
    started = datetime.now(UTC).isoformat(timespec="seconds")
    work = AuditWork(
        rules=audit_plan.rules, baseline=Baseline(baseline), debug=debug,
        validate=audit_plan.validate,
    )  # fmt: skip

    def notify(name: str, message: str) -> None:
        if message != "done":
            progress(f"{name}: {'starting' if message == 'start' else message}")

    plan = audit_plan.plan
    results = run_jobs(plan, work, n_jobs=n_jobs, resume=resume, notify=notify)
    order = {job.name: i for i, job in enumerate(plan.jobs)}
    results.sort(key=lambda r: order[r.outcome.name])
    jobs = [job_audit(r, audit_plan.rules) for r in results]
    return audit_document(audit_plan, jobs, baseline, started), jobs


def audit_document(
    audit_plan: AuditPlan, jobs: list[JobAudit], baseline: Path | None, started: str
) -> dict[str, Any]:
    """The JSON-safe audit document (``audit.json``) that every audit renderer reads."""
    statuses = [r.status for j in jobs for r in j.results]
    entries = []
    for j in jobs:
        prov = j.provenance
        entries.append(
            {
                "name": j.name,
                "status": overall([r.status for r in j.results]),
                "error": j.error,
                "report": f"{j.name}/report.json" if "report.json" in j.files else None,
                "model_path": prov.get("model_path"),
                "model_sha256": prov.get("model_sha256"),
                "data_path": prov.get("data_path"),
                "rows_used": prov.get("rows_used"),
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


def write_outputs(audit_doc: dict[str, Any], jobs: list[JobAudit], out_dir: Path) -> list[Path]:
    """Write ``audit.json``/``audit.md``/``audit.junit.xml``, all or nothing; returns them with the
    job reports the job runner already wrote (each job folder was put in place whole).

    Everything is rendered before anything is written, so a renderer error leaves no partial set,
    and written through :func:`~xai_cli.reports.files.write_files`, so a write error (disk full,
    read-only folder) is an :class:`~xai_cli.errors.OutputError` that leaves the previous outputs.
    """
    rendered: dict[Path, str] = {
        out_dir / "audit.json": json.dumps(audit_doc, indent=2, allow_nan=False) + "\n",
        out_dir / "audit.md": markdown.render_audit(audit_doc),
        out_dir / "audit.junit.xml": junit.render(junit.audit_suites(audit_doc)),
    }
    written = write_files(rendered, "the audit outputs")
    return [out_dir / j.name / name for j in jobs for name in j.files] + written


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
