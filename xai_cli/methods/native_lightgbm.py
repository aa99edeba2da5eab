"""LightGBM's own importances: ``Booster.feature_importance`` for split and gain.

Both are unnormalised; ``gain`` is a total (like XGBoost ``total_gain``), ``split`` a count. The
iteration is set explicitly to the rounds the model predicts with (see the reference §2).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from xai_cli.methods.base import SUPPORTED, ExplainContext, Support, Timer, unsupported
from xai_cli.methods.params import NoParams
from xai_cli.model.adapter import ModelAdapter
from xai_cli.results import POOLED, ImportanceTable

UNITS = {"split": "split_count", "gain": "total_gain"}


@dataclass(frozen=True)
class LightGBMImportance:
    """One ``importance_type`` of ``lightgbm.Booster.feature_importance``."""

    importance_type: str
    library: str = "lightgbm"
    needs_target: bool = False
    uses_rows: bool = False  # reads the trees; the explained rows do not change it
    params: ClassVar[type[NoParams]] = NoParams
    in_auto: ClassVar[bool] = True
    row_wise: ClassVar[bool] = False
    distributes: ClassVar[bool] = False

    @property
    def name(self) -> str:
        return f"lightgbm.{self.importance_type}"

    @property
    def description(self) -> str:
        return (
            f"LightGBM feature_importance('{self.importance_type}'), {UNITS[self.importance_type]}"
        )

    def cost_model(self, ctx: ExplainContext, rows: int, timer: Timer) -> None:
        """Reads only the model: nothing to estimate."""
        return None

    def estimate_seconds(self, ctx: ExplainContext, rows: int, timer: Timer) -> None:
        """No cost model: reads the trees once, about constant time."""
        return None

    def supports(self, adapter: ModelAdapter) -> Support:
        if adapter.family != "lightgbm":
            return unsupported(f"needs a LightGBM model, this is {adapter.model_class}")
        return SUPPORTED

    def explain(self, ctx: ExplainContext) -> ImportanceTable:
        adapter = ctx.adapter
        values = adapter.native.feature_importance(
            importance_type=self.importance_type, iteration=adapter.n_iterations
        )
        return ImportanceTable(
            method=self.name,
            unit=UNITS[self.importance_type],
            features=adapter.feature_names,
            outputs=(POOLED,),
            values=np.asarray(values, dtype=float).reshape(-1, 1),
            params={"importance_type": self.importance_type, "iteration": adapter.n_iterations},
        )


EXPLAINERS = tuple(LightGBMImportance(t) for t in UNITS)
