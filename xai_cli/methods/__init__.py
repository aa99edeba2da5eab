"""The registry of explanation backends: one module per backend, one dict of method ids.

``REGISTRY`` is ordered by preference; ``auto`` walks it and keeps every rejection reason.
A backend with ``in_auto = False`` runs only when named (e.g. ``treeshap.interventional``).
"""

from __future__ import annotations

from xai_cli.methods import (
    native_catboost,
    native_lightgbm,
    native_xgboost,
    permutation,
    sklearn_impurity,
    treeshap,
    treeshap_interventional,
)
from xai_cli.methods.base import ExplainContext, Explainer, Support

_MODULES = (
    treeshap,
    native_xgboost,
    native_lightgbm,
    native_catboost,
    sklearn_impurity,
    permutation,
    treeshap_interventional,
)

REGISTRY: dict[str, Explainer] = {e.name: e for m in _MODULES for e in m.EXPLAINERS}
"""Every method id, in the order ``auto`` prefers them."""

__all__ = ["REGISTRY", "ExplainContext", "Explainer", "Support"]
