"""scikit-learn's impurity importance: ``feature_importances_`` of trees and forests.

Mean decrease in impurity over the training data, normalised by scikit-learn to sum to 1. Known to
favour high-cardinality features (shared/reference/evaluation_methods.md §7).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from xai_cli.methods.base import SUPPORTED, ExplainContext, Support, Timer, unsupported
from xai_cli.methods.params import NoParams
from xai_cli.model.adapter import ModelAdapter
from xai_cli.results import POOLED, ImportanceTable


@dataclass(frozen=True)
class SklearnImpurity:
    """``feature_importances_`` of a fitted scikit-learn tree model."""

    name: str = "sklearn.impurity"
    library: str = "scikit-learn"
    needs_target: bool = False
    uses_rows: bool = False  # training-time impurity; the explained rows do not change it
    description: str = "scikit-learn feature_importances_ (mean decrease in impurity), sums to 1"
    params: ClassVar[type[NoParams]] = NoParams
    in_auto: ClassVar[bool] = True
    row_wise: ClassVar[bool] = False
    distributes: ClassVar[bool] = False

    def cost_model(self, ctx: ExplainContext, rows: int, timer: Timer) -> None:
        """Reads only the model: nothing to estimate."""
        return None

    def estimate_seconds(self, ctx: ExplainContext, rows: int, timer: Timer) -> None:
        """No cost model: reads the fitted model once, about constant time."""
        return None

    def supports(self, adapter: ModelAdapter) -> Support:
        if adapter.family != "sklearn_tree":
            return unsupported(
                f"needs a scikit-learn tree or forest, this is {adapter.model_class}"
            )
        if not hasattr(adapter.native, "feature_importances_"):
            return unsupported(f"{adapter.model_class} has no feature_importances_")
        return SUPPORTED

    def explain(self, ctx: ExplainContext) -> ImportanceTable:
        values = np.asarray(ctx.adapter.native.feature_importances_, dtype=float)
        return ImportanceTable(
            method=self.name,
            unit="impurity_decrease:normalised",
            features=ctx.adapter.feature_names,
            outputs=(POOLED,),
            values=values.reshape(-1, 1),
        )


EXPLAINERS = (SklearnImpurity(),)
