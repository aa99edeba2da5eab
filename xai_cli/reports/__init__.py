"""Report renderers. Each takes the report document (see :mod:`xai_cli.reports.document`) and
returns text; none recomputes anything, so a saved ``report.json`` re-renders identically."""
