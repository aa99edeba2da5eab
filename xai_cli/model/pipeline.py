"""Pipelines on raw data: which raw input column each encoded feature comes from.

A scikit-learn ``Pipeline`` (or a bare ``ColumnTransformer`` followed by a model) takes the data as
read and encodes it itself. xai explains it in two ways: model-agnostic methods call the whole
pipeline on the raw columns; methods with a fast path (TreeSHAP, native importances, linear SHAP)
run on the *encoded* matrix through the final estimator and their numbers are summed back to the
raw columns. That needs, for every encoded feature, the one raw column it is derived from: the
mapping is read from the fitted transformers themselves (``ColumnTransformer.transformers_`` and
``output_indices_``, ``OneHotEncoder`` categories with drop and infrequent groups, selectors'
``get_support``, passthrough, drop and remainder; element-wise scalers and encoders map 1:1), never
guessed from names. A transformer whose outputs mix raw columns (PCA, polynomial features) or that
xai does not know has no mapping: :class:`NoMapping` says which, and the pipeline is explained on
its raw columns by the model-agnostic methods only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from xai_cli.results import ImportanceTable, LocalAttribution

if TYPE_CHECKING:
    from xai_cli.model.adapter import ModelAdapter

ELEMENTWISE = frozenset(
    {
        "StandardScaler",
        "MinMaxScaler",
        "MaxAbsScaler",
        "RobustScaler",
        "PowerTransformer",
        "QuantileTransformer",
        "OrdinalEncoder",
        "Binarizer",
    }
)
"""Transformers whose output column j is computed from input column j alone."""

GROUPED_UNIT = "summed_per_raw_column"
"""What a regrouped global importance's unit says: the encoded features' values were summed."""


class NoMapping(Exception):
    """The encoded -> raw mapping of a pipeline cannot be derived; the message says why."""


def is_pipeline(model: Any) -> bool:
    """Whether ``model`` is a scikit-learn Pipeline ending in an estimator that predicts."""
    from sklearn.pipeline import Pipeline

    return isinstance(model, Pipeline) and hasattr(model, "predict")


def _name(step: Any) -> str:
    return type(step).__name__


def _identity(n: int) -> np.ndarray:
    return np.arange(n, dtype=np.int64)


def _n_out(step: Any, n_in: int) -> int | None:
    try:
        return len(step.get_feature_names_out([f"x{i}" for i in range(n_in)]))
    except Exception:  # a transformer without output names
        return None


def _one_hot(step: Any, n_in: int) -> np.ndarray:
    counts = getattr(step, "_n_features_outs", None)
    if counts is None or len(counts) != n_in:
        raise NoMapping("OneHotEncoder without per-column output counts")
    return np.repeat(_identity(n_in), np.asarray(counts, dtype=np.int64))


def _imputer(step: Any, n_in: int) -> np.ndarray:
    kept = _identity(n_in)
    stats = getattr(step, "statistics_", None)
    if not getattr(step, "keep_empty_features", False) and stats is not None:
        empty = pd.isna(pd.Series(np.asarray(stats, dtype=object))).to_numpy()
        if step.strategy != "constant":
            kept = kept[~empty]
    indicator = getattr(step, "indicator_", None)
    if indicator is not None:
        kept = np.concatenate([kept, np.asarray(indicator.features_, dtype=np.int64)])
    return kept


def _step_groups(step: Any, n_in: int) -> np.ndarray:
    """For each output column of a fitted transformer, the input column it comes from."""
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_selection import SelectorMixin
    from sklearn.pipeline import FeatureUnion, Pipeline

    name = _name(step)
    if step is None or (isinstance(step, str) and step == "passthrough"):
        return _identity(n_in)
    if isinstance(step, Pipeline):
        groups = _identity(n_in)
        for _, inner in step.steps:
            groups = groups[_step_groups(inner, len(groups))]
        return groups
    if isinstance(step, ColumnTransformer):
        return _column_transformer(step, n_in)
    if isinstance(step, FeatureUnion):
        parts = [
            _step_groups(t, n_in) for _, t in step.transformer_list if not _is_drop(t)
        ]
        return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)
    if isinstance(step, SelectorMixin):
        return np.flatnonzero(step.get_support())
    if name == "OneHotEncoder":
        groups = _one_hot(step, n_in)
    elif name == "SimpleImputer":
        groups = _imputer(step, n_in)
    elif name == "KBinsDiscretizer" and step.encode != "ordinal":
        groups = np.repeat(_identity(n_in), np.asarray(step.n_bins_, dtype=np.int64))
    elif name == "TargetEncoder":
        per = max(1, (len(step.classes_) if step.target_type_ == "multiclass" else 1))
        groups = np.repeat(_identity(n_in), per)
    elif name in ELEMENTWISE or name == "KBinsDiscretizer" or _one_to_one(step):
        groups = _identity(n_in)
    else:
        raise NoMapping(f"{name} (its outputs are not traced to single input columns)")
    n_out = _n_out(step, n_in)
    if n_out is not None and n_out != len(groups):
        raise NoMapping(f"{name}: {n_out} outputs, but {len(groups)} traced to inputs")
    return groups


def _one_to_one(step: Any) -> bool:
    """A FunctionTransformer that passes columns through (how a fitted ColumnTransformer stores
    ``"passthrough"``) or that its author declared one-to-one."""
    return _name(step) == "FunctionTransformer" and (
        step.func is None or step.feature_names_out == "one-to-one"
    )


def _is_passthrough(step: Any) -> bool:
    return (isinstance(step, str) and step == "passthrough") or (
        _name(step) == "FunctionTransformer" and step.func is None
    )


def _is_drop(step: Any) -> bool:
    return isinstance(step, str) and step == "drop"


def _column_transformer(ct: Any, n_in: int) -> np.ndarray:
    """Outputs of a fitted ColumnTransformer, each traced through its transformer to the input
    column it reads (``output_indices_`` gives each transformer's slice of the output)."""
    inputs = getattr(ct, "_transformer_to_input_indices", None)
    if inputs is None:
        raise NoMapping("ColumnTransformer without its input indices (scikit-learn < 1.2)")
    n_out = sum(s.stop - s.start for s in ct.output_indices_.values())
    groups = np.full(n_out, -1, dtype=np.int64)
    for name, transformer, _ in ct.transformers_:
        cols = np.asarray(inputs.get(name, []), dtype=np.int64)
        out = ct.output_indices_.get(name, slice(0, 0))
        if _is_drop(transformer) or out.stop == out.start:
            continue
        inner = _step_groups(transformer, len(cols))
        if len(inner) != out.stop - out.start:
            raise NoMapping(f"ColumnTransformer part '{name}': output count mismatch")
        groups[out] = cols[inner]
    if (groups < 0).any():
        raise NoMapping("ColumnTransformer outputs not covered by any transformer")
    return groups


def _encoded_names(preprocess: list[Any], raw: tuple[str, ...], n: int) -> tuple[str, ...]:
    names: Any = np.asarray(raw, dtype=object)
    try:
        for step in preprocess:
            if step is None or (isinstance(step, str) and step == "passthrough"):
                continue
            names = step.get_feature_names_out(names)
        out = tuple(str(x) for x in names)
        if len(out) == n and len(set(out)) == n:
            return out
    except Exception:  # a step without output names: fall back to positions
        pass
    return tuple(f"encoded_{i}" for i in range(n))


@dataclass(frozen=True, eq=False)
class PipelineView:
    """A fitted pipeline seen as preprocessing + final estimator, with the encoded -> raw map.

    ``final`` adapts the final estimator over the encoded feature names; ``group[e]`` is the
    position in ``raw_features`` of the raw column encoded feature ``e`` comes from.
    """

    steps: tuple[Any, ...]
    final: ModelAdapter
    raw_features: tuple[str, ...]
    encoded_features: tuple[str, ...]
    group: np.ndarray

    def encode(self, X: pd.DataFrame) -> pd.DataFrame:
        """The raw rows through the preprocessing steps, as a float frame of encoded features."""
        data: Any = X.loc[:, list(self.raw_features)]
        for step in self.steps:
            if step is None or (isinstance(step, str) and step == "passthrough"):
                continue
            data = step.transform(data)
        if hasattr(data, "toarray"):
            data = data.toarray()
        values = data.to_numpy(dtype=float) if isinstance(data, pd.DataFrame) else data
        return pd.DataFrame(
            np.asarray(values, dtype=float), columns=list(self.encoded_features), index=X.index
        )

    def membership(self) -> np.ndarray:
        """(raw x encoded) 0/1 matrix: row i marks the encoded features of raw column i."""
        out = np.zeros((len(self.raw_features), len(self.encoded_features)))
        out[self.group, np.arange(len(self.group))] = 1.0
        return out

    def sum_groups(self, values: np.ndarray) -> np.ndarray:
        """(rows x encoded x outputs) -> (rows x raw x outputs), each raw column the sum of its
        encoded features (0 for a dropped column): one matrix product per output with the 0/1
        (encoded x raw) membership, which BLAS does far faster than a strided reduction."""
        rows, _, outputs = values.shape
        member = np.ascontiguousarray(self.membership().T)  # encoded x raw
        out = np.empty((rows, len(self.raw_features), outputs))
        for k in range(outputs):
            out[:, :, k] = values[:, :, k] @ member
        return out

    def describe(self) -> str:
        """One line: how many encoded features map to how many raw columns."""
        expanded = sum(1 for i in range(len(self.raw_features)) if (self.group == i).sum() > 1)
        dropped = sum(1 for i in range(len(self.raw_features)) if not (self.group == i).any())
        return (
            f"{len(self.encoded_features)} encoded features traced to "
            f"{len(self.raw_features)} raw columns ({expanded} expanded, {dropped} dropped)"
        )

    def regroup_local(self, local: LocalAttribution, data: np.ndarray) -> LocalAttribution:
        """Per-row attributions summed over each raw column's encoded features (additivity is
        kept: the row sums do not change). ``data``: the raw rows as numbers for plots
        (:func:`xai_cli.methods.base.numeric_view`, computed once per run)."""
        values = self.sum_groups(local.values)
        note = (
            f"computed on the encoded matrix by the final estimator "
            f"({self.final.model_class}) and summed to raw columns: {self.describe()}"
        )
        return LocalAttribution(
            method=local.method, unit=local.unit, features=self.raw_features,
            outputs=local.outputs, values=values, base_values=local.base_values,
            data=data, library=local.library,
            notes=(*local.notes, note),
        )  # fmt: skip

    def regroup_table(self, table: ImportanceTable) -> ImportanceTable:
        """Global importances summed over each raw column's encoded features; the unit says so.
        A spread or bootstrap of encoded features does not sum, so it is dropped."""
        values = self.membership() @ table.values
        return ImportanceTable(
            method=table.method, unit=f"{table.unit}:{GROUPED_UNIT}", features=self.raw_features,
            outputs=table.outputs, values=values,
            params={**table.params, "regrouped_from": len(self.encoded_features)},
        )  # fmt: skip


def pipeline_view(model: Any, raw_features: tuple[str, ...]) -> PipelineView:
    """The view of a fitted pipeline; raises :class:`NoMapping` with the reason when its
    encoded features cannot be traced to single raw columns, or its final estimator is not one
    xai recognises."""
    from dataclasses import replace

    from xai_cli.errors import UnsupportedModelError
    from xai_cli.model.adapter import adapt

    steps = tuple(step for _, step in model.steps[:-1])
    final = model.steps[-1][1]
    groups = _identity(len(raw_features))
    for step in steps:
        groups = groups[_step_groups(step, len(groups))]
    n = len(groups)
    if getattr(final, "n_features_in_", n) != n:
        raise NoMapping(f"the final estimator takes {final.n_features_in_} features, not {n}")
    try:
        inner = adapt(final)
    except UnsupportedModelError as exc:
        raise NoMapping(f"final estimator: {exc.message}") from exc
    names = _encoded_names(list(steps), raw_features, n)
    inner = replace(inner, feature_names=names, categorical_features=())
    return PipelineView(steps, inner, raw_features, names, groups)


def model_encoded_columns(model: Any, raw_features: tuple[str, ...]) -> tuple[str, ...]:
    """The raw columns a pipeline encodes itself (xai passes them as read, never coerced):
    the columns read by a transformer that takes text, or by one xai does not know, and the
    columns it drops; every column when the first step is not a ColumnTransformer xai can
    read."""
    from sklearn.compose import ColumnTransformer

    if len(model.steps) == 1:
        return ()  # only the estimator: it takes numbers, as a bare model does
    first = model.steps[0][1]
    if not isinstance(first, ColumnTransformer):
        numeric_only = _name(first) in ELEMENTWISE - {"OrdinalEncoder"}
        return () if numeric_only else raw_features
    inputs = getattr(first, "_transformer_to_input_indices", None) or {}
    out: set[int] = set()
    for name, transformer, _ in first.transformers_:
        if _is_passthrough(transformer):
            continue
        leaf = transformer.steps[0][1] if hasattr(transformer, "steps") else transformer
        if _name(leaf) not in ELEMENTWISE - {"OrdinalEncoder"}:
            out.update(int(i) for i in inputs.get(name, []))
    return tuple(raw_features[i] for i in sorted(out) if i < len(raw_features))


__all__ = [
    "GROUPED_UNIT",
    "NoMapping",
    "PipelineView",
    "is_pipeline",
    "model_encoded_columns",
    "pipeline_view",
]
