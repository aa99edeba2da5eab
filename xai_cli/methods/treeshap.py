"""Exact path-dependent TreeSHAP: xai's own kernels first, each library's own as fallback.

The fast path (``engine="auto"``, the default) is
:mod:`xai_cli.methods.tables.tableshap`: the model's
trees are parsed, checked to reproduce the library's own raw predictions, compiled for the engine
a cost model picks (per-leaf tables for shallow trees, Gauss-Legendre quadrature for deep ones,
whose cost is linear in depth) and evaluated in parallel over row blocks (``n_jobs`` threads;
identical numbers for any count); the notes name the engine and why. CatBoost's symmetric
trees get their own engine (:mod:`xai_cli.methods.tables.oblivious`: one leaf index and one
precomputed table row per tree) under ``engine="auto"``. Where it cannot run (a model
it does not parse, a parse that does not reproduce the model) the library's own implementation
runs instead and the reason goes into the provenance notes. ``engine="native"`` always uses the
library's own:

XGBoost ``predict(pred_contribs=True)``, LightGBM ``predict(pred_contrib=True)``, CatBoost
``get_feature_importance(type="ShapValues")``, and shap's ``TreeExplainer`` for scikit-learn trees.
Every layout is brought to (rows x features x outputs) with the bias split off; values are in the
model's raw space (log-odds for binary boosters, probability for scikit-learn classifiers), and the
unit says so. The engine checks additivity against an independent raw prediction.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np
from pydantic import Field

from xai_cli.errors import MethodError
from xai_cli.methods.base import (
    SUPPORTED,
    ExplainContext,
    Support,
    numeric_view,
    read_params,
    unsupported,
)
from xai_cli.methods.native_catboost import catboost_scale
from xai_cli.methods.params import MethodParams
from xai_cli.methods.tables import tableshap
from xai_cli.model.adapter import ModelAdapter
from xai_cli.model.forest import UnsupportedForest
from xai_cli.results import LocalAttribution

N_JOBS_DESCRIPTION = "Threads for the table kernels (identical numbers for any count); default: " \
    "all cores, or --n-jobs."


class TreeShapParams(MethodParams):
    """Parameters of ``treeshap``."""

    engine: Literal["auto", "tables", "quadrature", "native"] = Field(
        "auto",
        description="auto: xai's kernels (per-leaf tables or, for deep trees, quadrature, chosen "
        "by a cost model), the library's own TreeSHAP as fallback; tables / quadrature: that "
        "kernel; native: always the library's own.",
    )
    n_jobs: int | None = Field(None, ge=1, description=N_JOBS_DESCRIPTION)


FAST_LIBRARY = "numba"
"""What the provenance names as the library when xai's own kernels computed the values."""


def _split_bias(
    contribs: np.ndarray, n_rows: int, n_features: int
) -> tuple[np.ndarray, np.ndarray]:
    """(rows, [outputs,] features+1) with the bias last -> values (r, f, k), base (r, k)."""
    arr = np.asarray(contribs, dtype=float).reshape(n_rows, -1, n_features + 1)
    values = np.transpose(arr[:, :, :n_features], (0, 2, 1))
    return values, arr[:, :, n_features]


def _xgboost(ctx: ExplainContext) -> tuple[np.ndarray, np.ndarray]:
    a = ctx.adapter
    out = a.native.predict(
        a.prepare(ctx.X), pred_contribs=True, iteration_range=(0, a.n_iterations or 0)
    )
    return _split_bias(out, len(ctx.X), len(a.feature_names))


def _lightgbm(ctx: ExplainContext) -> tuple[np.ndarray, np.ndarray]:
    a = ctx.adapter
    out = a.native.predict(a.prepare(ctx.X), pred_contrib=True, num_iteration=a.n_iterations)
    if isinstance(out, list):  # sparse input gives one matrix per class
        out = np.hstack([np.asarray(m.todense()) for m in out])
    return _split_bias(out, len(ctx.X), len(a.feature_names))


def _catboost(ctx: ExplainContext) -> tuple[np.ndarray, np.ndarray]:
    a = ctx.adapter
    out = a.native.get_feature_importance(data=a.prepare(ctx.X), type="ShapValues")
    return _split_bias(out, len(ctx.X), len(a.feature_names))


