"""The ``effects`` section of ``report.json``: how features act, beyond one importance each.

``effects.interactions`` is what ``treeshap.interactions`` found; ``effects.partial_dependence``
holds the partial dependence and ICE curves of ``partial_dependence`` (any model).

Built once from the run's :class:`~xai_cli.methods.treeshap_interactions.InteractionSummary`
(every number rounded here, so renderers recompute nothing): the mean |interaction| matrix of the
most involved features, the top interacting pairs, and per feature its *interaction mass*, the
share of its mean |attribution| that comes from interactions with other features rather than from
its main effect. A feature with a large mass is one whose importance depends on other features'
values: gain and permutation credit it very differently from its main effect, so the mass is one
measured reason why native importances, SHAP and permutation disagree.

Values follow shap's and XGBoost's convention: ``phi_ij = phi_ji`` is half the pair's Shapley
interaction index (the pair's total is twice it) and ``phi_ii`` is the main effect. The pooled
numbers (output ``all``) add |phi| over outputs, as pooled importances do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from xai_cli.methods.treeshap_interactions import InteractionSummary
    from xai_cli.results import ExplainResult

MATRIX_FEATURES = 20
"""The matrix (and the heatmap) keeps the features with the largest interaction totals."""
TOP_PAIRS = 20
SAMPLE_FEATURES = 10
"""Per-row matrices in the report hold only the top features (100 rows x 10 x 10 x outputs)."""


Number = float | None
"""A finite number, or ``null`` (as in :mod:`xai_cli.report`)."""


class _Entry(BaseModel):
    """Frozen and strict about unknown keys, like every part of :class:`xai_cli.report.Report`
    (its own base is not imported: ``report.py`` imports this module)."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


class InteractionPair(_Entry):
    """One pair of features: mean |phi_ab| over rows (pooled over outputs), and the pair's share
    of all mean |attribution| (both halves, ``2 * mean_abs`` over the matrix total)."""

    feature_a: str
    feature_b: str
    mean_abs: Number
    share: Number


class FeatureInteraction(_Entry):
    """One feature's split of its mean |attribution| into main effect and interactions."""

    feature: str
    main_effect: Number
    """mean |phi_ii| (pooled over outputs)."""
    interaction: Number
    """sum over the other features j of mean |phi_ij|."""
    mass: Number
    """interaction / (main_effect + interaction): 0 = purely additive, 1 = only interactions."""
    partner: str | None
    """The feature it interacts with most (largest mean |phi_ij|), or null when it has none."""


class InteractionsSection(_Entry):
    """Interaction values of ``method`` over ``rows`` rows (see the module docstring)."""

    method: str
    unit: str
    rows: int
    outputs: tuple[str, ...]
    features: tuple[str, ...]
    """The matrix's features: the :data:`MATRIX_FEATURES` with the largest row totals."""
    matrix: tuple[tuple[Number, ...], ...]
    """features x features: mean |phi_ij| pooled over outputs (diagonal: main effects)."""
    pairs: tuple[InteractionPair, ...]
    """The :data:`TOP_PAIRS` strongest pairs, strongest first."""
    per_feature: tuple[FeatureInteraction, ...]
    """Every feature, in model order."""
    categories: dict[str, tuple[str, ...]] = {}
    """Labels of categorical features' codes in ``local.data`` (code c is ``categories[f][c]``)."""
    sample_features: tuple[str, ...] = ()
    sample_rows: tuple[int, ...] = ()
    """Positions (in the explained rows) of the rows whose matrices are kept."""
    sample: tuple[tuple[tuple[tuple[Number, ...], ...], ...], ...] = ()
    """rows x sample_features x sample_features x outputs: the kept per-row matrices."""


class DependenceCurve(_Entry):
    """One feature's partial dependence over its grid, and the kept rows' ICE lines."""

    feature: str
    grid: tuple[Number, ...]
    """Grid values; for a categorical feature the positions 0, 1, ... of ``labels``."""
    labels: tuple[str, ...] = ()
    """Category labels of a categorical feature's grid (empty for a numeric one)."""
    pd: tuple[Number, ...]
    ice: tuple[tuple[Number, ...], ...]


class PartialDependenceSection(_Entry):
    """Curves of ``method`` for output ``output`` (raw model output), top features first."""

    method: str
    unit: str
    output: str
    rows: int
    curves: tuple[DependenceCurve, ...]


