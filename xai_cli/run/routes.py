"""Where each method runs on a pipeline: on the raw columns, or on the encoded matrix and summed.

A scikit-learn Pipeline with a traceable encoded -> raw map (:mod:`xai_cli.model.pipeline`) is
explained in two spaces. A method that applies to the whole pipeline (model-agnostic ones:
permutation) runs on the raw columns through the pipeline. A method that applies only to the final
estimator (TreeSHAP, native importances, linear SHAP) runs on the encoded matrix through that
estimator's fast path, and its per-row values (or global importances) are summed over each raw
column's encoded features here, in one place, for every such method; additivity is then checked
on the summed values against the final estimator's own output. ``level="encoded"`` runs every
method on the encoded matrix and keeps the encoded features.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property
from typing import Literal

import numpy as np
import pandas as pd

from xai_cli.methods.base import ExplainContext, Explainer, Support, numeric_view
from xai_cli.model.adapter import ModelAdapter
from xai_cli.model.pipeline import PipelineView
from xai_cli.results import ImportanceTable, LocalAttribution
from xai_cli.run.runner import Compute, Computed

Route = Literal["raw", "encoded"]


def route(explainer: Explainer, adapter: ModelAdapter, level: str) -> tuple[Support, Route]:
    """Whether ``explainer`` can run on ``adapter``'s model, and in which space.

    Without a pipeline view every method runs on the model as it is. With one, at the raw level a
    method that takes the whole pipeline runs on the raw columns, else one that takes the final
    estimator runs on the encoded matrix; at the encoded level every method takes the final
    estimator. Never raises.
    """
    view = adapter.pipeline
    if view is None:
        return explainer.supports(adapter), "raw"
    if level == "encoded":
        return explainer.supports(view.final), "encoded"
    direct = explainer.supports(adapter)
    if direct.ok:
        return direct, "raw"
    inner = explainer.supports(view.final)
    if inner.ok:
        return inner, "encoded"
    return Support(False, f"{inner.reason} (the pipeline's final estimator)"), "raw"


@dataclass(frozen=True, eq=False)
class EncodedRows:
    """A pipeline run's rows in both spaces: the raw rows and the same rows encoded once."""

    view: PipelineView
    X: pd.DataFrame
    level: str
    X_raw: pd.DataFrame

    @cached_property
    def raw_data(self) -> np.ndarray:
        """The raw rows as numbers for plots (categories as codes), made once per run."""
        return numeric_view(self.X_raw.loc[:, list(self.view.raw_features)])

    @property
    def regroups(self) -> bool:
        """Whether encoded results are summed to raw columns (the raw level)."""
        return self.level == "raw"


def encoded_rows(adapter: ModelAdapter, X: pd.DataFrame, level: str) -> EncodedRows | None:
    """The encoded rows of a pipeline run (``None`` for a model without a pipeline view)."""
    if adapter.pipeline is None:
        return None
    encoded = adapter.pipeline.encode(adapter.typed_frame(X))
    return EncodedRows(adapter.pipeline, encoded, level, X)


def regrouped(compute: Compute, rows: EncodedRows) -> Compute:
    """``compute`` (run on the encoded matrix) with its results summed to raw columns."""

    def run() -> Computed:
        done = compute()
        if done.local is not None:
            local = rows.view.regroup_local(done.local, rows.raw_data)
            return Computed(local.to_global(), local, done.library, local.notes, done.check)
        note = (
            f"computed on the encoded matrix by the final estimator and summed to raw columns: "
            f"{rows.view.describe()}"
        )
        table = rows.view.regroup_table(done.table)
        return Computed(table, None, done.library, (*done.notes, note), done.check)

    return run


def explain_routed(explainer: Explainer, ctx: ExplainContext) -> ImportanceTable | LocalAttribution:
    """``explainer`` on ``ctx``'s model at the raw level, outside a run (the audit's stability
    probe reruns methods on resamples): on a pipeline's encoded matrix and summed to raw columns
    when :func:`route` sends it there, else as it is."""
    _, space = route(explainer, ctx.adapter, "raw")
    view = ctx.adapter.pipeline
    if space == "raw" or view is None:
        return explainer.explain(ctx)

    def encode(frame: pd.DataFrame) -> pd.DataFrame:
        return view.encode(ctx.adapter.typed_frame(frame))

    background = None if ctx.background is None else encode(ctx.background)
    out = explainer.explain(
        replace(ctx, adapter=view.final, X=encode(ctx.X), background=background)
    )
    if isinstance(out, LocalAttribution):
        return view.regroup_local(out, numeric_view(ctx.X.loc[:, list(view.raw_features)]))
    return view.regroup_table(out)
