"""The typed report sections on single rows, model quality and category labels.

Kept apart from :mod:`xai_cli.report` (which holds one field per section at the end of
:class:`~xai_cli.report.Report`) because they are built by the engine from the run's rows
(:mod:`xai_cli.compare.per_row`, :mod:`xai_cli.run.describe`) and carried on the result as they
are: the numbers are rounded once, when these are made.

* :class:`RowsSection`: for each row chosen with ``--rows``/``--where``, its raw feature values,
  the model's prediction, and every local method's attributions and base value side by side, with
  how far the methods agree on that row.
* :class:`ModelMetrics`: accuracy, ROC AUC and log loss, or R², RMSE and MAE, on the explained
  rows, with the target's base rate.
* :class:`CategoryEntry`: the labels behind a categorical feature's codes in ``local.data``, so
  plots can draw categories as categories.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

Number = float | None
"""A finite number, or ``null`` where it is undefined or was not finite."""


class _Entry(BaseModel):
    """Frozen, strict about unknown keys, filled and dumped by JSON key (``class``)."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        use_attribute_docstrings=True,
    )


class RowMethodEntry(_Entry):
    """One local method's answer for one row."""

    method: str
    unit: str
    base_values: tuple[Number, ...]
    """Per output: the method's expected value (what the attributions start from)."""
    values: tuple[tuple[Number, ...], ...]
    """features x outputs, for the section's ``features``."""
    other: tuple[Number, ...]
    """Per output: the sum of the attributions of features not listed (0 when all are)."""
    total: tuple[Number, ...]
    """Per output: base value + every attribution, the output the method explains."""


class RowAgreementEntry(_Entry):
    """How far two methods agree on one row and output: Spearman correlation of |attribution|
    over the features and the overlap (Jaccard) of their top-k features by |attribution|."""

    method_a: str
    method_b: str
    output: str = Field(alias="class")
    spearman: Number
    topk_jaccard: Number


class RowEntry(_Entry):
    """One chosen row: what it is, what the model said, and every method's reasons."""

    id: str
    """The id column's value, or the row's 0-based position in the data."""
    values: tuple[str | None, ...]
    """The row's raw feature values (category labels as in the data; null = missing), in the
    order of the report's ``features``."""
    target: str | None
    """The row's target value as in the data (null without a target)."""
    prediction: tuple[Number, ...]
    """Per output: the model's raw output (the space tree SHAP values add up to)."""
    probabilities: tuple[Number, ...] | None
    """Per class (``class_labels``): the predicted probability; null for regression."""
    predicted: str | None
    """The predicted class label, or the predicted value as text."""
    shown_output: str
    """The output the waterfalls draw: the predicted class (multiclass), else the only one."""
    methods: tuple[RowMethodEntry, ...]
    agreement: tuple[RowAgreementEntry, ...]


class RowsSection(_Entry):
    """Rows chosen with ``--rows``/``--where``, each explained by every local method."""

    selection: str
    """The selection as asked (``--rows 17,42; --where age > 60``)."""
    id_column: str | None
    features: tuple[str, ...]
    """The features with per-row values: all of them, or the most important ones of a wide
    model (the rest is summed in each method's ``other``)."""
    outputs: tuple[str, ...]
    class_labels: tuple[str, ...]
    top_k: int
    rows: tuple[RowEntry, ...]


class ClassMetric(_Entry):
    """One class of a classifier: its share of the rows and its one-vs-rest ROC AUC."""

    output: str = Field(alias="class")
    base_rate: Number
    roc_auc: Number


class ModelMetrics(_Entry):
    """How good the explained model is on the explained rows (labels given with ``--target``)."""

    task: str
    rows: int
    accuracy: Number = None
    roc_auc: Number = None
    """Binary: of the positive class; multiclass: macro mean of the one-vs-rest AUCs."""
    log_loss: Number = None
    per_class: tuple[ClassMetric, ...] = ()
    r2: Number = None
    rmse: Number = None
    mae: Number = None
    base_rate: Number = None
    """Binary: the positive class's share of the rows; regression: the target's mean;
    multiclass: the majority class's share (each class's is in ``per_class``)."""


class CategoryEntry(_Entry):
    """The labels of a categorical feature's values as ``local.data`` holds them."""

    feature: str
    codes: tuple[float, ...]
    """The numbers that stand for the categories in ``local.data``."""
    labels: tuple[str, ...]
    """The category label of each code."""
    more: int = 0
    """Categories beyond the ones listed (a high-cardinality feature keeps its first ones)."""
