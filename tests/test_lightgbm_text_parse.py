"""LightGBM's trees read from the model text (:func:`xai_cli.model.parsers.parse_lightgbm`, numpy)
give exactly the forest the ``dump_model`` JSON parse gives (:func:`parse_lightgbm_dump`): every
array equal, on numeric, missing-value (NaN, Zero, None), categorical, multiclass and
``num_iteration``-limited models and single-leaf trees; and the comparison fails on a changed
forest."""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.helpers_trees import make_data
from xai_cli.model import parsers
from xai_cli.model.adapter import adapt
from xai_cli.model.forest import Forest

lgb = pytest.importorskip("lightgbm")


def differences(a: Forest, b: Forest) -> list[str]:
    """Names of the fields where two forests differ (NaN equal to NaN)."""
    out = []
    for f in fields(Forest):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, np.ndarray):
            if x.shape != y.shape or not np.array_equal(x, y, equal_nan=x.dtype.kind == "f"):
                out.append(f.name)
        elif x != y:
            out.append(f.name)
    return out


def with_missing(X: pd.DataFrame) -> pd.DataFrame:
    X = X.copy()
    X.loc[X.index[::6], "x0"] = np.nan
    X.loc[X.index[::5], "x1"] = 0.0
    return X


def categorical() -> tuple[pd.DataFrame, pd.Series]:
    X, _ = make_data("binary", n=400, n_features=4, constant=False)
    rng = np.random.default_rng(3)
    levels = np.array(list("abcdefghij"))
    color = pd.Series(levels[rng.integers(0, 10, size=len(X))], dtype="object")
    color[::9] = None
    X["color"] = pd.Categorical(color, categories=list(levels))
    y = X["x0"] + np.where(color.isin(["b", "d", "h"]), 2.0, -1.0) + rng.normal(0, 0.3, len(X))
    return X, pd.Series((y > 0).astype(int))


def model(kind: str) -> Any:
    common = {"n_estimators": 15, "num_leaves": 20, "random_state": 0, "verbose": -1}
    if kind == "categorical":
        X, y = categorical()
        return lgb.LGBMClassifier(min_data_per_group=5, cat_smooth=1, **common).fit(X, y)
    if kind == "single_leaf":  # no split meets min_child_samples: every tree is one leaf
        X, y = make_data("regression")
        return lgb.LGBMRegressor(n_estimators=3, min_child_samples=250, verbose=-1).fit(X, y)
    task = "multiclass" if kind == "multiclass" else "regression"
    X, y = make_data(task)
    X = with_missing(X)
    if kind == "multiclass":
        return lgb.LGBMClassifier(**common).fit(X, y)
    extra = {"zero": {"zero_as_missing": True}, "none": {"use_missing": False}}.get(kind, {})
    return lgb.LGBMRegressor(**common, **extra).fit(X, y)


@pytest.mark.parametrize(
    "kind", ["nan", "zero", "none", "categorical", "multiclass", "single_leaf"]
)
def test_text_parse_equals_dump_parse(kind: str) -> None:
    adapter = adapt(model(kind))
    text, dump = parsers.parse_lightgbm(adapter).forest, parsers.parse_lightgbm_dump(adapter).forest
    assert differences(text, dump) == []
    if kind == "categorical":
        assert (text.rule == parsers.IN_SET_LEFT).any() and len(text.cat_values) > 0
    if kind in ("zero", "none"):
        assert (text.missing[text.left >= 0] != parsers.NAN_DEFAULT).any()
    if kind == "single_leaf":
        assert text.n_nodes == text.n_trees  # LightGBM stops after the first such tree
        return
    # the check is a real one: a changed threshold or leaf value is found
    changed = replace(text, threshold=text.threshold + (text.left >= 0) * 1e-12)
    assert differences(changed, dump) == ["threshold"]
    assert differences(replace(text, value=text.value * 1.0000001), dump) == ["value"]


def test_iteration_limit_is_kept() -> None:
    m = model("multiclass")
    adapter = replace(adapt(m), n_iterations=4) if hasattr(adapt(m), "n_iterations") else None
    assert adapter is not None
    text, dump = parsers.parse_lightgbm(adapter).forest, parsers.parse_lightgbm_dump(adapter).forest
    assert text.n_trees == 4 * 3
    assert differences(text, dump) == []
