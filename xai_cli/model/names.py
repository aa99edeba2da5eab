"""Feature names as the model knows them, matched to the data's columns.

Libraries change names when they store them: LightGBM replaces spaces with ``_`` (``mean radius``
is stored as ``mean_radius``, see ``Dataset::set_feature_names`` in LightGBM's C++ sources) and
refuses JSON's special characters; XGBoost refuses ``[``, ``]`` and ``<``, so users replace them
before training. A model trained that way has names that are not the data's. Each rule below is
tried in order on the names that are still unmatched, and a model name is matched to a data column
only when the rule pairs them one-to-one (no other model name or column has the same key). The
run then uses the data's names everywhere (reports, plots) and passes the model its own names; a
note lists every pair. Anything left unmatched gets the usual "did you mean" error.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import replace

from xai_cli.model.adapter import ModelAdapter

Rule = tuple[str, Callable[[str], str]]

RULES: tuple[Rule, ...] = (
    ("LightGBM stores spaces as '_'", lambda s: s.replace(" ", "_")),
    (
        "characters other than letters, digits and '_' replaced by '_' (as users make names "
        "XGBoost and LightGBM accept)",
        lambda s: re.sub(r"[^0-9A-Za-z_]", "_", s),
    ),
    (
        "names equal once case and punctuation are ignored",
        lambda s: re.sub(r"[\W_]+", "", s).lower(),
    ),
)
"""How a stored name may differ from the column it came from, most specific first."""


def match_names(model_names: Iterable[str], columns: Iterable[str]) -> dict[str, tuple[str, str]]:
    """``{model name: (data column, rule)}`` for the model names not among ``columns`` that one
    rule pairs one-to-one with a column not among the model's names."""
    names, cols = list(model_names), list(columns)
    missing = [n for n in names if n not in set(cols)]
    spare = [c for c in cols if c not in set(names)]
    found: dict[str, tuple[str, str]] = {}
    for label, key in RULES:
        left = [n for n in missing if n not in found]
        used = {c for c, _ in found.values()}
        free = [c for c in spare if c not in used]
        col_keys = Counter(key(c) for c in free)
        name_keys = Counter(key(n) for n in left)
        by_key = {key(c): c for c in free}
        for n in left:
            k = key(n)
            if col_keys.get(k) == 1 and name_keys[k] == 1:
                found[n] = (by_key[k], label)
    return found


def align_names(
    adapter: ModelAdapter, columns: Iterable[str], exclude: Iterable[str] = ()
) -> ModelAdapter:
    """``adapter`` renamed to the data's columns where its stored names differ only by a
    library's sanitising (:func:`match_names`); unchanged when nothing matches. ``exclude``:
    columns that are not features (the target, dropped columns)."""
    if not adapter.feature_names_known or adapter.pipeline is not None:
        return adapter
    skip = set(exclude)
    found = match_names(adapter.feature_names, [c for c in columns if c not in skip])
    if not found:
        return adapter
    rename = {n: c for n, (c, _) in found.items()}
    pairs = "; ".join(f"'{c}' -> '{n}' ({rule})" for n, (c, rule) in list(found.items())[:8])
    more = f" and {len(found) - 8} more" if len(found) > 8 else ""
    note = (
        f"{len(found)} of the data's column names differ from the names the model stores, "
        f"matched one-to-one: {pairs}{more}; reports use the data's names"
    )
    return replace(
        adapter,
        feature_names=tuple(rename.get(n, n) for n in adapter.feature_names),
        categorical_features=tuple(rename.get(n, n) for n in adapter.categorical_features),
        native_names=adapter.native_names or adapter.feature_names,
        notes=(*adapter.notes, note),
    )
