"""``integrated_gradients`` for scikit-learn ``MLPClassifier``/``MLPRegressor``.

Integrated Gradients (Sundararajan et al. 2017) attributes ``F(x) - F(x')`` along the straight
path from a baseline ``x'``:

    IG_j(x) = (x_j - x'_j) * integral over a in [0, 1] of dF/dx_j (x' + a (x - x'))

``F`` is the network's last pre-activation, computed from the fitted ``coefs_``/``intercepts_``:
the log-odds for a binary classifier (one output unit), the softmax logits for a multiclass one
(one per class, defined up to a shared constant), the value for a regressor. Gradients are
analytic (back-propagated through ``identity``, ``logistic``, ``tanh`` or ``relu``, every
activation scikit-learn offers), the integral a midpoint rule whose steps double until the
completeness error ``|sum_j IG_j - (F(x) - F(x'))|`` is at most 1e-3 of the output range (or
:data:`MAX_STEPS` is reached); the error reached is reported.

IG's answer depends on its baseline, so three are computed: ``zeros``, the background ``mean``,
and ``background`` (the average of IG over background rows as baselines: expected gradients).
The values are the chosen baseline's; the per-value spread over the three is the table's spread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np
from pydantic import Field

from xai_cli.methods.agnostic.common import background_sample
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
from xai_cli.model.adapter import ModelAdapter
from xai_cli.results import LocalAttribution

MLP_CLASSES = ("MLPClassifier", "MLPRegressor")
MAX_STEPS = 4096
"""The most integration steps; a ReLU network's gradient jumps along the path, so its midpoint
rule converges as 1/steps."""
COMPLETENESS_RTOL = 1e-3
"""Steps double until the completeness error is at most this share of the output range."""
CHUNK_POINTS = 32_768
"""Path points whose gradients are computed at once."""
Baseline = Literal["zeros", "mean", "background"]
BASELINES: tuple[Baseline, ...] = ("zeros", "mean", "background")


class IntegratedGradientsParams(MethodParams):
    """Parameters of ``integrated_gradients``."""

    baseline: Baseline = Field(
        "mean",
        description="The reference input: zeros, the background mean, or background rows "
        "(IG averaged over them: expected gradients).",
    )
    steps: int = Field(
        64, ge=2, le=MAX_STEPS,
        description="Integration steps to start from; doubled until the completeness error is "
        "below 1e-3 of the output range.",
    )  # fmt: skip
    background_rows: int = Field(
        20, ge=1, le=10_000,
        description="Seeded rows for the mean and background baselines (background: IG over "
        "each of them, averaged).",
    )  # fmt: skip


_DERIVATIVE = {
    "identity": lambda h: np.ones_like(h),
    "logistic": lambda h: h * (1.0 - h),
    "tanh": lambda h: 1.0 - h**2,
    "relu": lambda h: (h > 0).astype(float),
}
"""Each activation's derivative as a function of its output ``h`` (all four allow it)."""
_ACTIVATION = {
    "identity": lambda z: z,
    "logistic": lambda z: 1.0 / (1.0 + np.exp(-z)),
    "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, 0.0),
}


