"""``ensemble.shap``: exact SHAP of a voting or bagging ensemble from its members' exact SHAP.

A soft ``VotingClassifier`` predicts the weighted average of its members' class probabilities, a
``VotingRegressor`` the weighted average of their predictions, a ``BaggingClassifier`` /
``BaggingRegressor`` the plain average (each member on its own feature subset). Shapley values are
linear in the game, so when every member has an exact method in the space the ensemble averages
(TreeSHAP of scikit-learn trees explains probabilities / values; linear SHAP explains a linear
regressor's value), the same weighted average of the members' values, each placed on its
features, is an exact attribution of the ensemble that adds up to its output. Each member keeps
its own value function (path-dependent for trees, interventional for linear members); the
provenance says which. Hard voting, stacking and calibration are not linear in the members'
outputs: those models are explained by the model-agnostic methods.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, ClassVar

import numpy as np

from xai_cli.methods.base import (
    SUPPORTED,
    ExplainContext,
    Explainer,
    Support,
    Timer,
    numeric_view,
    unsupported,
)
from xai_cli.methods.params import NoParams
from xai_cli.model.adapter import ModelAdapter, adapt
from xai_cli.results import LocalAttribution

NOT_LINEAR = {
    "StackingClassifier": "stacking feeds the members' outputs to another model, not an average",
    "StackingRegressor": "stacking feeds the members' outputs to another model, not an average",
    "CalibratedClassifierCV": "calibration maps the classifiers' scores non-linearly "
    "(sigmoid or isotonic)",
    "AdaBoostClassifier": "AdaBoost's SAMME combines the members' votes, not their outputs",
}
"""Wrappers of several models whose output is not linear in the members': why, in one line."""

ENSEMBLES = frozenset(
    {"VotingClassifier", "VotingRegressor", "BaggingClassifier", "BaggingRegressor"}
)


@dataclass(frozen=True)
class Member:
    """One member of an ensemble: its adapter over its features, its weight and exact method."""

    adapter: ModelAdapter
    columns: np.ndarray
    weight: float
    method: Explainer


def _member_methods() -> tuple[Explainer, ...]:
    from xai_cli.methods.linear import LinearShap
    from xai_cli.methods.treeshap import TreeShap

    return (TreeShap(), LinearShap())


def members(adapter: ModelAdapter) -> list[Member]:
    """The ensemble's members with their exact methods; raises ``ValueError`` with the reason
    when the ensemble is not a linear combination of members that all have one."""
    model = adapter.native
    name = adapter.model_class
    if name not in ENSEMBLES:
        raise ValueError(f"needs a voting or bagging ensemble, this is {name}")
    if name == "VotingClassifier" and model.voting != "soft":
        raise ValueError("hard voting is a majority vote, not an average of member outputs")
    estimators = list(model.estimators_)
    if name.startswith("Voting"):
        weights = np.ones(len(estimators)) if model.weights is None else np.asarray(
            [w for w, (_, e) in zip(model.weights, model.estimators, strict=True) if e != "drop"],
            dtype=float,
        )
        subsets = [np.arange(len(adapter.feature_names))] * len(estimators)
    else:
        weights = np.ones(len(estimators))
        subsets = [np.asarray(f, dtype=np.int64) for f in model.estimators_features_]
        if adapter.is_classifier and not all(hasattr(e, "predict_proba") for e in estimators):
            raise ValueError("bagged members without predict_proba vote, they do not average")
    out = []
    for estimator, cols, weight in zip(estimators, subsets, weights / weights.sum(), strict=True):
        member = adapt(estimator)
        names = tuple(adapter.feature_names[i] for i in cols)
        member = replace(member, feature_names=names, categorical_features=(),
                         feature_names_known=hasattr(estimator, "feature_names_in_"))  # fmt: skip
        if member.is_classifier and member.class_labels and len(member.class_labels) != len(
            adapter.class_labels
        ):
            raise ValueError(f"member {type(estimator).__name__} saw only some of the classes")
        method = next((m for m in _member_methods() if m.supports(member).ok), None)
        if method is None:
            raise ValueError(f"member {member.model_class} has no exact method")
        if member.raw_space != adapter.raw_space:
            raise ValueError(
                f"member {member.model_class} is explained in {member.raw_space}, but the "
                f"ensemble averages {adapter.raw_space}: not linear in the members' outputs"
            )
        out.append(Member(member, cols, float(weight), method))
    return out


@dataclass(frozen=True)
class EnsembleShap:
    """Weighted sum of the members' exact SHAP values (voting and bagging averages)."""

    name: str = "ensemble.shap"
    library: str = "numba"
    needs_target: bool = False
    uses_rows: bool = True
    description: str = (
        "exact SHAP of a soft-voting or bagging ensemble: the members' exact SHAP (TreeSHAP, "
        "linear SHAP) combined with the ensemble's weights, global = mean |SHAP|"
    )
    params: ClassVar[type[NoParams]] = NoParams
    in_auto: ClassVar[bool] = True
    row_wise: ClassVar[bool] = False  # members may need the run's rows (linear background)
    distributes: ClassVar[bool] = False

    def supports(self, adapter: ModelAdapter) -> Support:
        if adapter.model_class in NOT_LINEAR:
            return unsupported(
                f"{NOT_LINEAR[adapter.model_class]}: no exact combination; the model-agnostic "
                "methods explain it"
            )
        if adapter.model_class not in ENSEMBLES:
            return unsupported(f"needs a voting or bagging ensemble, this is {adapter.model_class}")
        try:
            members(adapter)
        except Exception as exc:  # supports never raises: the reason is the answer
            return unsupported(str(exc))
        return SUPPORTED

    def cost_model(self, ctx: ExplainContext, rows: int, timer: Timer) -> None:
        """No cost model of its own: piloted on a few rows."""
        return None

    def estimate_seconds(self, ctx: ExplainContext, rows: int, timer: Timer) -> None:
        return None

    def explain(self, ctx: ExplainContext) -> LocalAttribution:
        a = ctx.adapter
        parts = members(a)
        n, k = len(ctx.X), len(a.outputs)
        values = np.zeros((n, len(a.feature_names), k))
        base = np.zeros((n, k))
        used: list[str] = []
        for part in parts:
            cols = [a.feature_names[i] for i in part.columns]
            X = ctx.X.loc[:, cols]
            background: Any = None if ctx.background is None else ctx.background.loc[:, cols]
            sub = replace(ctx, adapter=part.adapter, X=X, background=background, params={})
            local = part.method.explain(sub)
            values[:, part.columns, :] += part.weight * local.values
            base += part.weight * local.base_values
            used.append(f"{part.adapter.model_class}: {part.method.name} x {part.weight:.3g}")
        return LocalAttribution(
            method=self.name,
            unit=f"mean_abs_shap:{a.raw_space}",
            features=a.feature_names,
            outputs=a.outputs,
            values=values,
            base_values=base,
            data=numeric_view(ctx.X),
            notes=(
                f"combined from {len(parts)} members' exact attributions ({'; '.join(used)}): "
                f"the {a.model_class} averages its members' {a.raw_space}, so the weighted sum "
                "is exact; each member keeps its own method's value function",
            ),
        )


EXPLAINERS = (EnsembleShap(),)
