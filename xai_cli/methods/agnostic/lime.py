"""``lime``: LIME for tables (Ribeiro et al. 2016) on scikit-learn's Ridge, with its stability.

As the ``lime`` package's tabular explainer does: perturbed samples are drawn feature by feature
from the data (here: each column from the background's values independently, so categories and
strings stay valid), each is turned into a binary vector ("this feature falls in the explained
row's quartile bin" for numbers, "equals the row's value" for the rest), weighted by the
exponential kernel ``exp(-d^2 / width^2)`` on the distance ``d`` from the row's own vector (all
ones), and a weighted ridge regression (``alpha=1``) of the model's raw output on the binary
vectors is fit per row: scikit-learn ``Ridge``'s closed form, batched over rows
(:func:`weighted_ridge`, tested equal to ``Ridge``). The coefficients are the values: how much
the prediction moves when the feature is in the row's bin rather than elsewhere.

The samples do not depend on the explained row (only its binary vector does), so one seeded set
of samples is predicted once and reused for every row: the cost is ``n_samples`` predictions per
seed, not per row. Stability (Alvarez-Melis & Jaakkola 2018; Visani et al. 2022): the method is
run with 5 seeds (``seed`` .. ``seed + 4``) and each row's top-k features (by |value|) compared
across every pair of seeds; the mean Jaccard agreement is reported (1: the same top-k every
time).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import ClassVar, Literal

import numpy as np
import pandas as pd
from pydantic import Field

from xai_cli.methods.agnostic.coalition import Game
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

STABILITY_SEEDS = 5
"""Seeds LIME is rerun with to measure its stability."""


class LimeParams(AgnosticParams):
    """Parameters of ``lime``."""

    background_rows: int = Field(
        1000, ge=1, le=100_000,
        description="Rows whose values the perturbed samples are drawn from (and the quartiles "
        "computed on).",
    )  # fmt: skip
    n_samples: int = Field(
        1000, ge=10, le=1_000_000,
        description="Perturbed samples per seed (lime's default: 5000); shared by all rows.",
    )  # fmt: skip
    kernel_width: float | None = Field(
        None, gt=0,
        description="Width of the exponential kernel on the binary distance; unset: "
        "0.75 * sqrt(features), as lime.",
    )  # fmt: skip
    discretize: Literal["quartile", "none"] = Field(
        "quartile",
        description="quartile: numeric features as 'in the row's quartile bin' (lime's "
        "default); none: standardised values, value = coefficient x standardised value.",
    )
    alpha: float = Field(1.0, ge=0.0, description="Ridge regularisation (lime's default 1).")
    top_k: int = Field(5, ge=1, description="Features compared across seeds for stability.")


def _codes(game: Game, frame: pd.DataFrame, discretize: str) -> tuple[np.ndarray, bool]:
    """Per player, what each row's value is compared by: its quartile bin, its standardised
    value, or its category code; and whether the codes are continuous (discretize='none')."""
    bg = game.background
    out = np.empty((len(frame), game.n_players))
    continuous = False
    for j, player in enumerate(game.players):
        col = player[0]  # a group is represented by its first column's bin
        values, ref = frame[col], bg[col]
        if pd.api.types.is_numeric_dtype(ref) and not pd.api.types.is_bool_dtype(ref):
            if discretize == "quartile":
                edges = np.unique(np.nanquantile(ref.to_numpy(float), [0.25, 0.5, 0.75]))
                out[:, j] = np.searchsorted(edges, values.to_numpy(float), side="left")
            else:
                sd = float(np.nanstd(ref.to_numpy(float))) or 1.0
                out[:, j] = (values.to_numpy(float) - float(np.nanmean(ref))) / sd
                continuous = True
        else:
            cats = pd.Index(pd.unique(pd.concat([ref, values]).astype(str)))
            out[:, j] = cats.get_indexer(values.astype(str))
    return out, continuous


def draw_samples(game: Game, n: int, seed: int) -> pd.DataFrame:
    """``n`` samples, each column drawn independently from the background's values."""
    rng = np.random.default_rng(seed)
    bg = game.background
    picks = rng.integers(0, len(bg), size=(n, len(game.columns)))
    return pd.DataFrame({c: bg[c].to_numpy()[picks[:, i]] if not isinstance(
        bg[c].dtype, pd.CategoricalDtype) else bg[c].array.take(picks[:, i])
        for i, c in enumerate(game.columns)})  # fmt: skip


