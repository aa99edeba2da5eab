"""xai-cli: run every explanation method that applies to a tabular model, side by side.

Public API: :func:`xai_cli.run.engine.explain` runs the whole flow and returns an
:class:`xai_cli.results.ExplainResult`; the CLI (``xai``) is a thin layer over it.
"""

__version__ = "0.1.0"
SCHEMA_VERSION = "1.0"

__all__ = ["SCHEMA_VERSION", "__version__"]
