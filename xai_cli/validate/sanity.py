"""Sanity checks (Adebayo et al. 2018, evaluation_methods.md §6.2): an explanation must depend on
the model's parameters (T10) and on the labels it was trained on (T11, opt-in).

**T10**: every method is re-run on a copy of the model whose leaf values are permuted within each
tree (structure kept, function destroyed; linear models and MLPs: weights shuffled). An importance
that does not change at all (relative L1 change <= 1e-9) does not read what the model computes: a
FAIL (native split, gain and cover importances fail by construction: they read the structure and
the training statistics only). A change under 1% is a WARN.

**T11** (``label_randomisation``): the model is refit on permuted labels; a method whose ranking
on that model still matches its ranking on a refit on the true labels (Spearman >= 0.9) explains
the features' distributions rather than what the model learnt.
"""

from __future__ import annotations

import numpy as np

from xai_cli.results import LocalAttribution, MethodOutcome
from xai_cli.validate.checks import Check, judged, skip
from xai_cli.validate.context import Subject, pooled, spearman
from xai_cli.validate.models import CannotCopy, randomised, refit

FAMILY = "sanity"


def _pair(subject: Subject, outcome: MethodOutcome, other) -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN001
    """The method's importances before and after randomisation, on the same rows: a row-wise
    method's values on the check rows (sliced from the run) against a re-run there; the run's own
    table against a re-run on the run's rows; for a streamed run, both re-run on the check rows.
    Both sides pool rows x outputs the same way (mean over rows of the sum over outputs)."""
    name = outcome.method
    explainer = subject.explainers[name]
    if not explainer.uses_rows and outcome.table is not None:
        return pooled(outcome.table), pooled(subject.run(name, subject.X, adapter=other))
    local, table = outcome.local, outcome.table
    if local is not None and explainer.row_wise and len(local.values) == len(subject.prepared.X):
        # each row's values depend only on that row: the check rows' slice of the run is exact
        values = np.abs(local.values[subject.rows])
        before = values.sum(axis=2).mean(axis=0)
        after = subject.run(name, subject.X, adapter=other, y=subject.y)
        return before, np.abs(after.values).sum(axis=2).mean(axis=0) if isinstance(
            after, LocalAttribution) else pooled(after)  # fmt: skip
    if table is not None and not table.params.get("streamed"):
        rows, y = subject.prepared.X, subject.prepared.encoded
        return pooled(table), pooled(subject.run(name, rows, adapter=other, y=y))
    before = pooled(subject.run(name, subject.X, y=subject.y))
    return before, pooled(subject.run(name, subject.X, adapter=other, y=subject.y))


def parameter_randomisation(subject: Subject) -> list[Check]:
    """T10 for every method that ran."""
    try:
        other = randomised(subject.adapter, subject.request.seed + 5)
    except CannotCopy as exc:
        return [skip(FAMILY, "parameter_randomisation", o.method, str(exc), "T10")
                for o in subject.ok]  # fmt: skip
    out = []
    for outcome in subject.ok:
        name = outcome.method
        try:
            before, after = _pair(subject, outcome, other)
        except Exception as exc:
            out.append(skip(FAMILY, "parameter_randomisation", name, f"could not run: {exc}",
                            "T10"))  # fmt: skip
            continue
        change = float(np.abs(after - before).sum() / max(np.abs(before).sum(), 1e-300))
        rho = spearman(before, after)
        out.append(judged(
            FAMILY, "parameter_randomisation", name, change, 0.01, ">", warn=1e-9, test="T10",
            what="relative L1 change of the importances after permuting the leaf values",
            details={"spearman": rho},
        ))  # fmt: skip
    return out


def label_randomisation(subject: Subject) -> list[Check]:
    """T11 (opt-in): refits on true and on permuted labels, rankings compared per method."""
    if not subject.options.label_randomisation:
        return [skip(FAMILY, "label_randomisation", o.method,
                     "opt-in: pass --label-randomisation (refits the model twice)", "T11")
                for o in subject.ok]  # fmt: skip
    if subject.y is None:
        return [skip(FAMILY, "label_randomisation", o.method, "needs labels (--target)", "T11")
                for o in subject.ok]  # fmt: skip
    X, y = subject.X, subject.y
    rng = np.random.default_rng(subject.request.seed + 13)
    try:
        true = refit(subject.adapter, X, y)
        noise = refit(subject.adapter, X, rng.permutation(y))
    except CannotCopy as exc:
        return [skip(FAMILY, "label_randomisation", o.method, str(exc), "T11")
                for o in subject.ok]  # fmt: skip
    out = []
    for outcome in subject.ok:
        name = outcome.method
        try:
            a = pooled(subject.run(name, X, adapter=true, y=y))
            b = pooled(subject.run(name, X, adapter=noise, y=rng.permutation(y)))
        except Exception as exc:
            out.append(skip(FAMILY, "label_randomisation", name, f"could not run: {exc}", "T11"))
            continue
        rho = spearman(a, b)
        out.append(judged(
            FAMILY, "label_randomisation", name, 1.0 if rho is None else float(rho), 0.5, "<",
            warn=0.9, test="T11",
            what="Spearman between the rankings of refits on true and on permuted labels",
        ))  # fmt: skip
    return out