def shap_cannot(adapter: ModelAdapter) -> str | None:
    """Why shap's TreeExplainer (the fallback for scikit-learn trees) cannot explain the model
    exactly, or ``None`` when it can."""
    if adapter.model_class == "GradientBoostingClassifier" and adapter.task == "multiclass":
        return "shap's TreeExplainer does not support multiclass GradientBoostingClassifier"
    if adapter.model_class.startswith("HistGradientBoosting") and adapter.categorical_features:
        return (
            "shap's TreeExplainer ignores HistGradientBoosting's categorical splits and the "
            "column order of its categorical preprocessor"
        )
    return None


def _sklearn(ctx: ExplainContext) -> tuple[np.ndarray, np.ndarray]:
    import shap

    a = ctx.adapter
    reason = shap_cannot(a)
    if reason:
        raise UnsupportedForest(reason)
    explainer = shap.TreeExplainer(a.native)
    values = np.asarray(explainer.shap_values(a.prepare(ctx.X), check_additivity=False))
    base = np.atleast_1d(np.asarray(explainer.expected_value, dtype=float))
    if values.ndim == 2:
        values = values[:, :, None]
    if a.task == "binary" and values.shape[2] == 2:  # forests explain both class probabilities
        values, base = values[:, :, 1:2], base[1:2]
    return values, np.tile(base, (len(ctx.X), 1))


COMPUTE = {
    "xgboost": _xgboost,
    "lightgbm": _lightgbm,
    "catboost": _catboost,
    "sklearn_tree": _sklearn,
}
MODEL_LIBRARY = {
    "xgboost": "xgboost",
    "lightgbm": "lightgbm",
    "catboost": "catboost",
    "sklearn_tree": "scikit-learn",
}
"""Whose predictions the parsed trees are checked against."""
LIBRARY = {
    "xgboost": "xgboost",
    "lightgbm": "lightgbm",
    "catboost": "catboost",
    "sklearn_tree": "shap",
}


@dataclass(frozen=True)
class TreeShap:
    """Exact path-dependent TreeSHAP, global value = mean |SHAP| per output."""

    name: str = "treeshap"
    library: str = "native"
    needs_target: bool = False
    uses_rows: bool = True
    description: str = (
        "exact path-dependent TreeSHAP (xai table kernels; library's own as fallback), "
        "global = mean |SHAP|"
    )
    params: ClassVar[type[TreeShapParams]] = TreeShapParams
    in_auto: ClassVar[bool] = True
    row_wise: ClassVar[bool] = True  # each row's values depend only on that row: streamable
    distributes: ClassVar[bool] = False  # streams by rows instead (row_wise)

    def supports(self, adapter: ModelAdapter) -> Support:
        if adapter.family not in COMPUTE:
            return unsupported(f"needs a tree model, this is {adapter.model_class}")
        if adapter.family == "xgboost":
            config = json.loads(adapter.native.save_config())["learner"]
            strategy = config.get("learner_train_param", {}).get("multi_strategy", "")
            if strategy == "multi_output_tree":
                return unsupported("XGBoost multi_output_tree models have no pred_contribs")
        if adapter.family == "lightgbm" and "\nis_linear=1" in adapter.native.model_to_string():
            return unsupported("LightGBM linear_tree models have no pred_contrib")
        if adapter.family == "catboost" and catboost_scale(adapter) != 1.0:
            return unsupported("CatBoost refuses ShapValues for models with scale != 1")
        return SUPPORTED

    def cost_model(
        self, ctx: ExplainContext, rows: int, timer: Callable[[], float]
    ) -> tuple[float, str] | None:
        """The estimate's time (:mod:`xai_cli.run.estimate`): the run's parsed tables timed on
        one block of rows, x the run's blocks; ``None`` where the run would not use them."""
        params = read_params(ctx, self.params, self.name)
        if params.engine == "native":
            return None
        try:
            threads = tableshap.thread_count(params.n_jobs)
            if symmetric_catboost(ctx.adapter) and params.engine == "auto":
                from xai_cli.methods.tables import oblivious

                with tableshap.threads(params.n_jobs):
                    return oblivious.predicted_seconds(ctx, rows, timer)
            return tableshap.predicted_seconds(ctx, rows, threads, timer)
        except UnsupportedForest:
            return None

    estimate_seconds = cost_model
    """A long run's estimate is the same: the kernel's cost is one block's, times the blocks."""

    def explain(self, ctx: ExplainContext) -> LocalAttribution:
        a = ctx.adapter
        params = read_params(ctx, self.params, self.name)
        library, notes = "", ()
        fast = None
        if params.engine in ("auto", "tables", "quadrature"):
            try:
                fast = fast_path_dependent(ctx, params.n_jobs, params.engine)
            except UnsupportedForest as exc:
                if params.engine != "auto":  # an engine asked for by name never falls back
                    raise MethodError(
                        f"treeshap engine={params.engine} cannot explain this model",
                        cause=str(exc), hint="use engine=auto to let xai choose",
                    ) from exc
                if a.family == "sklearn_tree" and shap_cannot(a):
                    raise UnsupportedForest(f"{exc}; and {shap_cannot(a)}") from exc
                notes = (
                    f"fast path not used: {exc}; computed by {LIBRARY[a.family]}'s own TreeSHAP",
                )
        if fast is not None:
            values, base, engine = fast
            library = FAST_LIBRARY
            notes = (
                "computed by xai's own exact path-dependent TreeSHAP (numba); the parsed trees "
                f"reproduced {MODEL_LIBRARY[a.family]}'s raw predictions before use",
                engine,
            )
        else:
            values, base = COMPUTE[a.family](ctx)
            if params.engine == "native":
                notes = (f"engine=native: computed by {LIBRARY[a.family]}'s own TreeSHAP",)
        return LocalAttribution(
            method=self.name,
            unit=f"mean_abs_shap:{a.raw_space}",
            features=a.feature_names,
            outputs=a.outputs,
            values=values,
            base_values=base,
            data=numeric_view(ctx.X),
            library=library,
            notes=notes,
        )


