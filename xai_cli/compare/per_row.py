"""Why this row? Every local method's attributions for each chosen row, side by side.

Methods disagree most on single rows: TreeSHAP's path-dependent values and the interventional
ones can give the same feature opposite signs on one applicant while their global rankings agree.
For each row chosen with ``--rows``/``--where`` this keeps the row's raw values, the model's
prediction, each method's attributions and base value, and per output how far every pair of
methods agrees on that row (Spearman of |attribution| over the features, and top-k overlap).
"""

from __future__ import annotations

import itertools
import math
from typing import TYPE_CHECKING

import numpy as np
from scipy import stats

from xai_cli.compare.agreement import _correlation, jaccard, top_k
from xai_cli.report_rows import RowAgreementEntry, RowEntry, RowMethodEntry, RowsSection

if TYPE_CHECKING:
    import pandas as pd

    from xai_cli.load.select import ChosenRows
    from xai_cli.model.adapter import ModelAdapter
    from xai_cli.results import LocalAttribution

MAX_ROW_FEATURES = 100
"""Per-row values are listed for at most this many features (the most important); the rest of
each method's attribution is kept as one sum, so a row still adds up."""


def _n(value: float, digits: int = 8) -> float | None:
    value = float(value)
    return float(f"{value:.{digits}g}") if math.isfinite(value) else None


def row_agreement(
    a: LocalAttribution, b: LocalAttribution, row: int, k: int
) -> list[RowAgreementEntry]:
    """Per shared output: Spearman of |attribution| over the features, and top-k Jaccard."""
    out = []
    for output in [o for o in a.outputs if o in b.outputs]:
        va = np.abs(a.values[row, :, a.outputs.index(output)])
        vb = np.abs(b.values[row, :, b.outputs.index(output)])
        out.append(
            RowAgreementEntry(
                method_a=a.method,
                method_b=b.method,
                output=output,
                spearman=_n(s, 6) if (s := _correlation(stats.spearmanr, va, vb)) is not None
                else None,
                topk_jaccard=_n(jaccard(top_k(va, a.features, k), top_k(vb, b.features, k)), 6),
            )
        )
    return out


def _listed(locals_: list[LocalAttribution], rows: tuple[int, ...]) -> np.ndarray:
    """Indices of the features listed per row: all, or the :data:`MAX_ROW_FEATURES` with the
    largest |attribution| summed over the chosen rows, methods and outputs (in model order)."""
    n = locals_[0].values.shape[1]
    if n <= MAX_ROW_FEATURES:
        return np.arange(n)
    weight = sum(np.abs(loc.values[list(rows)]).sum(axis=(0, 2)) for loc in locals_)
    return np.sort(np.argsort(-weight, kind="stable")[:MAX_ROW_FEATURES])


def explain_rows(
    chosen: ChosenRows,
    adapter: ModelAdapter,
    X: pd.DataFrame,
    locals_: list[LocalAttribution],
    k: int,
) -> RowsSection:
    """The :class:`RowsSection` of the chosen rows from every local method's values.

    ``locals_`` hold per-row values for every row of ``X`` (the engine passes those that do).
    """
    positions = chosen.positions
    subset = X.iloc[list(positions)]
    raw = adapter.predict_raw(subset)
    scores = np.asarray(adapter.predict_scores(subset), dtype=float)
    probabilities = scores.reshape(len(subset), -1) if adapter.is_classifier else None
    listed = _listed(locals_, positions) if locals_ else np.arange(len(adapter.feature_names))
    names = tuple(adapter.feature_names[i] for i in listed)
    entries = []
    for n, row in enumerate(positions):
        methods = []
        for loc in locals_:
            values = loc.values[row]  # features x outputs
            other = values.sum(axis=0) - values[listed].sum(axis=0)
            methods.append(
                RowMethodEntry(
                    method=loc.method,
                    unit=loc.unit,
                    base_values=tuple(_n(v) for v in loc.base_values[row]),
                    values=tuple(tuple(_n(v, 6) for v in f) for f in values[listed]),
                    other=tuple(_n(v, 6) for v in other),
                    total=tuple(_n(v) for v in loc.base_values[row] + values.sum(axis=0)),
                )
            )
        agreement = [
            e for a, b in itertools.combinations(locals_, 2) for e in row_agreement(a, b, row, k)
        ]
        probs = None if probabilities is None else probabilities[n]
        if probs is not None:
            best = int(np.argmax(probs))
            predicted = adapter.class_labels[best] if best < len(adapter.class_labels) else None
        else:
            predicted = f"{float(scores.reshape(len(subset), -1)[n, 0]):.6g}"
        shown = (
            predicted if adapter.task == "multiclass" and predicted in adapter.outputs
            else adapter.outputs[0]
        )  # fmt: skip
        entries.append(
            RowEntry(
                id=chosen.labels[n],
                values=tuple(chosen.raw[n][i] for i in listed),
                target=chosen.targets[n],
                prediction=tuple(_n(v) for v in raw[n]),
                probabilities=None if probs is None else tuple(_n(v) for v in probs),
                predicted=predicted,
                shown_output=shown or adapter.outputs[0],
                methods=tuple(methods),
                agreement=tuple(agreement),
            )
        )
    return RowsSection(
        selection=chosen.asked,
        id_column=chosen.id_column,
        features=names,
        outputs=adapter.outputs,
        class_labels=adapter.class_labels if adapter.is_classifier else (),
        top_k=k,
        rows=tuple(entries),
    )
