"""Routing parity: xai's parsed trees send every row to the leaf the library predicts with.

xai's TreeSHAP kernels explain a row through the leaves of its own parse of the model
(:mod:`xai_cli.model.parsers`). If the parse routes a row differently from the library (a float32
cast missed, a categorical split or a missing-value direction read wrong), the row is explained
through the wrong leaf while the explanation still looks plausible; shapiq found such silent
routing bugs in its own kernels in 2026. The check predicts with the parse and with the library on
the check rows *plus* crafted rows that sit exactly on split thresholds, just below them (a
float64 value that rounds up to the threshold in float32), and missing: where routing can go
wrong. It applies to the model (and so to every method that explains through the parse).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from xai_cli.methods.tables import kernels
from xai_cli.model.forest import UnsupportedForest
from xai_cli.model.parsers import PARSERS
from xai_cli.validate.checks import MODEL, Check, judged, skip
from xai_cli.validate.context import Subject

FAMILY = "routing"
MAX_CRAFTED = 3000
"""Most crafted threshold rows (a seeded sample of split nodes when there are more)."""


def _below(threshold: float) -> float:
    """A float64 just below ``threshold`` that float32 rounds up to ``threshold``."""
    t32 = np.float32(threshold)
    lower = np.nextafter(t32, np.float32(-np.inf))
    return float(t32) - (float(t32) - float(lower)) / 4


def crafted_rows(subject: Subject, forest, rng: np.random.Generator) -> pd.DataFrame:  # noqa: ANN001
    """Rows of the check sample with one numeric feature set on, just below, and (where the
    column allows) missing at a split threshold of that feature."""
    X = subject.X
    names = list(subject.adapter.feature_names)
    numeric = {
        j for j, n in enumerate(names)
        if n not in subject.adapter.categorical_features
        and (pd.api.types.is_float_dtype(X[n]) or pd.api.types.is_integer_dtype(X[n]))
    }  # fmt: skip
    nodes = [g for g in np.flatnonzero(forest.left >= 0)
             if forest.rule[g] < 2 and int(forest.feature[g]) in numeric]  # fmt: skip
    if len(nodes) > MAX_CRAFTED // 3:
        nodes = sorted(rng.choice(nodes, MAX_CRAFTED // 3, replace=False))
    if not nodes:
        return X.iloc[:0]
    base = X.iloc[rng.integers(0, len(X), 3 * len(nodes))].reset_index(drop=True)
    base = base.astype({n: float for n in (names[j] for j in numeric)})
    for i, g in enumerate(nodes):
        col = names[int(forest.feature[g])]
        t = float(forest.threshold[g])
        base.loc[3 * i, col] = t
        base.loc[3 * i + 1, col] = _below(t)
        base.loc[3 * i + 2, col] = np.nan
    return base


def routing_parity(subject: Subject) -> Check:
    """The parse's predictions against the library's on check rows and threshold rows."""
    adapter = subject.adapter
    if adapter.family not in PARSERS:
        return skip(
            FAMILY,
            "routing_parity",
            MODEL,
            f"no tree parse for {adapter.family}: methods use the library's own code",
        )
    try:
        parsed = PARSERS[adapter.family](adapter)
    except UnsupportedForest as exc:
        return skip(FAMILY, "routing_parity", MODEL, f"trees not parsed ({exc}): methods use "
                    "the library's own code")  # fmt: skip
    f = parsed.forest
    rng = np.random.default_rng(subject.request.seed + 3)
    crafted = crafted_rows(subject, f, rng)
    try:
        library = np.asarray(adapter.predict_raw(crafted), dtype=float).reshape(len(crafted), -1)
    except Exception:  # a model refusing missing values or floats: keep the ordinary rows
        crafted = crafted.iloc[:0]
        library = np.zeros((0, len(adapter.outputs)))
    frame = pd.concat([subject.X, crafted], ignore_index=True) if len(crafted) else subject.X
    raw = np.vstack([subject.raw, library]) if len(crafted) else subject.raw
    leaves = kernels.predict(
        np.ascontiguousarray(parsed.encode(frame), dtype=np.float64), f.n_outputs,
        f.tree_offsets, f.tree_output, f.left, f.right, f.feature, f.threshold, f.rule,
        f.missing, f.default_left, f.cat_offsets, f.cat_values, f.value,
    )  # fmt: skip
    gaps = raw - leaves
    offset = np.median(gaps[: len(subject.X)], axis=0)
    off = np.abs(gaps - offset).max(axis=1)
    tolerance = 1e-6 * max(1.0, float(np.abs(raw).max()))
    wrong = int((off > tolerance).sum())
    check = judged(
        FAMILY, "routing_parity", MODEL, float(wrong), 0.0, "<=",
        what=f"rows whose parsed-tree prediction differs from {adapter.family}'s (of "
        f"{len(frame)}: {len(subject.X)} sampled, {len(crafted)} on/below/missing at split "
        "thresholds)",
        details={"rows": len(frame), "crafted": len(crafted), "max_gap": float(off.max())},
    )  # fmt: skip
    return check
