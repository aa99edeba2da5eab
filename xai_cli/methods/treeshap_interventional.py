"""Interventional (background) TreeSHAP: ``treeshap.interventional``.

Path-dependent TreeSHAP conditions on the training covers; interventional SHAP instead replaces
absent features with values from a background sample, so its values answer "what changes if this
feature takes the row's value instead of a typical one" (Janzing et al. 2020; Lundberg et al.
2020). The background is a seeded sample of the data being explained (``background_rows``, default
1,000), drawn once so a run is reproducible.

Raw output (the default, ``output="raw"``) runs one of xai's two exact engines, chosen per model
by a cost model (:mod:`xai_cli.methods.tables.interventional_engines`): per-leaf pattern tables
(:func:`xai_cli.methods.tables.tableshap.interventional`, fastest for shallow trees) or the
pairwise walk (:mod:`xai_cli.methods.tables.pairwise`, any depth, so deep trees no longer fall
back); the notes name the engine and why. Only a model xai cannot parse (or whose parse does not
reproduce its predictions) falls back to shap's interventional ``TreeExplainer``, with the reason
in the provenance; ``engine="shap"`` asks for shap's. ``output="probability"`` explains class
probabilities of a classifier; a probability is not a sum over trees, so this runs shap's
interventional ``TreeExplainer`` with ``model_output="probability"`` (exact, but slow: it walks
every row with every background row). Base values are the mean model output over the background,
so the values add up to the model output in the same space.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np
import pandas as pd
from pydantic import Field

from xai_cli.errors import MethodError
from xai_cli.methods.base import (
    SUPPORTED,
    ExplainContext,
    Support,
    Timer,
    numeric_view,
    read_params,
    unsupported,
)
from xai_cli.methods.params import MethodParams
from xai_cli.methods.tables import interventional_engines as engines
from xai_cli.methods.tables import pairwise, tableshap
from xai_cli.methods.treeshap import FAST_LIBRARY, N_JOBS_DESCRIPTION, TreeShap, shap_cannot
from xai_cli.model.adapter import ModelAdapter
from xai_cli.model.forest import UnsupportedForest
from xai_cli.results import LocalAttribution


class InterventionalParams(MethodParams):
    """Parameters of ``treeshap.interventional``."""

    background_rows: int = Field(
        1000,
        ge=1,
        description="Size of the seeded background sample drawn from the data (cost grows "
        "with rows x background rows).",
    )
    output: Literal["raw", "probability"] = Field(
        "raw",
        description="raw: the model's raw output (margin); probability: class probabilities "
        "of a classifier (exact, but slow: shap's TreeExplainer).",
    )
    engine: Literal["auto", "tables", "pairwise", "shap"] = Field(
        "auto",
        description="auto: xai's exact kernels (per-leaf tables, or for deep trees the pairwise "
        "walk, chosen by a cost model), shap's TreeExplainer only where xai cannot parse the "
        "model; tables / pairwise: that kernel; shap: always shap's (raw output).",
    )
    n_jobs: int | None = Field(None, ge=1, description=N_JOBS_DESCRIPTION)


def background_sample(X: pd.DataFrame, rows: int, seed: int) -> pd.DataFrame:
    """A seeded sample of at most ``rows`` rows, without replacement, in the data's order."""
    if rows < 1:
        raise ValueError(f"background_rows must be at least 1, got {rows}")
    if len(X) <= rows:
        return X
    picked = np.sort(np.random.default_rng(seed).choice(len(X), size=rows, replace=False))
    return X.iloc[picked]


def _fast_raw(
    ctx: ExplainContext,
    background: pd.DataFrame,
    settings: tuple[int, int],
    n_jobs: int | None,
    engine: str = "auto",
) -> tuple[np.ndarray, str]:
    """xai's kernels and the engine note; the parse, its check and the tables are built once
    per run. Raises :class:`UnsupportedForest` where the requested engine cannot run."""
    compiled, _ = tableshap.checked_model(ctx)  # raises when the parse does not reproduce it
    matrix = tableshap.encode(compiled, ctx.X)
    bg = tableshap.encode(compiled, background)
    try:
        walk: pairwise.PairwiseModel | None = ctx.cache.get(
            "pairwise.compile", (ctx.adapter,), lambda: pairwise.compile_forest(compiled.forest)
        )
    except UnsupportedForest:
        if engine == engines.PAIRWISE:
            raise
        walk = None
    with tableshap.threads(n_jobs):
        run = len(tableshap.run_rows(ctx))
        choice = engines.choose(compiled, walk, matrix, bg, engine, rows=run)
        if choice.engine == engines.PAIRWISE:
            assert walk is not None
            return pairwise.explain(walk, matrix, bg), engines.describe(choice)
        table = tableshap.run_interventional_table(ctx, compiled, background, settings)
        return tableshap.evaluate(compiled, matrix, table), engines.describe(choice)


