"""``partial_dependence``: partial dependence and ICE curves from the model itself, any model.

For each feature, a grid of its values (quantiles of a numeric feature, the most frequent
categories of a categorical one) is written into a seeded sample of rows and the model's raw
output (``adapter.predict_raw``) is read for every copy: each row's curve is an ICE line
(individual conditional expectation, Goldstein et al. 2015) and their mean is the partial
dependence (Friedman 2001). The global value is the curve's flatness measure of Greenwell,
Boehmke & McCarthy (2018): the standard deviation of the partial dependence over the grid for a
numeric feature, its range / 4 for a categorical one, in the model's raw output. This is how the
report draws dependence plots for models without trees (where there are no per-row SHAP values).

It costs ``features x grid x rows`` predictions, so it is opt-in: name it with ``-m``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
from pydantic import Field

from xai_cli.methods.base import SUPPORTED, ExplainContext, Support
from xai_cli.methods.base import read_params as _read
from xai_cli.methods.params import MethodParams
from xai_cli.model.adapter import ModelAdapter
from xai_cli.results import POOLED, ImportanceTable


class PartialDependenceParams(MethodParams):
    """Parameters of ``partial_dependence``."""

    grid: int = Field(20, ge=2, le=200, description="grid points (or categories) per feature")
    rows: int = Field(
        500, ge=10, le=100_000,
        description="seeded sample of rows averaged for the partial dependence "
        "(cost grows with features x grid x rows)",
    )
    ice_rows: int = Field(50, ge=0, le=1000, description="ICE lines kept per feature")


@dataclass(frozen=True)
class Curve:
    """One feature's curves for the first output: ``grid`` values (numbers; category labels in
    ``labels`` for a categorical feature), the partial dependence and the kept ICE lines."""

    feature: str
    grid: tuple[float, ...]
    labels: tuple[str, ...]
    pd: tuple[float, ...]
    ice: tuple[tuple[float, ...], ...]


@dataclass(frozen=True)
class PartialDependenceTable(ImportanceTable):
    """The importance table with every feature's curves (first output)."""

    curves: tuple[Curve, ...] = ()
    output: str = ""


def _grid(col: pd.Series, size: int) -> tuple[list[object], tuple[str, ...], bool]:
    """The values written into the rows, their labels, and whether the feature is categorical."""
    numeric = pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)
    if numeric:
        values = col.to_numpy(dtype=float, na_value=np.nan)
        values = values[np.isfinite(values)]
        if len(values) == 0:
            return [], (), False
        # an integer column takes only values it can hold (its own, the nearest quantiles)
        method = "nearest" if pd.api.types.is_integer_dtype(col) else "linear"
        grid = np.unique(np.quantile(values, np.linspace(0, 1, size), method=method))
        return grid.tolist(), (), False
    counts = col.value_counts(dropna=True)
    top = list(counts.index[:size])
    return top, tuple(str(v) for v in top), True


def _with_value(X: pd.DataFrame, name: str, value: object) -> pd.DataFrame:
    copy = X.copy()
    col = X[name]
    if isinstance(col.dtype, pd.CategoricalDtype):
        copy[name] = pd.Categorical([value] * len(X), categories=col.cat.categories)
    else:
        copy[name] = pd.Series([value] * len(X), index=X.index, dtype=col.dtype)
    return copy


def curves(
    adapter: ModelAdapter, X: pd.DataFrame, params: PartialDependenceParams, seed: int
) -> tuple[np.ndarray, tuple[Curve, ...]]:
    """Importance (features x outputs) and each feature's curves (first output)."""
    rng = np.random.default_rng(seed)
    n = len(X)
    take = np.sort(rng.choice(n, min(n, params.rows), replace=False))
    sample = X.iloc[take].reset_index(drop=True)
    ice_keep = np.arange(min(len(sample), params.ice_rows))
    n_out = len(adapter.outputs)
    importance = np.zeros((len(adapter.feature_names), n_out))
    out = []
    for j, name in enumerate(adapter.feature_names):
        grid, labels, categorical = _grid(sample[name], params.grid)
        if not grid:
            out.append(Curve(name, (), (), (), ()))
            continue
        frames = pd.concat([_with_value(sample, name, g) for g in grid], ignore_index=True)
        raw = np.asarray(adapter.predict_raw(frames), dtype=float).reshape(len(grid), len(sample),
                                                                          n_out)  # fmt: skip
        pd_curve = raw.mean(axis=1)  # grid x outputs
        if categorical:
            importance[j] = (pd_curve.max(axis=0) - pd_curve.min(axis=0)) / 4
        else:
            importance[j] = pd_curve.std(axis=0)
        xs = tuple(float(i) for i in range(len(grid))) if categorical else tuple(map(float, grid))
        out.append(Curve(
            feature=name, grid=xs, labels=labels, pd=tuple(pd_curve[:, 0].tolist()),
            ice=tuple(tuple(raw[:, r, 0].tolist()) for r in ice_keep),
        ))
    return importance, tuple(out)


@dataclass(frozen=True)
class PartialDependence:
    """Partial dependence and ICE from the model's own predictions; global = PD flatness."""

    name: str = "partial_dependence"
    library: str = "xai-cli"
    needs_target: bool = False
    uses_rows: bool = True
    description: str = (
        "partial dependence and ICE curves from the model's predictions (any model); "
        "global = std of the partial dependence (Greenwell et al. 2018)"
    )
    params: ClassVar[type[PartialDependenceParams]] = PartialDependenceParams
    in_auto: ClassVar[bool] = False
    """Opt-in: features x grid x rows predictions (50 x 20 x 500 = 500,000 rows by default)."""
    row_wise: ClassVar[bool] = False
    distributes: ClassVar[bool] = False

    def supports(self, adapter: ModelAdapter) -> Support:
        return SUPPORTED

    def cost_model(
        self, ctx: ExplainContext, rows: int, timer: Callable[[], float]
    ) -> tuple[float, str] | None:
        """No a-priori model: the estimate pilots it on a few rows."""
        return None

    estimate_seconds = cost_model

    def explain(self, ctx: ExplainContext) -> PartialDependenceTable:
        a = ctx.adapter
        params = _read(ctx, self.params, self.name)
        importance, found = curves(a, ctx.X, params, ctx.seed)
        if len(a.outputs) == 1:
            values, outputs = importance, (POOLED,)
        else:
            values = np.hstack([importance.sum(axis=1, keepdims=True), importance])
            outputs = (POOLED, *a.outputs)
        return PartialDependenceTable(
            method=self.name, unit=f"pd_std:{a.raw_space}", features=a.feature_names,
            outputs=outputs, values=values,
            params={"grid": params.grid, "rows": min(len(ctx.X), params.rows),
                    "ice_rows": params.ice_rows},  # fmt: skip
            curves=found, output=a.outputs[0],
        )


EXPLAINERS = (PartialDependence(),)