def symmetric_catboost(adapter: ModelAdapter) -> bool:
    """Whether the model is CatBoost with symmetric trees (its default ``grow_policy``), which
    the oblivious-tree engine explains; Depthwise and Lossguide trees take the generic engines."""
    if adapter.family != "catboost":
        return False
    try:  # a model that cannot tell its parameters is taken as the default, symmetric
        policy = adapter.native.get_all_params().get("grow_policy", "SymmetricTree")
    except Exception:  # noqa: BLE001 - CatBoost raises its own error types here
        return True
    return policy == "SymmetricTree"


def fast_path_dependent(
    ctx: ExplainContext, n_jobs: int | None = None, engine: str = "auto"
) -> tuple[np.ndarray, np.ndarray, str]:
    """xai's exact TreeSHAP: values (rows x features x outputs), base values (rows x outputs)
    and the engine used with its reason, on ``n_jobs`` threads (``None``: all cores).

    Raises :class:`UnsupportedForest` with the reason when the model cannot be done exactly.
    """
    if symmetric_catboost(ctx.adapter) and engine == "auto":
        from xai_cli.methods.tables import oblivious

        with tableshap.threads(n_jobs):  # symmetric trees: the specialised engine
            return oblivious.path_dependent(ctx)
    compiled, offset = tableshap.checked_model(ctx)  # parsed, checked and compiled once per run
    if engine != "auto" and compiled.engine != engine:
        compiled = tableshap.compile_parsed(compiled.parsed, engine)
        if compiled.engine != engine:
            raise UnsupportedForest(f"engine={engine} cannot run: {compiled.reason}")
        table = tableshap.path_dependent_table(compiled)
    else:
        table = tableshap.run_path_dependent_table(ctx, compiled)
    matrix = tableshap.encode(compiled, ctx.X)
    with tableshap.threads(n_jobs):
        values = tableshap.path_dependent(compiled, matrix, table)
    base = offset + tableshap.expected_leaves(compiled)
    return values, np.tile(base, (len(ctx.X), 1)), tableshap.describe(compiled)


EXPLAINERS = (TreeShap(),)
