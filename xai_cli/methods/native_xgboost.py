"""XGBoost's own importances: ``Booster.get_score``, all five importance types.

Pitfalls handled (see ``shared/reference/native_importances.md`` §1): ``get_score`` omits features
with no split, so values are reindexed to every feature; it ignores early stopping, so the booster
is sliced to the rounds the model predicts with; ``gain``/``cover`` are averages per split while the
``total_`` types are sums, and the unit says which.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from xai_cli.methods.base import SUPPORTED, ExplainContext, Support, Timer, reindexed, unsupported
from xai_cli.methods.params import NoParams
from xai_cli.model.adapter import ModelAdapter
from xai_cli.results import POOLED, ImportanceTable

UNITS = {
    "weight": "split_count",
    "gain": "mean_gain_per_split",
    "cover": "mean_hessian_cover_per_split",
    "total_gain": "total_gain",
    "total_cover": "total_hessian_cover",
}


@dataclass(frozen=True)
class XGBoostImportance:
    """One ``importance_type`` of ``xgboost.Booster.get_score``."""

    importance_type: str
    library: str = "xgboost"
    needs_target: bool = False
    uses_rows: bool = False  # reads the trees; the explained rows do not change it
    params: ClassVar[type[NoParams]] = NoParams
    in_auto: ClassVar[bool] = True
    row_wise: ClassVar[bool] = False
    distributes: ClassVar[bool] = False

    @property
    def name(self) -> str:
        return f"xgboost.{self.importance_type}"

    @property
    def description(self) -> str:
        kind = self.importance_type
        return f"XGBoost get_score(importance_type='{kind}'), {UNITS[kind]}"

    def cost_model(self, ctx: ExplainContext, rows: int, timer: Timer) -> None:
        """Reads only the model: nothing to estimate."""
        return None

    def estimate_seconds(self, ctx: ExplainContext, rows: int, timer: Timer) -> None:
        """No cost model: reads the trees once, about constant time."""
        return None

    def supports(self, adapter: ModelAdapter) -> Support:
        if adapter.family != "xgboost":
            return unsupported(f"needs an XGBoost model, this is {adapter.model_class}")
        return SUPPORTED

    def explain(self, ctx: ExplainContext) -> ImportanceTable:
        adapter = ctx.adapter
        booster = adapter.native
        rounds = adapter.n_iterations or booster.num_boosted_rounds()
        if rounds < booster.num_boosted_rounds():
            booster = booster[:rounds]
        scores = booster.get_score(importance_type=self.importance_type)
        return ImportanceTable(
            method=self.name,
            unit=UNITS[self.importance_type],
            features=adapter.feature_names,
            outputs=(POOLED,),
            values=reindexed(scores, adapter.native_names or adapter.feature_names),
            params={"importance_type": self.importance_type, "rounds": rounds},
        )


EXPLAINERS = tuple(XGBoostImportance(t) for t in UNITS)