class EffectsSection(_Entry):
    """Interaction values and partial dependence; each present when its method ran."""

    interactions: InteractionsSection | None = None
    partial_dependence: PartialDependenceSection | None = None


PD_CURVES = 10
"""The report keeps the curves of the features with the largest partial-dependence importance."""


def section(result: ExplainResult) -> EffectsSection | None:
    """The effects of the first method of each kind that ran, else ``None``."""
    from xai_cli.methods.partial_dependence import PartialDependenceTable
    from xai_cli.methods.treeshap_interactions import InteractionAttribution

    interactions = pd = None
    for outcome in result.outcomes:
        local, table = outcome.local, outcome.table
        if interactions is None and isinstance(local, InteractionAttribution) \
                and local.interactions is not None:
            interactions = from_summary(local.method, local.unit, local.interactions)
        if pd is None and isinstance(table, PartialDependenceTable):
            pd = _pd_section(table)
    if interactions is None and pd is None:
        return None
    return EffectsSection(interactions=interactions, partial_dependence=pd)


def _pd_section(table: object) -> PartialDependenceSection:
    import numpy as np

    from xai_cli.methods.partial_dependence import PartialDependenceTable
    from xai_cli.report import _num

    assert isinstance(table, PartialDependenceTable)
    order = np.argsort(-table.column(), kind="stable")[:PD_CURVES]
    curves = []
    for i in order:
        c = table.curves[i]
        if not c.grid:
            continue
        curves.append(DependenceCurve(
            feature=c.feature, grid=tuple(_num(v, 6) for v in c.grid), labels=c.labels,
            pd=tuple(_num(v, 6) for v in c.pd),
            ice=tuple(tuple(_num(v, 5) for v in line) for line in c.ice),
        ))
    return PartialDependenceSection(
        method=table.method, unit=table.unit, output=table.output,
        rows=int(table.params.get("rows", 0)), curves=tuple(curves),
    )


def from_summary(method: str, unit: str, s: InteractionSummary) -> InteractionsSection:
    """Round and trim a run's summary into the report section."""
    import numpy as np

    from xai_cli.report import _matrix, _num

    pooled = s.pooled()
    n = len(s.features)
    diag = np.diag(pooled).copy()
    off = pooled - np.diag(diag)
    inter = off.sum(axis=1)
    total_row = diag + inter
    order = np.argsort(-total_row, kind="stable")
    keep = np.sort(order[:MATRIX_FEATURES])
    grand = float(pooled.sum()) or 1.0
    iu, ju = np.triu_indices(n, 1)
    strength = off[iu, ju]
    top = np.argsort(-strength, kind="stable")[:TOP_PAIRS]
    pairs = tuple(
        InteractionPair(
            feature_a=s.features[iu[t]], feature_b=s.features[ju[t]],
            mean_abs=_num(float(strength[t]), 6), share=_num(2 * float(strength[t]) / grand, 6),
        )
        for t in top
        if strength[t] > 0
    )
    per_feature = []
    for i, name in enumerate(s.features):
        partner = int(np.argmax(off[i])) if n > 1 else -1
        total = float(total_row[i])
        per_feature.append(
            FeatureInteraction(
                feature=name, main_effect=_num(float(diag[i]), 6),
                interaction=_num(float(inter[i]), 6),
                mass=_num(float(inter[i]) / total, 6) if total > 0 else None,
                partner=s.features[partner] if partner >= 0 and off[i, partner] > 0 else None,
            )
        )
    sample_keep = np.sort(order[: min(SAMPLE_FEATURES, n)])
    sample = s.sample[:, sample_keep][:, :, sample_keep] if len(s.sample) else s.sample
    return InteractionsSection(
        method=method, unit=unit, rows=s.rows, outputs=s.outputs,
        features=tuple(s.features[i] for i in keep),
        matrix=_matrix(pooled[np.ix_(keep, keep)]),
        pairs=pairs, per_feature=tuple(per_feature), categories=dict(s.categories),
        sample_features=tuple(s.features[i] for i in sample_keep),
        sample_rows=tuple(int(r) for r in s.sample_rows),
        sample=_matrix(sample) if len(sample) else (),
    )

