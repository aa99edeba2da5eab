"""Report renderers. Each takes the typed report (:class:`xai_cli.report.Report`) and returns
text; none recomputes anything, so a saved ``report.json`` re-renders identically."""