def weighted_ridge(
    Z: np.ndarray, y: np.ndarray, w: np.ndarray, alpha: float
) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn ``Ridge(alpha).fit(Z[r], y, sample_weight=w[r])`` for every row ``r`` at
    once: coefficients (rows, features, outputs) and intercepts (rows, outputs).

    The same closed form Ridge solves (weighted centring, then ``(Zc' W Zc + alpha I) b = Zc' W
    yc``), batched over rows; ``tests/test_agnostic_lime.py`` checks it against Ridge itself.
    ``Z``: (rows, samples, features); ``y``: (rows, samples, outputs); ``w``: (rows, samples).
    """
    wn = w / w.sum(axis=1, keepdims=True)
    z_mean = np.einsum("rs,rsf->rf", wn, Z)
    y_mean = np.einsum("rs,rsk->rk", wn, y)
    Zc, yc = Z - z_mean[:, None, :], y - y_mean[:, None, :]
    Zw = Zc * w[:, :, None]
    gram = np.matmul(Zw.transpose(0, 2, 1), Zc) + alpha * np.eye(Z.shape[2])[None]
    coef = np.linalg.solve(gram, np.matmul(Zw.transpose(0, 2, 1), yc))
    return coef, y_mean - np.einsum("rf,rfk->rk", z_mean, coef)


ROWS_PER_SOLVE = 64
"""Rows whose regressions are solved together (their design matrices held at once)."""


def lime_values(
    game: Game, X: pd.DataFrame, params: LimeParams, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """LIME coefficients (rows, players, outputs) and intercepts (rows, outputs) for one seed."""
    samples = draw_samples(game, params.n_samples, seed)
    y = game.predict_rows(samples)
    fx = game.full_value(X)
    s_codes, continuous = _codes(game, samples, params.discretize)
    x_codes, _ = _codes(game, X.loc[:, list(game.columns)], params.discretize)
    m = game.n_players
    width = params.kernel_width or 0.75 * np.sqrt(m)
    values = np.empty((len(X), m, y.shape[1]))
    intercepts = np.empty((len(X), y.shape[1]))
    for lo in range(0, len(X), ROWS_PER_SOLVE):
        rows = x_codes[lo : lo + ROWS_PER_SOLVE]
        own = rows if continuous else np.ones_like(rows)  # each row's own representation
        z = (np.broadcast_to(s_codes, (len(rows), *s_codes.shape)) if continuous
             else (s_codes[None, :, :] == rows[:, None, :]).astype(float))  # fmt: skip
        Z = np.concatenate([own[:, None, :], z], axis=1)  # the row itself first, as in lime
        target = np.concatenate(
            [fx[lo : lo + ROWS_PER_SOLVE, None, :], np.broadcast_to(y, (len(rows), *y.shape))],
            axis=1,
        )
        d2 = ((Z - own[:, None, :]) ** 2).sum(axis=2)
        coef, intercept = weighted_ridge(Z, target, np.exp(-d2 / width**2), params.alpha)
        values[lo : lo + ROWS_PER_SOLVE] = coef * own[:, :, None] if continuous else coef
        intercepts[lo : lo + ROWS_PER_SOLVE] = intercept
    return values, intercepts


def topk_agreement(runs: list[np.ndarray], k: int) -> float:
    """Mean Jaccard overlap of each row's top-k players (by |value| summed over outputs) over
    every pair of runs: 1 when every seed picks the same top k."""
    k = min(k, runs[0].shape[1])
    tops = [np.argsort(-np.abs(r).sum(axis=2), axis=1, kind="stable")[:, :k] for r in runs]
    scores = []
    for a, b in combinations(tops, 2):
        for ra, rb in zip(a, b, strict=True):
            sa, sb = set(ra.tolist()), set(rb.tolist())
            scores.append(len(sa & sb) / len(sa | sb))
    return float(np.mean(scores)) if scores else 1.0


@dataclass(frozen=True)
class Lime:
    """LIME for tabular data on Ridge, seeded, with its top-k stability over 5 seeds."""

    name: str = "lime"
    library: str = "xai-agnostic"
    needs_target: bool = False
    uses_rows: bool = True
    description: str = (
        "LIME for tables (quartile bins, exponential kernel, Ridge), seeded, with top-k "
        "stability over 5 seeds; global = mean |coefficient|"
    )
    params: ClassVar[type[LimeParams]] = LimeParams
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
        seconds, how = cost_from_predictions(ctx, STABILITY_SEEDS * params.n_samples, timer)
        ridge = 2e-9 * STABILITY_SEEDS * rows * params.n_samples * (m + 2) ** 2
        return seconds + ridge, f"{how}, plus {STABILITY_SEEDS * rows} ridge fits"

    def estimate_seconds(self, ctx: ExplainContext, rows: int, timer: Timer) -> tuple[float, str]:
        return self.cost_model(ctx, rows, timer)

    def explain(self, ctx: ExplainContext) -> LocalAttribution:
        params = read_params(ctx, self.params, self.name)
        game = make_game(ctx, params)
        runs = [lime_values(game, ctx.X, params, ctx.seed + i)[0] for i in range(STABILITY_SEEDS)]
        stability = topk_agreement(runs, params.top_k)
        width = params.kernel_width or 0.75 * np.sqrt(game.n_players)
        notes = [
            f"{params.n_samples} samples per seed shared by all rows, kernel width {width:.3g}, "
            f"discretize={params.discretize}, Ridge alpha={params.alpha}",
            f"stability: top-{min(params.top_k, game.n_players)} agreement across "
            f"{STABILITY_SEEDS} seeds (mean Jaccard) = {stability:.3f}",
        ]
        extra = {"n_samples": params.n_samples, "kernel_width": float(width),
                 "discretize": params.discretize, "stability_topk_jaccard": stability,
                 "stability_seeds": STABILITY_SEEDS,
                 "stability_top_k": min(params.top_k, game.n_players)}  # fmt: skip
        return attribution(self.name, ctx, game, runs[0],
                           f"mean_abs_lime:{ctx.adapter.raw_space}", notes, extra,
                           additive=False)  # fmt: skip


EXPLAINERS = (Lime(),)
