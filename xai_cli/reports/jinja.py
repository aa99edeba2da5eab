"""The one Jinja2 environment of the HTML renderers: package templates, autoescaping on.

Autoescaping is what keeps user-supplied strings (feature names, paths, messages) inert in HTML;
``StrictUndefined`` turns a renderer's typo into an error instead of an empty cell.
"""

from __future__ import annotations

import jinja2

ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("xai_cli", "reports/templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