def _shap(
    adapter: ModelAdapter, X: pd.DataFrame, background: pd.DataFrame, output: str
) -> np.ndarray:
    """shap's interventional TreeExplainer, brought to (rows x features x outputs)."""
    import shap

    if adapter.family == "sklearn_tree" and shap_cannot(adapter):
        raise UnsupportedForest(str(shap_cannot(adapter)))
    frame_bg, frame_x = adapter.typed_frame(background), adapter.typed_frame(X)
    if adapter.family in ("sklearn_tree", "sklearn") and not adapter.feature_names_known:
        frame_bg, frame_x = frame_bg.to_numpy(float), frame_x.to_numpy(float)
    explainer = shap.TreeExplainer(
        adapter.model,
        data=frame_bg,
        feature_perturbation="interventional",
        model_output="probability" if output == "probability" else "raw",
    )
    values = np.asarray(explainer.shap_values(frame_x, check_additivity=False), dtype=float)
    if values.ndim == 2:
        values = values[:, :, None]
    if adapter.task == "binary" and values.shape[2] == 2:  # both classes: keep the positive one
        values = values[:, :, 1:2]
    return values


def _output_space(adapter: ModelAdapter, output: str) -> str:
    return "probability" if output == "probability" else adapter.raw_space


def _model_output(adapter: ModelAdapter, X: pd.DataFrame, output: str) -> np.ndarray:
    if output == "probability" and adapter.raw_space != "probability":
        scores = adapter.predict_scores(X)
        return scores[:, 1:2] if adapter.task == "binary" else scores
    return adapter.predict_raw(X)


@dataclass(frozen=True)
class InterventionalTreeShap:
    """Exact interventional TreeSHAP against a seeded background sample; global = mean |SHAP|."""

    name: str = "treeshap.interventional"
    library: str = "native"
    needs_target: bool = False
    uses_rows: bool = True
    description: str = (
        "interventional TreeSHAP vs a seeded background sample (opt-in: name it with -m), "
        "global = mean |SHAP|"
    )
    params: ClassVar[type[InterventionalParams]] = InterventionalParams
    in_auto: ClassVar[bool] = False  # needs a background choice and costs more: run when named
    row_wise: ClassVar[bool] = False  # the background is drawn from the explained rows
    distributes: ClassVar[bool] = False

    def cost_model(self, ctx: ExplainContext, rows: int, timer: Timer) -> None:
        """No a-priori cost model yet: the estimate pilots it (on the run's cached tables)."""
        return None

    def estimate_seconds(self, ctx: ExplainContext, rows: int, timer: Timer) -> None:
        """No cost model: its time grows with rows, so timed pilots on rows estimate it."""
        return None

    def supports(self, adapter: ModelAdapter) -> Support:
        base = TreeShap().supports(adapter)
        if not base.ok:
            return base
        if adapter.family == "catboost" and adapter.categorical_features:
            return unsupported("CatBoost categorical splits: no interventional TreeSHAP for them")
        return SUPPORTED

    def explain(self, ctx: ExplainContext) -> LocalAttribution:
        a = ctx.adapter
        params = read_params(ctx, self.params, self.name)
        output = params.output
        if output == "probability" and not a.is_classifier:
            raise ValueError("output='probability' needs a classifier")
        pool = ctx.X if ctx.background is None else ctx.background
        background = background_sample(pool, params.background_rows, ctx.seed)
        notes = [f"background: {len(background)} rows sampled from the data with seed {ctx.seed}"]
        library = "shap"
        if output == "probability" and a.raw_space != "probability":
            values = _shap(a, ctx.X, background, output)
            notes.append("probability space: computed by shap's interventional TreeExplainer")
        elif params.engine == "shap":
            values = _shap(a, ctx.X, background, "raw")
            notes.append("engine=shap: computed by shap's interventional TreeExplainer")
        else:
            try:
                settings = (params.background_rows, ctx.seed)
                values, engine = _fast_raw(ctx, background, settings, params.n_jobs,
                                           params.engine)
                library = FAST_LIBRARY
                notes += ["computed by xai's own exact interventional TreeSHAP (numba)", engine]
            except UnsupportedForest as exc:
                if params.engine != "auto":  # an engine asked for by name never falls back
                    raise MethodError(
                        f"treeshap.interventional engine={params.engine} cannot explain this "
                        "model", cause=str(exc), hint="use engine=auto to let xai choose",
                    ) from exc
                if a.family == "sklearn_tree" and shap_cannot(a):
                    raise UnsupportedForest(f"{exc}; and {shap_cannot(a)}") from exc
                values = _shap(a, ctx.X, background, "raw")
                notes.append(f"fast path not used: {exc}; computed by shap's TreeExplainer")
        base = _model_output(a, background, output).mean(axis=0)
        return LocalAttribution(
            method=self.name,
            unit=f"mean_abs_shap:{_output_space(a, output)}",
            features=a.feature_names,
            outputs=a.outputs,
            values=values,
            base_values=np.tile(base, (len(ctx.X), 1)),
            data=numeric_view(ctx.X),
            library=library,
            notes=tuple(notes),
        )


EXPLAINERS = (InterventionalTreeShap(),)
