"""What the scorecard needs to know about each method, declared once here.

Which Shapley game a method computes decides its exact-Shapley spot check; whether it samples
decides its tolerances and its seed-stability check; whether it claims completeness decides its
additivity check. A method not listed is judged as a deterministic, non-Shapley method.
"""

from __future__ import annotations

from typing import Literal

Game = Literal["path_dependent", "interventional"]

GAMES: dict[str, Game] = {
    "treeshap": "path_dependent",
    "treeshap.interventional": "interventional",
    "shapley.exact": "interventional",
    "kernelshap": "interventional",
}
"""Shapley-type methods and the game each one's values are the exact Shapley values of."""

SAMPLED: frozenset[str] = frozenset({"permutation", "kernelshap", "lime"})
"""Methods whose numbers depend on a random draw (judged with wider tolerances; seed check)."""

COMPLETE_OTHERS: frozenset[str] = frozenset({"integrated_gradients"})
"""Non-Shapley methods whose per-row values must add up to the model's output (T07)."""

WHY: dict[str, str] = {
    "xgboost.cover": "cover counts the Hessian mass (training weight) routed through each split "
    "on the feature, which follows how often a feature is split, not what it changes",
    "xgboost.total_cover": "total_cover counts the Hessian mass routed through splits on the "
    "feature, not what the feature changes in the output",
    "xgboost.weight": "weight counts splits, which favours features with many distinct values",
    "xgboost.gain": "gain averages the training-loss reduction per split, which favours rare, "
    "high-cardinality splits",
    "xgboost.total_gain": "total_gain sums training-loss reductions, measured on the training "
    "rows (it can reward overfitting)",
    "lightgbm.split": "split counts splits, which favours features with many distinct values",
    "lightgbm.gain": "gain sums training-loss reductions, measured on the training rows",
    "sklearn.impurity": "impurity (MDI) importance is measured on the training rows and favours "
    "high-cardinality features",
    "permutation": "permutation importance measures the score lost when a feature is shuffled; "
    "correlated features share (and hide) that loss",
    "treeshap": "path-dependent TreeSHAP conditions on the training covers of the trees",
    "treeshap.interventional": "interventional TreeSHAP replaces absent features with background "
    "values",
    "shapley.exact": "exact interventional Shapley values for its background sample",
    "kernelshap": "KernelSHAP estimates interventional Shapley values from sampled coalitions "
    "(its standard error is in the report)",
    "occlusion": "occlusion replaces one feature at a time with background values, so an "
    "interaction is counted in full for each feature it involves",
    "lime": "LIME's weights are those of a local linear surrogate fitted to perturbed samples, "
    "not the model's own",
    "integrated_gradients": "Integrated Gradients integrates the model's gradient from a "
    "baseline, so it depends on that baseline",
}
"""What a method measures, for the verdict's 'why they disagree' sentences."""


def game(method: str) -> Game | None:
    """The Shapley game ``method`` computes, or ``None`` for a non-Shapley method."""
    return GAMES.get(method)


def sampled(method: str) -> bool:
    """Whether ``method``'s numbers depend on a random draw."""
    return method in SAMPLED


def complete(method: str) -> bool:
    """Whether ``method`` claims its per-row values add up to the output (every Shapley
    method, and Integrated Gradients)."""
    return method in GAMES or method in COMPLETE_OTHERS
