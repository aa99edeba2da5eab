"""The typed report section "How far to trust each approximation".

Kept apart from :mod:`xai_cli.report` (one field, ``trust``, at the end of
:class:`~xai_cli.report.Report`). The model-agnostic methods each carry their own measure of how
far their answer can be from the quantity they approximate, and until now it sat only in their
notes and params; here each becomes one typed check per method:

* ``shapley.exact`` (and ``kernelshap`` when its budget covers every coalition): exact over all
  ``2**M`` coalitions; the players and the background size are stated, because the background
  sample is then the only source of error.
* ``kernelshap``: the jackknife standard error of its values, largest and mean.
* ``lime``: the top-k agreement (mean Jaccard) of its explanations across 5 seeds.
* ``integrated_gradients``: the completeness error against the output range, and the spread of
  its values over its three baselines (zeros, mean, background).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from xai_cli.results import ExplainResult, MethodOutcome


class _Entry(BaseModel):
    """Frozen, strict about unknown keys."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


class TrustCheck(_Entry):
    """One measure of one method's approximation."""

    method: str
    check: str
    """What is measured, e.g. ``standard error (largest)`` or ``top-5 agreement across 5 seeds``."""
    value: float | None
    """The measure (``null`` where undefined or not finite)."""
    reference: float | None = None
    """What the value is judged against (e.g. the output range for a completeness error)."""
    meaning: str
    """How to read the value: which direction is good, and what it depends on."""


class TrustSection(_Entry):
    """Every approximation check of the run, in method order."""

    checks: tuple[TrustCheck, ...]


def _num(value: Any, digits: int = 6) -> float | None:
    """A finite float rounded to ``digits`` significant digits, else ``None``."""
    if value is None:
        return None
    value = float(value)
    if not math.isfinite(value):
        return None
    return float(f"{value:.{digits}g}")


def _exact(o: MethodOutcome, params: dict[str, Any]) -> list[TrustCheck]:
    players, bg = params.get("players"), params.get("background_rows")
    return [TrustCheck(
        method=o.method, check="players (exact over all coalitions)", value=_num(players),
        reference=_num(bg),
        meaning=f"exact Shapley over all 2^{players} coalitions: no sampling error; the only "
        f"error is the {bg}-row background sample (reference = background rows)",
    )]  # fmt: skip


def _kernel(o: MethodOutcome, params: dict[str, Any]) -> list[TrustCheck]:
    if params.get("exact"):
        return _exact(o, params)
    spread = o.local.spread if o.local is not None else None
    mean_se = None if spread is None else _num(np.nanmean(spread))
    scale = None if o.local is None else _num(np.abs(o.local.values).max())
    used = params.get("coalitions")
    meaning = (f"jackknife standard error of each value ({used} paired coalitions per row); "
               "small against the largest |value| (reference) means the ranking is settled")
    return [
        TrustCheck(method=o.method, check="standard error (largest)",
                   value=_num(params.get("max_stderr")), reference=scale, meaning=meaning),
        TrustCheck(method=o.method, check="standard error (mean)", value=mean_se,
                   reference=scale, meaning=meaning),
    ]  # fmt: skip


def _lime(o: MethodOutcome, params: dict[str, Any]) -> list[TrustCheck]:
    k, seeds = params.get("stability_top_k"), params.get("stability_seeds")
    return [TrustCheck(
        method=o.method, check=f"top-{k} agreement across {seeds} seeds",
        value=_num(params.get("stability_topk_jaccard")), reference=1.0,
        meaning="mean Jaccard overlap of each row's top features between seeds: 1 = every "
        "seed picks the same features; well below 1 = the ranking is sampling noise",
    )]  # fmt: skip


def _ig(o: MethodOutcome, params: dict[str, Any]) -> list[TrustCheck]:
    out = [TrustCheck(
        method=o.method, check=f"completeness error ({params.get('baseline')} baseline)",
        value=_num(params.get("completeness_error")), reference=_num(params.get("output_range")),
        meaning=f"|sum of attributions - (F(x) - F(baseline))| with {params.get('steps')} "
        "steps, against the output range (reference): near 0 = the path integral converged",
    )]  # fmt: skip
    spread = o.local.spread if o.local is not None else None
    if spread is not None:
        scale = _num(np.abs(o.local.values).mean()) if o.local is not None else None
        rho = params.get("baseline_spearman") or {}
        shown = ", ".join(f"{k} {'n/a' if v is None else format(v, '.2f')}" for k, v in rho.items())
        out.append(TrustCheck(
            method=o.method, check="spread over 3 baselines (mean std)",
            value=_num(np.nanmean(spread)), reference=scale,
            meaning="std of each value over the zeros, mean and background baselines, against "
            f"the mean |value| (reference): large = the answer is the baseline's; Spearman "
            f"between baselines: {shown}",
        ))  # fmt: skip
    return out


_CHECKS = {"shapley.exact": _exact, "kernelshap": _kernel, "lime": _lime,
           "integrated_gradients": _ig}  # fmt: skip


def trust_section(result: ExplainResult) -> TrustSection | None:
    """The run's approximation checks, or ``None`` when no method here with one ran."""
    checks: list[TrustCheck] = []
    for o in result.outcomes:
        make = _CHECKS.get(o.method)
        if o.status != "ok" or make is None or (o.local is None and o.table is None):
            continue
        params = dict(o.local.params if o.local is not None else o.table.params)  # type: ignore[union-attr]
        checks.extend(make(o, params))
    return TrustSection(checks=tuple(checks)) if checks else None
