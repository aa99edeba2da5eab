"""Stability (T14): how much a method's ranking moves with the rows explained and the seed.

* **Resamples**: each method's pooled ranking on bootstrap resamples of the rows against its
  ranking on all rows (Spearman, 5th percentile; pass >= 0.9, warn >= 0.7). Per-row methods are
  resampled from their per-row values (no re-run); permutation from its own per-resample
  importances; other row-reading methods are re-run through
  :func:`xai_cli.audit.probes.stability`. Importances read from the model alone are identical on
  every resample (SKIP, said).
* **Seeds** (sampling methods only): the method re-run with another seed on the run's rows;
  the Spearman against the run's own ranking (pass >= 0.9, warn >= 0.7). Between-method
  disagreement smaller than this band is noise, not substance.
"""

from __future__ import annotations

import numpy as np

from xai_cli.audit.probes import stability as rerun_stability
from xai_cli.results import MethodOutcome
from xai_cli.validate import kinds
from xai_cli.validate.checks import Check, judged, skip
from xai_cli.validate.context import Subject, pooled, spearman

FAMILY = "stability"


def _resampled(subject: Subject, outcome: MethodOutcome) -> list[float | None] | None:
    rng = np.random.default_rng(subject.request.seed + 23)
    B = subject.options.resamples
    if outcome.local is not None:
        per_row = np.abs(outcome.local.values).sum(axis=2)
        full = per_row.mean(axis=0)
        n = len(per_row)
        return [spearman(full, per_row[rng.integers(0, n, n)].mean(axis=0)) for _ in range(B)]
    table = outcome.table
    if table is not None and table.bootstrap is not None:
        full = table.column()
        return [spearman(full, row) for row in table.bootstrap]
    return None


def resamples(subject: Subject, outcome: MethodOutcome) -> Check:
    name = outcome.method
    explainer = subject.explainers[name]
    if not explainer.uses_rows:
        return skip(
            FAMILY,
            "resample_stability",
            name,
            "reads the model only: identical on every resample of the rows",
            "T14",
        )
    rhos = _resampled(subject, outcome)
    if rhos is None:
        try:
            result = rerun_stability(
                subject.adapter, subject.X, subject.y, explainer,
                params=subject.request.params_for(explainer), resamples=subject.options.resamples,
                seed=subject.request.seed,
            )  # fmt: skip
        except Exception as exc:
            return skip(FAMILY, "resample_stability", name, f"could not re-run: {exc}", "T14")
        rhos = list(result.spearman)
    defined = [r for r in rhos if r is not None]
    if not defined:
        return skip(FAMILY, "resample_stability", name, "constant ranking: undefined", "T14")
    p05 = float(np.quantile(defined, 0.05))
    return judged(
        FAMILY,
        "resample_stability",
        name,
        p05,
        0.9,
        ">=",
        warn=0.7,
        test="T14",
        what=f"5th percentile Spearman over {len(rhos)} bootstrap resamples",
    )


def seeds(subject: Subject, outcome: MethodOutcome) -> Check:
    """The run's own ranking against a re-run with another seed on the same rows."""
    name = outcome.method
    if not kinds.sampled(name):
        return skip(FAMILY, "seed_stability", name, "deterministic: no seed", "T14")
    table = outcome.table
    try:
        if table is not None and not table.params.get("streamed"):
            rows, y, base = subject.prepared.X, subject.prepared.encoded, pooled(table)
        else:
            rows, y = subject.X, subject.y
            base = pooled(subject.run(name, rows, y=y))
        other = pooled(subject.run(name, rows, y=y, seed=subject.request.seed + 101))
    except Exception as exc:
        return skip(FAMILY, "seed_stability", name, f"could not re-run: {exc}", "T14")
    rho = spearman(base, other)
    if rho is None:
        return skip(FAMILY, "seed_stability", name, "constant ranking: undefined", "T14")
    return judged(FAMILY, "seed_stability", name, rho, 0.9, ">=", warn=0.7, test="T14",
                  what=f"Spearman between the run's ranking and a re-run with another seed on "
                  f"the same {len(rows)} rows")  # fmt: skip
