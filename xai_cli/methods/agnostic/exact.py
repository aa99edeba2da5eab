"""``shapley.exact``: interventional Shapley values by the formula, over every coalition.

    phi_j(x) = sum over S not containing j of |S|! (M - |S| - 1)! / M! * (v_x(S + j) - v_x(S))

with ``v_x`` the interventional value of :mod:`~xai_cli.methods.agnostic.coalition`. All ``2**M``
coalitions are evaluated once (``rows x 2**M x background`` predictions), so the values are exact
for the given background: the ground truth the sampling methods are checked against. Efficiency
(values add up to f(x) minus the mean background prediction), symmetry, dummy and additivity hold
exactly. Players may be feature groups, so a wide model still has an exact answer over groups.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import factorial
from typing import ClassVar

import numpy as np
import pandas as pd

from xai_cli.methods.agnostic.coalition import Game, coalition_matrix
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

MAX_PLAYERS = 14
"""The most players exact Shapley takes. Measured (README, benchmarks/agnostic.py): at 12 players
and 100 background rows a 32-unit MLP took 0.63 s per explained row on the shared 2-core machine,
so 14 players (1.6M predictions per row) take about 2.5 s per row, 4 minutes for 100 rows; each
further player doubles it, while KernelSHAP's standard error is below 1% of the values' range
after a few thousand coalitions."""


def shapley_weights(n_players: int) -> np.ndarray:
    """``|S|! (M - |S| - 1)! / M!`` for coalition sizes ``0..M-1``."""
    m = n_players
    return np.array([factorial(s) * factorial(m - s - 1) / factorial(m) for s in range(m)])


def shapley_from_values(v: np.ndarray, n_players: int) -> np.ndarray:
    """Shapley values (rows, players, outputs) from every coalition's value (rows, 2**M,
    outputs), coalitions indexed by bit code as :func:`coalition_matrix` orders them."""
    codes = np.arange(1 << n_players)
    sizes = np.array([bin(c).count("1") for c in codes])
    weights = shapley_weights(n_players)
    out = np.empty((v.shape[0], n_players, v.shape[2]))
    for j in range(n_players):
        without = codes[(codes >> j) & 1 == 0]
        w = weights[sizes[without]]
        diff = v[:, without | (1 << j), :] - v[:, without, :]
        out[:, j, :] = np.einsum("c,rck->rk", w, diff)
    return out


def exact_shapley(game: Game, X: pd.DataFrame) -> np.ndarray:
    """The exact interventional Shapley values of ``game`` for the rows of ``X``."""
    if game.n_players > MAX_PLAYERS:
        raise ValueError(
            f"{game.n_players} players: exact Shapley takes at most {MAX_PLAYERS} "
            "(group features with the 'groups' parameter, or use kernelshap)"
        )
    masks = coalition_matrix(game.n_players)
    return shapley_from_values(game.values(X, masks), game.n_players)


@dataclass(frozen=True)
class ExactShapley:
    """Exact interventional Shapley values over features or feature groups."""

    name: str = "shapley.exact"
    library: str = "xai-agnostic"
    needs_target: bool = False
    uses_rows: bool = True
    description: str = (
        f"exact interventional Shapley values, all 2^M coalitions (M <= {MAX_PLAYERS} features "
        "or groups), any model; global = mean |value|"
    )
    params: ClassVar[type[AgnosticParams]] = AgnosticParams
    in_auto: ClassVar[bool] = True  # when M allows and the estimate fits the time budget
    row_wise: ClassVar[bool] = False  # the background is drawn from the explained rows
    distributes: ClassVar[bool] = True  # blocks of masked rows run on Dask (--engine dask)

    def supports(self, adapter: ModelAdapter) -> Support:
        return SUPPORTED  # any model with a prediction; the number of players is checked below

    def left_out(self, ctx: ExplainContext) -> str | None:
        """Why ``auto`` leaves it out before costing it: too many players."""
        params = read_params(ctx, self.params, self.name)
        m = len(default_players(ctx.adapter, params.groups))
        if m > MAX_PLAYERS:
            return (f"{m} players: exact Shapley takes at most {MAX_PLAYERS} (give feature "
                    f"groups with --param {self.name}:groups=..., or use kernelshap)")  # fmt: skip
        return None

    def cost_model(self, ctx: ExplainContext, rows: int, timer: Timer) -> tuple[float, str]:
        params = read_params(ctx, self.params, self.name)
        m = len(default_players(ctx.adapter, params.groups))
        pool = ctx.X if ctx.background is None else ctx.background
        bg = min(params.background_rows, len(pool))
        return cost_from_predictions(ctx, rows * (2**m) * bg, timer)

    def estimate_seconds(self, ctx: ExplainContext, rows: int, timer: Timer) -> tuple[float, str]:
        return self.cost_model(ctx, rows, timer)

    def explain(self, ctx: ExplainContext) -> LocalAttribution:
        params = read_params(ctx, self.params, self.name)
        game = make_game(ctx, params)
        values = exact_shapley(game, ctx.X)
        notes = [f"exact: all {2**game.n_players} coalitions of {game.n_players} players"]
        return attribution(self.name, ctx, game, values,
                           f"mean_abs_shap:{ctx.adapter.raw_space}", notes,
                           {"coalitions": 2**game.n_players})  # fmt: skip


EXPLAINERS = (ExactShapley(),)
