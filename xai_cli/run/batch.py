"""The one job runner of ``xai run`` and ``xai audit``: a worker call per job, in parallel with
joblib, atomic job folders, resume.

Each job runs :func:`xai_cli.api.explain_request`, then its :class:`JobWork` (nothing more for
``xai run``; the audit's rules for ``xai audit``, evaluated in the worker on the explanation's
loaded model and rows, so nothing is loaded twice), and writes its reports into a hidden partial
folder beside its final one; the job's fingerprint (model and data SHA-256, effective settings,
formats, tool version, and what the work adds, e.g. the audit's rules) is written last, then the
partial folder replaces the final one in a rename. So a job folder is either absent, a complete
earlier run, or a complete new run: an interrupted run (Ctrl-C, a killed worker) leaves only a
partial folder, which the next run removes and never mistakes for a finished job. ``--resume``
skips a job whose stored fingerprint equals the one it would have now and whose report files are
all there; the work's stored payload (the audit's rule results) comes back with it.

Workers are plain functions over frozen values, so joblib can run them in other processes; every
number depends only on the job's settings and seed, never on which worker ran it. A worker returns
only picklable values: the job's summary and the work's JSON-safe payload.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import multiprocessing
import shutil
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from joblib import Parallel, delayed
from joblib.externals.loky.process_executor import TerminatedWorkerError

from xai_cli import __version__
from xai_cli.api import explain_request
from xai_cli.config.load import JobSpec, Plan
from xai_cli.errors import OutputError, XaiError, describe
from xai_cli.explanation import Explanation
from xai_cli.load.models import file_sha256
from xai_cli.reports.files import output_error, write_files
from xai_cli.reports.writer import FORMATS, write_reports
from xai_cli.run.estimate import describe_estimates

if TYPE_CHECKING:
    from xai_cli.report import Report

FINGERPRINT_FILE = ".xai-job.json"
"""Written last into a job folder: the inputs it was made from and its summary."""

PARTIAL_MARK = ".partial-"
"""Hidden folders ``.<job>.partial-<id>`` hold a job's reports until they are complete."""

Status = Literal["ok", "error", "skipped"]
Notify = Callable[[str, str], None]
"""``notify(job_name, message)``: progress from a worker (``"start"``, ``"done"`` or a step)."""


@dataclass(frozen=True)
class JobOutcome:
    """What one job did, with the figures the summary and the index show."""

    name: str
    status: Status
    model: str
    data: str
    folder: str
    elapsed_s: float = 0.0
    error: str | None = None
    methods_ok: tuple[str, ...] = ()
    methods_failed: tuple[str, ...] = ()
    methods_skipped: tuple[str, ...] = ()
    consensus: tuple[str, ...] = ()
    top_features: tuple[str, ...] = ()
    lowest_agreement: dict[str, Any] | None = None
    rows_used: int | None = None
    task: str | None = None
    resumed_from: str | None = None
    files: tuple[str, ...] = field(default_factory=tuple)
    metrics: dict[str, Any] | None = None
    """The model's metrics on the explained rows (the report's ``metrics``), or ``None``."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (tuples as lists)."""
        out = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobOutcome:
        """Inverse of :meth:`to_dict`."""
        kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        return cls(**kwargs)


Payload = dict[str, Any]
"""What a job's :class:`JobWork` hands back: JSON-safe, stored in the job's record for resume."""


@dataclass(frozen=True)
class JobWork:
    """What a job does around its explanation; ``xai run``'s jobs use this class as it is.

    A subclass (the audit's) adds inputs to the fingerprint, finishes the report document in the
    worker, where the explanation's loaded model and rows are, and returns a payload. Instances
    travel to worker processes, so they must pickle.
    """

    estimate: bool = True
    """Time each method with a pilot before it runs (kept in the methods' provenance)."""

    def fingerprint(self, job: JobSpec) -> dict[str, Any]:
        """Inputs beyond the job's own that its reports depend on."""
        return {}

    def finish(
        self, job: JobSpec, explanation: Explanation, say: Notify
    ) -> tuple[Report, Payload | None]:
        """Called in the worker once the job is explained: the report to write into its folder
        (``explanation.report``, or a copy with more in it) and the payload to return."""
        return explanation.report, None

    def failed(self, job: JobSpec, exc: Exception) -> Payload | None:
        """The payload of a job that could not run (raised ``exc``)."""
        return None