def logits_and_gradients(model: object, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The last pre-activation (points, outputs) and its gradient (points, features, outputs)."""
    coefs, intercepts = model.coefs_, model.intercepts_  # type: ignore[attr-defined]
    act, dact = _ACTIVATION[model.activation], _DERIVATIVE[model.activation]  # type: ignore[attr-defined]
    hidden = [X]
    for W, b in zip(coefs[:-1], intercepts[:-1], strict=True):
        hidden.append(act(hidden[-1] @ W + b))
    logits = hidden[-1] @ coefs[-1] + intercepts[-1]
    grad = np.broadcast_to(coefs[-1], (len(X), *coefs[-1].shape))  # points x H x K
    for layer in range(len(coefs) - 2, -1, -1):
        grad = np.einsum("ih,nhk->nik", coefs[layer], dact(hidden[layer + 1])[:, :, None] * grad)
    return logits, np.asarray(grad)


def integrated_gradients(
    model: object, X: np.ndarray, baselines: np.ndarray, steps: int
) -> tuple[np.ndarray, np.ndarray]:
    """IG of every row against every baseline row, averaged over baselines: values (rows,
    features, outputs) and the completeness gap per row (rows, outputs)."""
    n, f = X.shape
    alphas = (np.arange(steps) + 0.5) / steps  # midpoint rule
    fx, _ = logits_and_gradients(model, X)
    fb, _ = logits_and_gradients(model, baselines)
    total = np.zeros((n, f, fx.shape[1]))
    chunk = max(1, CHUNK_POINTS // steps)  # rows per pass: memory stays bounded
    for base in baselines:
        diff = X - base  # rows x features
        for lo in range(0, n, chunk):
            d = diff[lo : lo + chunk]
            points = base + alphas[:, None, None] * d[None, :, :]  # steps x rows x features
            _, grad = logits_and_gradients(model, points.reshape(-1, f))
            mean_grad = grad.reshape(steps, len(d), f, -1).mean(axis=0)
            total[lo : lo + chunk] += d[:, :, None] * mean_grad
    values = total / len(baselines)
    gaps = values.sum(axis=1) - (fx - fb.mean(axis=0))
    return values, gaps


def converged_ig(
    model: object, X: np.ndarray, baselines: np.ndarray, steps: int
) -> tuple[np.ndarray, float, int, float]:
    """IG with steps doubled until complete: values, worst completeness error, steps, and the
    output range the error is measured against."""
    fx, _ = logits_and_gradients(model, X)
    fb, _ = logits_and_gradients(model, baselines)
    scale = max(float(np.ptp(np.vstack([fx, fb]))), 1e-12)
    while True:
        values, gaps = integrated_gradients(model, X, baselines, steps)
        error = float(np.abs(gaps).max()) if gaps.size else 0.0
        if error <= COMPLETENESS_RTOL * scale or steps >= MAX_STEPS:
            return values, error, steps, scale
        steps *= 2


def output_space(adapter: ModelAdapter) -> str:
    """What ``F`` is: the log-odds, the softmax logits or the value."""
    return {"binary": "log_odds", "multiclass": "softmax_logit"}.get(adapter.task, "value")


@dataclass(frozen=True)
class IntegratedGradients:
    """Integrated Gradients on an MLP's logits, analytic, with its baseline spread."""

    name: str = "integrated_gradients"
    library: str = "xai-agnostic"
    needs_target: bool = False
    uses_rows: bool = True
    description: str = (
        "Integrated Gradients for scikit-learn MLPs (analytic, logit space), completeness error "
        "and spread over zeros/mean/background baselines; global = mean |IG|"
    )
    params: ClassVar[type[IntegratedGradientsParams]] = IntegratedGradientsParams
    in_auto: ClassVar[bool] = True  # cheap: no model predictions beyond the network's own math
    row_wise: ClassVar[bool] = False  # the baselines are drawn from the explained rows
    distributes: ClassVar[bool] = False

    def supports(self, adapter: ModelAdapter) -> Support:
        if adapter.model_class not in MLP_CLASSES:
            return unsupported("needs gradients: scikit-learn MLPClassifier/MLPRegressor only")
        if adapter.categorical_features:
            return unsupported("categorical inputs have no gradient")
        return SUPPORTED

    def left_out(self, ctx: ExplainContext) -> str | None:
        return None

    def cost_model(self, ctx: ExplainContext, rows: int, timer: Timer) -> tuple[float, str]:
        params = read_params(ctx, self.params, self.name)
        points = rows * params.steps * (2 + params.background_rows)  # zeros, mean, background
        start = timer()
        X = ctx.adapter.typed_frame(ctx.X.iloc[:256]).to_numpy(float)
        logits_and_gradients(ctx.adapter.native, X)
        per_point = (timer() - start) / max(len(X), 1)
        return per_point * points, f"{points:,} gradient evaluations (timed on {len(X)} rows)"

    def estimate_seconds(self, ctx: ExplainContext, rows: int, timer: Timer) -> tuple[float, str]:
        return self.cost_model(ctx, rows, timer)

    def explain(self, ctx: ExplainContext) -> LocalAttribution:
        params = read_params(ctx, self.params, self.name)
        adapter, model = ctx.adapter, ctx.adapter.native
        X = adapter.typed_frame(ctx.X).to_numpy(float)
        pool = ctx.X if ctx.background is None else ctx.background
        bg = adapter.typed_frame(background_sample(pool, params.background_rows, ctx.seed))
        bg_array = bg.to_numpy(float)
        choices = {"zeros": np.zeros((1, X.shape[1])), "mean": bg_array.mean(axis=0)[None, :],
                   "background": bg_array}  # fmt: skip
        found = {b: converged_ig(model, X, choices[b], params.steps) for b in BASELINES}
        values, error, steps, scale = found[params.baseline]
        spread = np.stack([found[b][0] for b in BASELINES]).std(axis=0)
        fx, _ = logits_and_gradients(model, X)
        fb, _ = logits_and_gradients(model, choices[params.baseline])
        base = np.tile(fb.mean(axis=0), (len(X), 1))
        globals_ = {b: np.abs(found[b][0]).sum(axis=2).mean(axis=0) for b in BASELINES}
        agreement = {
            f"{a}~{b}": _spearman(globals_[a], globals_[b])
            for a, b in (("zeros", "mean"), ("zeros", "background"), ("mean", "background"))
        }
        space = output_space(adapter)
        notes = [
            f"baseline: {params.baseline} ({_describe(params.baseline, len(bg_array))}); output: "
            f"{space} (the last layer's pre-activation)",
            f"completeness error {error:.3g} (output range {scale:.3g}) with {steps} steps",
            "Spearman of global importances between baselines: "
            + ", ".join(f"{k} {'n/a' if v is None else format(v, '.3f')}"
                        for k, v in agreement.items()),  # fmt: skip
        ]
        return LocalAttribution(
            method=self.name,
            unit=f"mean_abs_ig:{space}",
            features=adapter.feature_names,
            outputs=adapter.outputs,
            values=values,
            base_values=base,
            data=numeric_view(ctx.X.loc[:, list(adapter.feature_names)]),
            library="xai-agnostic",
            notes=tuple(notes),
            spread=spread,
            spread_kind="std_over_baselines",
            additive=False,  # adds up to the logits minus F(baseline), not to the raw output
            params={"baseline": params.baseline, "steps": steps, "output": space,
                    "completeness_error": error, "output_range": scale,
                    "background_rows": len(bg_array), "seed": ctx.seed,
                    "baseline_spearman": agreement,
                    "completeness_by_baseline": {b: found[b][1] for b in BASELINES}},  # fmt: skip
        )


def _spearman(a: np.ndarray, b: np.ndarray) -> float | None:
    """Spearman correlation of two importance vectors; ``None`` when undefined (constant)."""
    from scipy.stats import spearmanr

    if len(a) < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    return float(spearmanr(a, b).statistic)


def _describe(baseline: str, rows: int) -> str:
    return {"zeros": "all inputs 0", "mean": f"the mean of {rows} background rows",
            "background": f"IG averaged over {rows} background rows"}[baseline]  # fmt: skip


EXPLAINERS = (IntegratedGradients(),)
