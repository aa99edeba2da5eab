"""What the model-agnostic methods share: the background, the players, the cost model, results.

Every method here pays in model predictions on masked rows, so one cost model serves them all:
the number of predictions a run needs times the prediction rate measured on one block of rows
(the faster of two timings). ``auto`` runs them only when that estimate fits the run's time
budget (:mod:`xai_cli.methods.agnostic.budget`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field

from xai_cli.methods.agnostic.coalition import Game, Player, check_players, singletons
from xai_cli.methods.base import ExplainContext, Timer, numeric_view
from xai_cli.methods.params import MethodParams
from xai_cli.model.adapter import ModelAdapter
from xai_cli.results import LocalAttribution

LIBRARY = "xai-agnostic"
"""The library name these methods' provenance gives: xai's own coalition engine."""
DEFAULT_BACKGROUND = 100
"""Background rows by default: the standard error of a coalition's value from the background
sample shrinks as 1/sqrt(rows); 100 is shap's advice and keeps exact Shapley affordable."""
RATE_ROWS = 4096
"""Rows the cost model times one prediction on (rows of the data, repeated)."""


class AgnosticParams(MethodParams):
    """Parameters every coalition method takes."""

    background_rows: int = Field(
        DEFAULT_BACKGROUND,
        ge=1,
        le=100_000,
        description="Size of the seeded background sample that absent features are drawn from "
        "(interventional); cost grows linearly with it.",
    )
    groups: str | None = Field(
        None,
        description="Feature groups that play as one: columns joined by '+', groups by ',' "
        "(e.g. 'age+age_sq,city'); unlisted columns play alone.",
    )
    n_jobs: int | None = Field(
        None, ge=1, description="Threads predicting blocks of masked rows (same numbers for any "
        "count); default: all cores, or --n-jobs.",
    )  # fmt: skip


def parse_groups(text: str | None, columns: Sequence[str]) -> tuple[Player, ...]:
    """The players for ``--param M:groups=...``: each ``+``-joined group one player, every other
    column alone, in the order of the columns' first appearance."""
    if not text:
        return singletons(columns)
    groups = [tuple(c.strip() for c in g.split("+") if c.strip()) for g in text.split(",")]
    groups = [g for g in groups if g]
    grouped = {c for g in groups for c in g}
    players: list[Player] = []
    placed: set[Player] = set()
    for col in columns:
        group = next((g for g in groups if col in g), (col,) if col not in grouped else None)
        if group is not None and group not in placed:
            players.append(group)
            placed.add(group)
    players.extend(g for g in groups if g not in placed)  # unknown columns: refused below
    return check_players(players, columns)


def default_players(adapter: ModelAdapter, groups: str | None) -> tuple[Player, ...]:
    """The players of a run: the groups asked for, else one per model input column.

    This is where a model's own grouping (a pipeline's encoded columns mapped back to their raw
    column) plugs in: a player is any tuple of the adapter's input columns.
    """
    return parse_groups(groups, adapter.feature_names)


def background_sample(pool: pd.DataFrame, rows: int, seed: int) -> pd.DataFrame:
    """A seeded sample of at most ``rows`` rows, without replacement, in the data's order."""
    if len(pool) <= rows:
        return pool
    picked = np.sort(np.random.default_rng(seed).choice(len(pool), size=rows, replace=False))
    return pool.iloc[picked]


def threads(n_jobs: int | None) -> int:
    """Worker threads: the given count, else the machine's cores."""
    return n_jobs or os.cpu_count() or 1


def make_game(ctx: ExplainContext, params: AgnosticParams) -> Game:
    """The run's game: the adapter's raw prediction, its players, a seeded background."""
    pool = ctx.X if ctx.background is None else ctx.background
    adapter = ctx.adapter
    return Game(
        predict=adapter.predict_raw,
        columns=adapter.feature_names,
        players=default_players(adapter, params.groups),
        background=background_sample(pool, params.background_rows, ctx.seed),
        n_jobs=threads(params.n_jobs),
        task_map=ctx.task_map,  # --engine dask: blocks of masked rows run as Dask tasks
    )


def prediction_rate(ctx: ExplainContext, timer: Timer) -> tuple[float, int]:
    """Seconds per predicted row, timed on :data:`RATE_ROWS` rows of the data (the faster of
    two calls: the first may pay one-time costs), and the rows timed."""
    X = ctx.X.loc[:, list(ctx.adapter.feature_names)]
    repeat = int(np.ceil(RATE_ROWS / max(len(X), 1)))
    block = pd.concat([X] * repeat, ignore_index=True).iloc[:RATE_ROWS] if repeat > 1 else X
    block = block.iloc[:RATE_ROWS]
    timings = []
    for _ in range(2):
        start = timer()
        ctx.adapter.predict_raw(block)
        timings.append(timer() - start)
    return min(timings) / max(len(block), 1), len(block)


def cost_from_predictions(
    ctx: ExplainContext, predictions: int, timer: Timer, workers: int = 1
) -> tuple[float, str]:
    """(seconds, how): ``predictions`` masked rows at the measured rate, over ``workers``
    threads (at most the cores; a prediction's BLAS is already parallel, so this errs long)."""
    per_row, timed = prediction_rate(ctx, timer)
    seconds = per_row * predictions / max(1, min(workers, os.cpu_count() or 1))
    how = f"{predictions:,} predictions at {1 / max(per_row, 1e-12):,.0f}/s (timed on {timed} rows)"
    return seconds, how


def view(ctx: ExplainContext, players: Sequence[Player]) -> np.ndarray:
    """The explained rows' values per player for plots: a lone column's values (categories as
    codes), NaN for a group of several columns."""
    data = numeric_view(ctx.X.loc[:, list(ctx.adapter.feature_names)])
    where = {c: j for j, c in enumerate(ctx.adapter.feature_names)}
    out = np.full((len(ctx.X), len(players)), np.nan)
    for i, p in enumerate(players):
        if len(p) == 1:
            out[:, i] = data[:, where[p[0]]]
    return out


def attribution(
    name: str,
    ctx: ExplainContext,
    game: Game,
    values: np.ndarray,
    unit: str,
    notes: list[str],
    params: dict[str, Any],
    *,
    base: np.ndarray | None = None,
    spread: np.ndarray | None = None,
    spread_kind: str = "stderr",
    additive: bool = True,
) -> LocalAttribution:
    """A method's LocalAttribution over the game's players, with the background stated."""
    base = game.base_value() if base is None else base
    if game.task_map is not None:  # --engine dask: its masked rows were predicted as Dask tasks
        params = {**params, "predictions": "dask"}
    notes = [
        f"background: {len(game.background)} rows sampled from the data with seed {ctx.seed} "
        "(interventional: absent features take background values)",
        *notes,
    ]
    return LocalAttribution(
        method=name,
        unit=unit,
        features=game.names,
        outputs=ctx.adapter.outputs,
        values=values,
        base_values=np.tile(np.asarray(base, dtype=float).reshape(1, -1), (len(ctx.X), 1)),
        data=view(ctx, game.players),
        library=LIBRARY,
        notes=tuple(notes),
        spread=spread,
        spread_kind=spread_kind,
        additive=additive,
        params={"background_rows": len(game.background), "players": game.n_players,
                "seed": ctx.seed, **params},  # fmt: skip
    )