@dataclass(frozen=True)
class JobResult:
    """What a worker returns: the job's summary and its work's payload."""

    outcome: JobOutcome
    payload: Payload | None = None


def expected_files(formats: tuple[str, ...]) -> tuple[str, ...]:
    """The report files a job writes for ``formats``."""
    return tuple(name for fmt in formats for name in FORMATS[fmt])


def fingerprint(
    job: JobSpec, formats: tuple[str, ...], work: JobWork | None = None
) -> dict[str, Any]:
    """The inputs a job's reports depend on; equal fingerprints mean equal reports."""
    return {
        "tool_version": __version__,
        "model_sha256": sha256_or_none(job.model_path),
        "data_sha256": sha256_or_none(job.data_path),
        "settings": job.settings(),
        "formats": list(formats),
        **(work.fingerprint(job) if work is not None else {}),
    }


def sha256_or_none(path: Path) -> str | None:
    """SHA-256 of a file, or ``None`` when it cannot be read: the job then fails on loading it,
    with the loader's own error, and a fingerprint with ``None`` never matches a finished job."""
    try:
        return file_sha256(path)
    except OSError:
        return None


def fingerprint_key(print_: dict[str, Any]) -> str:
    """A short stable digest of a fingerprint."""
    text = json.dumps(print_, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _stored(folder: Path, formats: tuple[str, ...]) -> dict[str, Any] | None:
    """The fingerprint file of a complete job folder, or ``None``."""
    try:
        stored = json.loads((folder / FINGERPRINT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not all((folder / name).is_file() for name in expected_files(formats)):
        return None
    return stored if isinstance(stored, dict) else None


def _summary(job: JobSpec, report: Report, elapsed: float, files: tuple[str, ...]) -> JobOutcome:
    """The summary figures of a finished job, read from its report."""
    methods = report.methods
    rated = [a for a in report.agreement if a.spearman is not None]
    pooled = [a for a in rated if a.output == "all"] or rated
    lowest = min(pooled, key=lambda a: a.spearman or 0.0) if pooled else None
    ok = report.ok_methods()
    top = [r.feature for r in report.top_features(ok[0].method, report.top_k)] if ok else []
    return JobOutcome(
        name=job.name,
        status="ok" if ok else "error",
        model=job.model_shown,
        data=job.data_shown,
        folder=job.name,
        elapsed_s=round(elapsed, 3),
        error=None if ok else "no method produced a result",
        methods_ok=tuple(m.method for m in methods if m.status == "ok"),
        methods_failed=tuple(m.method for m in methods if m.status == "failed"),
        methods_skipped=tuple(m.method for m in methods if m.status == "skipped"),
        consensus=report.consensus,
        top_features=tuple(top),
        lowest_agreement=(
            lowest.model_dump(by_alias=True, exclude={"kendall"})
            if lowest
            else None
        ),
        rows_used=report.provenance.rows_used,
        task=report.provenance.task,
        files=files,
        metrics=None if report.metrics is None else report.metrics.model_dump(mode="json"),
    )


def _replace_folder(partial: Path, final: Path) -> None:
    """Move a complete partial folder into place, replacing an earlier one.

    The earlier folder is first renamed aside; if the new one then cannot take its place, the
    earlier one is renamed back, so a failure leaves it as it was (an :class:`OutputError`).
    """
    try:
        if final.exists():
            trash = final.with_name(f".{final.name}{PARTIAL_MARK}old-{uuid.uuid4().hex[:8]}")
            final.rename(trash)
            try:
                partial.rename(final)
            except BaseException:
                trash.rename(final)
                raise
            shutil.rmtree(trash, ignore_errors=True)
        else:
            partial.rename(final)
    except OSError as exc:
        raise output_error(exc, "the job folder", final.parent, final) from exc


def run_job(
    job: JobSpec,
    out_dir: Path,
    formats: tuple[str, ...],
    resume: bool = False,
    notify: Notify | None = None,
    debug: bool = False,
    run_id: str | None = None,
    work: JobWork | None = None,
) -> JobResult:
    """Run one job and write its folder; never raises for a job's own failure.

    A failed job leaves no folder: a stale one from an earlier run is removed, so nothing reads an
    old report as the answer for the current inputs. The exception is a job that ran but could not
    write its folder (an :class:`OutputError`: disk full, read-only folder): its earlier folder is
    left exactly as it was, like every other output xai fails to replace, and ``--resume`` tells
    it apart by its fingerprint. ``run_id`` is stored in the fingerprint file
    so :func:`run_jobs` can tell a folder this run wrote from an older one.
    """
    work = work or JobWork()
    say: Notify = notify or (lambda _name, _msg: None)
    say(job.name, "start")
    t0 = time.perf_counter()
    final = out_dir / job.name
    try:
        print_ = fingerprint(job, formats, work)
        key = fingerprint_key(print_)
        if resume:
            stored = _stored(final, formats)
            if stored is not None and stored.get("key") == key:
                say(job.name, "done")
                return _resumed(stored, key)
        explanation = explain_request(
            job.request,
            progress=lambda msg: say(job.name, msg),
            on_estimates=(
                (lambda found: say(job.name, describe_estimates(found))) if work.estimate else None
            ),
        )
        report, payload = work.finish(job, explanation, say)
        outcome = _write_folder(job, report, out_dir, formats, key, print_, payload, run_id, t0)
    except Exception as exc:  # one job's failure must not stop the batch
        if not isinstance(exc, OutputError):  # a write failure leaves the earlier folder as it was
            shutil.rmtree(final, ignore_errors=True)
        if isinstance(exc, XaiError):
            message = f"error[{exc.code}]: {exc.message}"
        else:
            message = f"error[internal]: {describe(exc, 300)}"
        if debug:
            message += "\n" + traceback.format_exc()
        say(job.name, "done")
        return JobResult(_failed(job, message, time.perf_counter() - t0), work.failed(job, exc))
    say(job.name, "done")
    return JobResult(outcome, payload)


def _write_folder(
    job: JobSpec,
    report: Report,
    out_dir: Path,
    formats: tuple[str, ...],
    key: str,
    print_: dict[str, Any],
    payload: Payload | None,
    run_id: str | None,
    t0: float,
) -> JobOutcome:
    """Write a job's reports and record into a partial folder, then rename it into place."""
    final = out_dir / job.name
    partial = out_dir / f".{job.name}{PARTIAL_MARK}{uuid.uuid4().hex[:8]}"
    try:
        paths = write_reports(report, partial, formats, shown=final)
        outcome = _summary(job, report, time.perf_counter() - t0, tuple(p.name for p in paths))
        record = {"key": key, "fingerprint": print_, "outcome": outcome.to_dict(), "run_id": run_id}
        if payload is not None:
            record["payload"] = payload
        text = json.dumps(record, indent=2, sort_keys=True)
        write_files({partial / FINGERPRINT_FILE: text}, "the job record", final)
        _replace_folder(partial, final)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return outcome


def _resumed(stored: dict[str, Any], key: str) -> JobResult:
    """The result of a job skipped because its folder is a complete run of the same inputs."""
    previous = JobOutcome.from_dict(stored["outcome"])
    return JobResult(replace(previous, status="skipped", resumed_from=key), stored.get("payload"))


def clean_partials(out_dir: Path) -> int:
    """Remove partial folders an interrupted run left behind; returns how many."""
    if not out_dir.is_dir():
        return 0
    removed = 0
    for path in out_dir.iterdir():
        if path.is_dir() and path.name.startswith(".") and PARTIAL_MARK in path.name:
            shutil.rmtree(path, ignore_errors=True)
            removed += 1
    return removed


def plan_summary(plan: Plan, outcomes: list[JobOutcome]) -> dict[str, Any]:
    """The batch summary document (``summary.json``), jobs in config order."""
    order = {job.name: i for i, job in enumerate(plan.jobs)}
    jobs = sorted(outcomes, key=lambda o: order.get(o.name, len(order)))
    counts = {s: sum(o.status == s for o in jobs) for s in ("ok", "skipped", "error")}
    return {
        "schema_version": "1.0",
        "tool": {"name": "xai-cli", "version": __version__},
        "config": str(plan.config_path),
        "formats": list(plan.formats),
        "counts": counts,
        "jobs": [o.to_dict() for o in jobs],
    }


class QueueNotify:
    """A picklable ``notify`` that sends worker progress to the parent through a managed queue."""

    def __init__(self, queue: Any) -> None:
        self.queue = queue

    def __call__(self, name: str, message: str) -> None:
        with contextlib.suppress(Exception):  # progress is best effort; never fail a job on it
            self.queue.put((name, message))


def run_plan(
    plan: Plan,
    n_jobs: int = 1,
    resume: bool = False,
    notify: Notify | None = None,
    on_result: Callable[[JobOutcome], None] | None = None,
    debug: bool = False,
) -> list[JobOutcome]:
    """``xai run``: every job of ``plan`` through :func:`run_jobs`, reports only."""
    each = (lambda r: on_result(r.outcome)) if on_result else None
    results = run_jobs(plan, JobWork(), n_jobs, resume, notify, each, debug)
    return [r.outcome for r in results]


def run_jobs(
    plan: Plan,
    work: JobWork,
    n_jobs: int = 1,
    resume: bool = False,
    notify: Notify | None = None,
    on_result: Callable[[JobResult], None] | None = None,
    debug: bool = False,
) -> list[JobResult]:
    """Run every job of ``plan`` with ``work`` (in parallel with joblib when ``n_jobs > 1``), in
    any order.

    ``notify`` receives progress messages from the jobs (delivered on a helper thread when jobs run
    in other processes); ``on_result`` is called on this thread as each job ends. A worker process
    that dies takes only its unfinished jobs with it: they are reported as errors (unless their
    folder shows they ended, see :func:`_unfinished`), and ``--resume`` reruns just them.
    """
    try:
        plan.out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise output_error(exc, "the run's outputs", plan.out_dir) from exc
    clean_partials(plan.out_dir)
    done: list[JobResult] = []
    run_id = uuid.uuid4().hex

    def finish(result: JobResult) -> None:
        done.append(result)
        if on_result:
            on_result(result)

    args = (plan.out_dir, plan.formats, resume)
    if n_jobs == 1 or len(plan.jobs) <= 1:
        for job in plan.jobs:
            finish(run_job(job, *args, notify=notify, debug=debug, run_id=run_id, work=work))
        return done
    with multiprocessing.Manager() as manager:
        queue = manager.Queue()
        pump = threading.Thread(target=_pump, args=(queue, notify), daemon=True)
        pump.start()
        try:
            results = Parallel(n_jobs=n_jobs, return_as="generator_unordered")(
                delayed(run_job)(job, *args, QueueNotify(queue), debug, run_id, work)
                for job in plan.jobs
            )
            for result in results:
                finish(result)
        except TerminatedWorkerError as exc:
            finished = {r.outcome.name for r in done}
            for job in plan.jobs:
                if job.name not in finished:
                    finish(_unfinished(job, plan, work, resume, run_id, describe(exc, 200)))
        finally:
            queue.put(None)
            pump.join(timeout=5)
    return done


def _pump(queue: Any, notify: Notify | None) -> None:
    """Forward worker progress from the queue to ``notify`` until the ``None`` sentinel."""
    while True:
        try:
            item = queue.get()
        except (EOFError, OSError):  # the manager went away
            return
        if item is None:
            return
        if notify:
            notify(*item)


def _failed(job: JobSpec, message: str, elapsed: float = 0.0) -> JobOutcome:
    """The outcome of a job that produced no reports."""
    return JobOutcome(
        name=job.name,
        status="error",
        model=job.model_shown,
        data=job.data_shown,
        folder=job.name,
        elapsed_s=round(elapsed, 3),
        error=message,
    )


def _unfinished(
    job: JobSpec, plan: Plan, work: JobWork, resume: bool, run_id: str, why: str
) -> JobResult:
    """The outcome of a job whose result died with its worker process (``why``).

    A job may have put its complete folder in place just before its worker died, with only its
    result lost on the way back; its outcome is read back from the folder's fingerprint file when
    the stored key is the one the job has now and the file names this run (``run_id``). A folder
    from an earlier run is not this job's result even with the same fingerprint: without
    ``--resume`` the job was to run again, and calling it done would hide a job that kills its
    worker on every run, so it is reported lost. With ``--resume`` such a folder is what the job
    would have skipped to, so it is reported skipped. An id, not a time: file times and the clock
    need not agree (coarse or remote file systems), an id written by the job itself does.
    """
    try:
        key = fingerprint_key(fingerprint(job, plan.formats, work))
        stored = _stored(plan.out_dir / job.name, plan.formats)
        if stored is not None and stored.get("key") == key:
            if stored.get("run_id") == run_id:
                return JobResult(JobOutcome.from_dict(stored["outcome"]), stored.get("payload"))
            if resume:
                return _resumed(stored, key)
    except Exception:  # an unreadable record or input is no evidence the job ended
        pass
    return JobResult(_lost(job, why))


def _lost(job: JobSpec, why: str) -> JobOutcome:
    return _failed(
        job,
        f"error[worker]: a worker process died before this job finished ({why}); "
        "rerun with --resume to retry the unfinished jobs",
    )
