"""xai-cli: run every explanation method that applies to a tabular model, side by side.

The library is object-first, like scikit-learn and shap::

    import xai_cli as xai
    r = xai.explain(model, X, y)       # a fitted model and a DataFrame
    r.importances, r.agreement         # pandas DataFrames
    r.save("reports/")                 # the same reports as the CLI

:func:`explain_files` takes file paths instead (what the ``xai`` CLI calls). Names are imported
lazily, so ``import xai_cli`` (and ``xai --version``) stays instant.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
SCHEMA_VERSION = "1.0"

_LAZY = {
    "explain": "xai_cli.api",
    "explain_files": "xai_cli.api",
    "validate": "xai_cli.api",
    "Explanation": "xai_cli.explanation",
    "ExplainRequest": "xai_cli.request",
    "ExplainResult": "xai_cli.results",
    "ImportanceTable": "xai_cli.results",
    "LocalAttribution": "xai_cli.results",
    "XaiError": "xai_cli.errors",
}

if TYPE_CHECKING:
    from xai_cli.api import explain, explain_files, validate
    from xai_cli.errors import XaiError
    from xai_cli.explanation import Explanation
    from xai_cli.request import ExplainRequest
    from xai_cli.results import ExplainResult, ImportanceTable, LocalAttribution


def __getattr__(name: str) -> Any:
    """Import public names on first use (PEP 562)."""
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'xai_cli' has no attribute {name!r}")


__all__ = [
    "SCHEMA_VERSION",
    "ExplainRequest",
    "ExplainResult",
    "Explanation",
    "ImportanceTable",
    "LocalAttribution",
    "XaiError",
    "__version__",
    "explain",
    "explain_files",
    "validate",
]
