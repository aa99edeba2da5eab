"""CatBoost's own importances: PredictionValuesChange and LossFunctionChange.

PVC is a squared leaf-value contrast weighted by training leaf weights, scaled to sum to 100. LFC is
the change of the model's loss on the given labelled rows when a feature's SHAP contribution is
removed: raw loss units, and it can be negative (see the reference §3).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from xai_cli.methods.base import SUPPORTED, ExplainContext, Support, Timer, unsupported
from xai_cli.methods.params import NoParams
from xai_cli.model.adapter import ModelAdapter
from xai_cli.results import POOLED, ImportanceTable


def catboost_scale(adapter: ModelAdapter) -> float:
    """The model's output scale; CatBoost refuses SHAP and LFC when it is not 1."""
    try:
        return float(adapter.native.get_scale_and_bias()[0])
    except Exception:
        return 1.0


def catboost_labels(ctx: ExplainContext) -> np.ndarray:
    """The target in the form the CatBoost model was trained with (its own class values)."""
    assert ctx.y is not None
    classes = getattr(ctx.adapter.native, "classes_", None)
    if ctx.adapter.is_classifier and classes is not None and len(classes):
        return np.asarray(classes)[ctx.y.astype(int)]
    return ctx.y


@dataclass(frozen=True)
class CatBoostImportance:
    """One ``type`` of ``CatBoost.get_feature_importance``."""

    fstr_type: str
    needs_target: bool
    library: str = "catboost"
    params: ClassVar[type[NoParams]] = NoParams
    in_auto: ClassVar[bool] = True
    row_wise: ClassVar[bool] = False
    distributes: ClassVar[bool] = False

    @property
    def uses_rows(self) -> bool:
        """LossFunctionChange scores the given rows; PredictionValuesChange reads the trees."""
        return self.fstr_type == "LossFunctionChange"

    @property
    def name(self) -> str:
        return f"catboost.{self.fstr_type}"

    @property
    def description(self) -> str:
        if self.fstr_type == "PredictionValuesChange":
            return "CatBoost PredictionValuesChange (training leaf weights), percent"
        return "CatBoost LossFunctionChange on the given labelled rows, loss units"

    def cost_model(self, ctx: ExplainContext, rows: int, timer: Timer) -> None:
        """Reads only the model: nothing to estimate."""
        return None

    def estimate_seconds(self, ctx: ExplainContext, rows: int, timer: Timer) -> None:
        """No cost model: LossFunctionChange is piloted on rows, PredictionValuesChange not."""
        return None

    def supports(self, adapter: ModelAdapter) -> Support:
        if adapter.family != "catboost":
            return unsupported(f"needs a CatBoost model, this is {adapter.model_class}")
        if self.fstr_type == "LossFunctionChange" and catboost_scale(adapter) != 1.0:
            return unsupported("CatBoost refuses LossFunctionChange for models with scale != 1")
        return SUPPORTED

    def explain(self, ctx: ExplainContext) -> ImportanceTable:
        from catboost import Pool

        adapter = ctx.adapter
        if self.fstr_type == "PredictionValuesChange":
            values = adapter.native.get_feature_importance(type="PredictionValuesChange")
            unit = "prediction_values_change:percent"
        else:
            pool = Pool(
                adapter.typed_frame(ctx.X),
                label=catboost_labels(ctx),
                cat_features=list(adapter.categorical_features) or None,
            )
            values = adapter.native.get_feature_importance(data=pool, type="LossFunctionChange")
            unit = f"loss_change:{adapter.objective}"
        return ImportanceTable(
            method=self.name,
            unit=unit,
            features=adapter.feature_names,
            outputs=(POOLED,),
            values=np.asarray(values, dtype=float).reshape(-1, 1),
            params={"type": self.fstr_type},
        )


EXPLAINERS = (
    CatBoostImportance("PredictionValuesChange", needs_target=False),
    CatBoostImportance("LossFunctionChange", needs_target=True),
)
