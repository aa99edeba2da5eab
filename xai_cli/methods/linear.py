"""Linear models exactly: ``linear.shap`` (closed-form SHAP) and ``sklearn.coef``.

For a model whose raw output is ``f(x) = x @ w + b`` (``decision_function`` of a linear classifier:
log-odds for logistic regression, a margin for linear SVMs and SGD; ``predict`` of a linear
regressor), the interventional SHAP value of feature ``j`` with independent features and a
background of mean ``mu`` is exactly ``w_j * (x_j - mu_j)``, and the base value is ``f(mu)``
(Lundberg & Lee 2017, "linear SHAP"; shap's ``LinearExplainer`` with an independent masker). No
sampling, no approximation; a multiclass model has one weight vector, so one set of values, per
class. The background is the run's rows (all of them, not only a pilot's few).

``sklearn.coef`` is the native importance of a linear model: ``|w_j| * std(x_j)`` over the run's
rows, the typical change in the raw output when the feature moves by one standard deviation (a
bare ``|w_j|`` depends on the feature's scale, so it is not comparable across features).
Both run on a pipeline's encoded matrix and are summed to raw columns by the engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from xai_cli.methods.base import (
    SUPPORTED,
    ExplainContext,
    Support,
    Timer,
    numeric_view,
    unsupported,
)
from xai_cli.methods.params import NoParams
from xai_cli.model.adapter import ModelAdapter
from xai_cli.results import POOLED, ImportanceTable, LocalAttribution


def weights(adapter: ModelAdapter) -> tuple[np.ndarray, np.ndarray]:
    """The coefficients (outputs x features) and intercepts (outputs) of the raw output."""
    model = adapter.native
    coef = np.asarray(model.coef_, dtype=float)
    coef = coef.reshape(1, -1) if coef.ndim == 1 else coef
    intercept = np.atleast_1d(np.asarray(getattr(model, "intercept_", 0.0), dtype=float))
    if intercept.size == 1 and coef.shape[0] > 1:
        intercept = np.repeat(intercept, coef.shape[0])
    return coef, intercept


def linear_support(adapter: ModelAdapter) -> Support:
    """Whether the model's raw output is one linear function per output."""
    if not adapter.is_linear:
        return unsupported(
            f"needs a linear scikit-learn model (coef_ and a linear raw output), this is "
            f"{adapter.model_class}"
        )
    coef, _ = weights(adapter)
    if adapter.model_class in ("SVC", "NuSVC") and adapter.task == "multiclass":
        return unsupported(
            f"multiclass {adapter.model_class} votes one-vs-one; its decision function is not "
            "linear per class"
        )
    if coef.shape[0] != len(adapter.outputs):
        if adapter.is_classifier:
            return unsupported(
                f"{adapter.model_class} has {coef.shape[0]} weight vectors for "
                f"{len(adapter.outputs)} outputs (one-vs-one multiclass is not linear per class)"
            )
        return unsupported(f"{adapter.model_class} predicts several targets at once")
    if coef.shape[1] != len(adapter.feature_names):
        return unsupported("the coefficients do not match the model's features")
    return SUPPORTED


def _matrix(ctx: ExplainContext, rows: str = "x") -> np.ndarray:
    frame = ctx.X if rows == "x" or ctx.background is None else ctx.background
    return ctx.adapter.typed_frame(frame).to_numpy(dtype=float)


@dataclass(frozen=True)
class LinearShap:
    """Exact interventional SHAP of a linear model in closed form: ``w * (x - mean(x))``."""

    name: str = "linear.shap"
    library: str = "numpy"
    needs_target: bool = False
    uses_rows: bool = True
    description: str = (
        "exact SHAP of a linear model, closed form w*(x - mean) (interventional, independent "
        "features), raw output (log-odds / decision function), global = mean |SHAP|"
    )
    params: ClassVar[type[NoParams]] = NoParams
    in_auto: ClassVar[bool] = True
    row_wise: ClassVar[bool] = False  # the background mean is over all the run's rows
    distributes: ClassVar[bool] = False

    def supports(self, adapter: ModelAdapter) -> Support:
        return linear_support(adapter)

    def cost_model(self, ctx: ExplainContext, rows: int, timer: Timer) -> tuple[float, str]:
        """One multiply per cell: effectively free."""
        return 1e-8 * rows * max(1, len(ctx.adapter.feature_names)), "closed form, no model call"

    estimate_seconds = cost_model

    def explain(self, ctx: ExplainContext) -> LocalAttribution:
        a = ctx.adapter
        coef, intercept = weights(a)
        x = _matrix(ctx)
        mean = np.nanmean(_matrix(ctx, "background"), axis=0)
        values = (x - mean)[:, :, None] * coef.T[None, :, :]  # rows x features x outputs
        base = mean @ coef.T + intercept
        return LocalAttribution(
            method=self.name,
            unit=f"mean_abs_shap:{a.raw_space}",
            features=a.feature_names,
            outputs=a.outputs,
            values=values,
            base_values=np.tile(base, (len(x), 1)),
            data=numeric_view(ctx.X),
            notes=(
                f"closed-form linear SHAP: coefficients x (value - mean over the {len(x)} "
                "explained rows); exact for the model's raw output with independent features",
            ),
        )


@dataclass(frozen=True)
class SklearnCoef:
    """A linear model's native importance: ``|coefficient| x standard deviation``."""

    name: str = "sklearn.coef"
    library: str = "scikit-learn"
    needs_target: bool = False
    uses_rows: bool = True  # the standard deviations are the explained rows'
    description: str = (
        "|coefficient| x feature standard deviation of a linear model (raw-output change per "
        "one-std move)"
    )
    params: ClassVar[type[NoParams]] = NoParams
    in_auto: ClassVar[bool] = True
    row_wise: ClassVar[bool] = False
    distributes: ClassVar[bool] = False

    def supports(self, adapter: ModelAdapter) -> Support:
        return linear_support(adapter)

    def cost_model(self, ctx: ExplainContext, rows: int, timer: Timer) -> None:
        """Reads the coefficients and one standard deviation per column: nothing to estimate."""
        return None

    def estimate_seconds(self, ctx: ExplainContext, rows: int, timer: Timer) -> None:
        return None

    def explain(self, ctx: ExplainContext) -> ImportanceTable:
        a = ctx.adapter
        coef, _ = weights(a)
        std = np.nanstd(_matrix(ctx), axis=0)
        per_output = (np.abs(coef) * std[None, :]).T  # features x outputs
        if len(a.outputs) == 1:
            values, outputs = per_output, (POOLED,)
        else:
            values = np.hstack([per_output.sum(axis=1, keepdims=True), per_output])
            outputs = (POOLED, *a.outputs)
        return ImportanceTable(
            method=self.name,
            unit=f"abs_coef_x_std:{a.raw_space}",
            features=a.feature_names,
            outputs=outputs,
            values=values,
            params={"rows": len(ctx.X)},
        )


EXPLAINERS = (LinearShap(), SklearnCoef())
