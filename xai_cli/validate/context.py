"""What every check reads: the validated run, its model and rows, and a way to re-run a method.

:class:`Subject` bundles the explain run being validated (its prepared model and rows, its
outcomes) with the options, and re-runs a method on other rows or another model with the run's
own parameters and seed, so a check measures the method as the run used it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from xai_cli.methods import REGISTRY, ExplainContext, Explainer
from xai_cli.model.adapter import ModelAdapter
from xai_cli.request import ExplainRequest
from xai_cli.results import POOLED, ExplainResult, ImportanceTable, LocalAttribution, MethodOutcome
from xai_cli.run.engine import Prepared, model_output
from xai_cli.validate.checks import ValidateOptions


@dataclass
class Subject:
    """A validated explain run: request, prepared inputs, result and the check options."""

    request: ExplainRequest
    prepared: Prepared
    result: ExplainResult
    options: ValidateOptions
    explainers: dict[str, Explainer] = field(default_factory=dict)
    """Method id -> backend of every method that ran (the registry's, or one a test passed)."""

    def __post_init__(self) -> None:
        for outcome in self.ok:
            if outcome.method not in self.explainers and outcome.method in REGISTRY:
                self.explainers[outcome.method] = REGISTRY[outcome.method]

    @property
    def adapter(self) -> ModelAdapter:
        return self.prepared.adapter

    @property
    def ok(self) -> list[MethodOutcome]:
        """The methods that produced a table, in run order."""
        return [o for o in self.result.outcomes if o.status == "ok" and o.table is not None]

    @property
    def top_k(self) -> int:
        return self.options.top_k or self.request.top_k

    @cached_property
    def rows(self) -> np.ndarray:
        """Positions (in ``prepared.X``) of the seeded sample the checks run on."""
        n = len(self.prepared.X)
        if n <= self.options.rows:
            return np.arange(n)
        rng = np.random.default_rng(self.request.seed)
        return np.sort(rng.choice(n, self.options.rows, replace=False))

    @cached_property
    def X(self) -> pd.DataFrame:
        """The check rows (index reset)."""
        return self.prepared.X.iloc[self.rows].reset_index(drop=True)

    @cached_property
    def y(self) -> np.ndarray | None:
        return None if self.prepared.encoded is None else self.prepared.encoded[self.rows]

    @cached_property
    def raw(self) -> np.ndarray:
        """The model's raw output on the check rows (rows x outputs)."""
        return np.asarray(self.adapter.predict_raw(self.X), dtype=float).reshape(len(self.X), -1)

    @cached_property
    def scale(self) -> float:
        """The output scale tolerances are relative to: the std of the raw output (floor 1e-12)."""
        return max(float(np.std(self.raw, axis=0).max()), 1e-12)

    def run(
        self,
        method: str,
        X: pd.DataFrame,
        *,
        adapter: ModelAdapter | None = None,
        y: np.ndarray | None = None,
        seed: int | None = None,
        background: pd.DataFrame | None = None,
        cheap: bool = False,
    ) -> ImportanceTable | LocalAttribution:
        """``method`` re-run with the run's parameters on ``X`` (and another model, labels, seed
        or background when given); ``cheap``: one shuffle per column where the method repeats
        them (``n_repeats=1``), for checks that compare ranks against planted noise."""
        explainer = self.explainers[method]
        params = self.request.params_for(explainer)
        if "bootstrap" in type(params).model_fields:  # rank intervals: not what a check reads
            params = params.model_copy(update={"bootstrap": False})
        if cheap and "n_repeats" in type(params).model_fields:
            params = params.model_copy(update={"n_repeats": 1})
        ctx = ExplainContext(
            adapter=adapter or self.adapter,
            X=X,
            y=y,
            seed=self.request.seed if seed is None else seed,
            params=params,
            background=background,
        )
        return explainer.explain(ctx)

    def output_of(
        self, local: LocalAttribution, X: pd.DataFrame, adapter: Any = None
    ) -> np.ndarray:
        """What ``local``'s values add up to on ``X`` (raw output, or probabilities)."""
        return model_output(adapter or self.adapter, local, X)


def pooled(output: ImportanceTable | LocalAttribution) -> np.ndarray:
    """The pooled global importance vector of a method's output (feature order)."""
    table = output.to_global() if isinstance(output, LocalAttribution) else output
    return np.asarray(table.column(POOLED), dtype=float)


def row_scores(output: ImportanceTable | LocalAttribution, n: int) -> np.ndarray:
    """Per-row importance (rows x features): ``|values|`` summed over outputs for per-row
    methods, the global vector repeated for the others."""
    if isinstance(output, LocalAttribution):
        return np.abs(output.values).sum(axis=2)
    return np.tile(np.abs(pooled(output)), (n, 1))


def spearman(a: np.ndarray, b: np.ndarray) -> float | None:
    """Spearman correlation of two importance vectors; ``None`` when either is constant."""
    import warnings

    from scipy import stats

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = float(stats.spearmanr(a, b).statistic)
    return None if np.isnan(value) else value
