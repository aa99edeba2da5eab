"""Which model-agnostic methods ``auto`` can afford, and why the others were left out.

These methods pay in model predictions, so ``auto`` runs one only when its cost model (the
predictions it needs times the prediction rate measured on one block of rows) fits
:data:`AUTO_BUDGET` (or the run's ``--time-limit`` when shorter), and when it applies at all (exact
Shapley: at most 14 players). Each left-out method is recorded with the reason, as ``choose()``
records methods that do not apply. KernelSHAP is left out when exact Shapley runs and
KernelSHAP's budget covers every coalition (it would compute the same values). Tree models are
left to TreeSHAP (exact and far cheaper): on them these methods run only when named, and are not
listed. A method the user names is not gated here: the estimate and the time limit decide for
it, as for every method.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from xai_cli.methods.base import ExplainContext, Explainer
from xai_cli.results import MethodOutcome


def _exact_covers(kept: list[tuple[Explainer, str]], ctx: ExplainContext) -> bool:
    """Whether ``shapley.exact`` is already kept and KernelSHAP's budget covers every coalition
    (then KernelSHAP computes exactly the same values)."""
    from xai_cli.methods.agnostic.common import default_players
    from xai_cli.methods.agnostic.kernel import KernelShapParams

    if not any(e.name == "shapley.exact" for e, _ in kept):
        return False
    params = ctx.params if isinstance(ctx.params, KernelShapParams) else KernelShapParams()
    m = len(default_players(ctx.adapter, params.groups))
    return 2**m - 2 <= params.max_coalitions


NAMES = frozenset({"shapley.exact", "kernelshap", "occlusion", "lime", "integrated_gradients"})
"""The methods gated by cost when ``auto`` chose them."""
AUTO_BUDGET = 60.0
"""The most seconds ``auto`` lets one of these methods take (less when the time limit is less):
they are extra views next to the methods every model gets, so a slow model (k-nearest
neighbours, a large ensemble) or many rows leaves them out, with the estimate as the reason,
rather than making a default run take many minutes. Named with ``--methods``, only the time
limit applies."""


def affordable(
    chosen: list[tuple[Explainer, str]],
    context: Callable[[Explainer], ExplainContext],
    limit: float | None,
) -> tuple[list[tuple[Explainer, str]], list[MethodOutcome]]:
    """``chosen`` less the agnostic methods ``auto`` cannot afford, and those as skipped."""
    budget = AUTO_BUDGET if limit is None else min(limit, AUTO_BUDGET)
    keep: list[tuple[Explainer, str]] = []
    skipped: list[MethodOutcome] = []
    for explainer, chosen_by in chosen:
        if chosen_by != "auto" or explainer.name not in NAMES:
            keep.append((explainer, chosen_by))
            continue
        ctx = context(explainer)
        if ctx.adapter.family != "sklearn":
            continue  # tree models: TreeSHAP explains them exactly; these run when named
        reason = explainer.left_out(ctx)  # type: ignore[attr-defined]
        if reason is None and explainer.name == "kernelshap" and _exact_covers(keep, ctx):
            reason = ("exact Shapley values are computed (shapley.exact): its budget covers every "
                      "coalition, so KernelSHAP would repeat them")  # fmt: skip
        if reason is None:
            try:
                seconds, how = explainer.cost_model(ctx, len(ctx.X), time.perf_counter)  # type: ignore[misc]
            except Exception as exc:  # a cost model that cannot tell: leave it to the estimate
                seconds, how = 0.0, f"no cost estimate ({exc})"
            if seconds > budget:
                reason = (
                    f"estimated {seconds:.0f} s ({how}), over auto's budget of {budget:.0f} s "
                    "for this method: name it with --methods to run it (the time limit applies)"
                )
        if reason is None:
            keep.append((explainer, chosen_by))
        else:
            skipped.append(MethodOutcome(explainer.name, "skipped", reason))
    return keep, skipped
