"""``occlusion``: leave one feature out, replace it by background values, measure the change.

For each row and player ``j``:

    occlusion_j(x) = f(x) - mean over background rows b of f(x with player j taken from b)

the prediction's change when that one input is "removed" (the leave-one-out idea behind AtMan for
transformers, on tables). With a target, the loss's change is measured too (mean loss with the
feature replaced minus the loss on the row; log loss for classifiers, squared error for
regression), and reported per feature in the parameters. ``M`` coalitions per row.

What it assumes: one feature at a time. Interactions are invisible to it: two features that
matter only together each get the whole joint effect (an AND of two inputs), or nothing at all
when each alone is redundant (two copies of one input: removing either changes nothing). The
values do not add up to the prediction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from xai_cli.methods.agnostic.common import (
    AgnosticParams,
    attribution,
    cost_from_predictions,
    default_players,
    make_game,
)
from xai_cli.methods.base import SUPPORTED, ExplainContext, Support, Timer, read_params
from xai_cli.model.adapter import ModelAdapter
from xai_cli.results import LocalAttribution

EPS = 1e-15
"""Probabilities are clipped to [EPS, 1 - EPS] in the log loss (scikit-learn's convention)."""


def row_losses(adapter: ModelAdapter, scores: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Each row's loss: log loss of the true class's probability, or squared error.

    ``scores``: (..., classes) probabilities or (...,) / (..., 1) values; ``y``: targets
    broadcastable to the leading axes (class codes for classifiers)."""
    if adapter.is_classifier:
        picked = np.take_along_axis(scores, y[..., None].astype(int), axis=-1)[..., 0]
        return -np.log(np.clip(picked, EPS, 1 - EPS))
    values = scores.reshape(scores.shape[: y.ndim + 1])[..., 0] if scores.ndim > y.ndim else scores
    return (values - y) ** 2


@dataclass(frozen=True)
class Occlusion:
    """Leave-one-feature-out: the prediction's (and the loss's) change per row and feature."""

    name: str = "occlusion"
    library: str = "xai-agnostic"
    needs_target: bool = False
    uses_rows: bool = True
    description: str = (
        "leave one feature out (background values): change in the prediction, and in the loss "
        "with a target; ignores interactions; global = mean |change|"
    )
    params: ClassVar[type[AgnosticParams]] = AgnosticParams
    in_auto: ClassVar[bool] = True  # when the estimate fits the time budget
    row_wise: ClassVar[bool] = False  # the background is drawn from the explained rows
    distributes: ClassVar[bool] = True  # blocks of masked rows run on Dask (--engine dask)

    def supports(self, adapter: ModelAdapter) -> Support:
        return SUPPORTED  # any model the adapter can predict with

    def left_out(self, ctx: ExplainContext) -> str | None:
        return None

    def cost_model(self, ctx: ExplainContext, rows: int, timer: Timer) -> tuple[float, str]:
        params = read_params(ctx, self.params, self.name)
        m = len(default_players(ctx.adapter, params.groups))
        pool = ctx.X if ctx.background is None else ctx.background
        bg = min(params.background_rows, len(pool))
        calls = 2 if ctx.y is not None else 1  # the loss needs the scores as well
        return cost_from_predictions(ctx, calls * rows * m * bg, timer)

    def estimate_seconds(self, ctx: ExplainContext, rows: int, timer: Timer) -> tuple[float, str]:
        return self.cost_model(ctx, rows, timer)

    def explain(self, ctx: ExplainContext) -> LocalAttribution:
        params = read_params(ctx, self.params, self.name)
        game = make_game(ctx, params)
        m = game.n_players
        leave_one_out = ~np.eye(m, dtype=bool)  # coalition j: every player but j
        kept = game.values(ctx.X, leave_one_out)  # rows x players x outputs
        values = game.full_value(ctx.X)[:, None, :] - kept
        notes = ["leave-one-out: f(x) minus the mean prediction with the feature from the "
                 "background; interactions are not seen"]  # fmt: skip
        extra: dict[str, object] = {}
        if ctx.y is not None:
            extra["loss_change"] = self._loss_change(ctx, game, leave_one_out)
            extra["loss"] = "log_loss" if ctx.adapter.is_classifier else "squared_error"
            top = max(extra["loss_change"].items(), key=lambda kv: kv[1])  # type: ignore[union-attr]
            notes.append(f"with the target: mean {extra['loss']} change per feature in params "
                         f"(largest: {top[0]} {top[1]:+.4g})")  # fmt: skip
        return attribution(self.name, ctx, game, values,
                           f"mean_abs_change:{ctx.adapter.raw_space}", notes, extra,
                           additive=False)  # fmt: skip

    def _loss_change(self, ctx: ExplainContext, game, masks: np.ndarray) -> dict[str, float]:
        """Mean over rows of (mean loss with the player from the background) minus the loss on
        the row itself, per player."""
        from dataclasses import replace

        adapter, y = ctx.adapter, np.asarray(ctx.y)
        scoring = replace(game, predict=adapter.predict_scores, _base=[])

        def mean_loss(pred: np.ndarray, row: np.ndarray) -> np.ndarray:
            target = np.broadcast_to(y[row][:, None], pred.shape[:2])
            return row_losses(adapter, pred, target).mean(axis=1, keepdims=True)

        occluded = scoring.values(ctx.X, masks, reduce=mean_loss)[:, :, 0]  # rows x players
        own = row_losses(adapter, np.asarray(adapter.predict_scores(ctx.X)), y)
        change = (occluded - own[:, None]).mean(axis=0)
        return {name: float(v) for name, v in zip(game.names, change, strict=True)}


EXPLAINERS = (Occlusion(),)
