"""The registry of explanation backends: one module per backend, one dict of method ids.

``REGISTRY`` is ordered by preference; ``auto`` walks it and keeps every rejection reason.
A backend with ``in_auto = False`` runs only when named (e.g. ``treeshap.interventional``).
Every backend declares its parameters and capabilities (:class:`Explainer`); the registry checks
the declarations at import, and :func:`validate_params` is the one gate every entry point (the
command line, the config, :class:`xai_cli.request.ExplainRequest`) sends parameters through.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from xai_cli.errors import MethodError, ParamError
from xai_cli.methods import (
    agnostic,
    native_catboost,
    native_lightgbm,
    native_xgboost,
    permutation,
    sklearn_impurity,
    treeshap,
    treeshap_interventional,
)
from xai_cli.methods.base import ExplainContext, Explainer, Support, check_declared
from xai_cli.methods.params import MethodParams, NoParams, did_you_mean, parse

_MODULES = (
    treeshap,
    native_xgboost,
    native_lightgbm,
    native_catboost,
    sklearn_impurity,
    permutation,
    treeshap_interventional,
    agnostic,
)

REGISTRY: dict[str, Explainer] = {e.name: e for m in _MODULES for e in m.EXPLAINERS}
"""Every method id, in the order ``auto`` prefers them."""

for _explainer in REGISTRY.values():
    check_declared(_explainer)

AUTO = "auto"
"""The method list that means every applicable method ``in_auto``."""


def unknown_method(name: str, *, allow_auto: bool = False) -> str:
    """``unknown method 'x' (did you mean 'y'?)`` for a name that is not a method id."""
    choices = [*REGISTRY, *([AUTO] if allow_auto else [])]
    return f"unknown method '{name}'{did_you_mean(name, choices)}"


def check_methods(names: Iterable[str]) -> tuple[str, ...]:
    """``names`` as given, after checking each is a method id (or ``auto``).

    Raises :class:`MethodError` with a "did you mean" for the first unknown one.
    """
    names = tuple(names)
    for name in names:
        if name != AUTO and name not in REGISTRY:
            raise MethodError(
                unknown_method(name, allow_auto=True),
                hint="`xai methods MODEL` lists the methods and which apply",
            )
    return names


def validate_params(method_params: Mapping[str, Any]) -> dict[str, MethodParams]:
    """Each method's parameters validated by the model it declares: ``{method: params}``.

    Values may be mappings (text is coerced: ``"3"`` -> ``3``) or the method's model already.
    Raises :class:`ParamError` for an unknown method (with a "did you mean"), an unknown
    parameter name (likewise), a value of the wrong type, or one out of range.
    """
    out: dict[str, MethodParams] = {}
    for method, values in method_params.items():
        if method not in REGISTRY:
            raise ParamError(
                f"parameters given for {unknown_method(method)}",
                hint="`xai methods MODEL` lists the method ids",
            )
        out[method] = parse(method, REGISTRY[method].params, values)
    return out


def with_params(
    explainer: Explainer, given: Mapping[str, MethodParams], **run_wide: Any
) -> MethodParams:
    """``explainer``'s typed parameters for a run: the ones given, else its defaults, plus each
    run-wide setting (``n_jobs=4``) that the method declares and was not given for it alone."""
    params = given.get(explainer.name)
    own = {} if params is None else params.model_dump(exclude_unset=True)
    fields = explainer.params.model_fields
    extra = {k: v for k, v in run_wide.items() if v is not None and k in fields and k not in own}
    return parse(explainer.name, explainer.params, {**own, **extra})


def taking_params() -> dict[str, Explainer]:
    """The methods that declare at least one parameter, in registry order."""
    return {n: e for n, e in REGISTRY.items() if e.params.model_fields}


__all__ = [
    "AUTO",
    "REGISTRY",
    "ExplainContext",
    "Explainer",
    "MethodParams",
    "NoParams",
    "Support",
    "check_methods",
    "taking_params",
    "unknown_method",
    "validate_params",
    "with_params",
]
