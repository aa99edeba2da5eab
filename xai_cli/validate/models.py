"""Copies of the user's model for the checks that need another one: leaf values randomised
(T10) and refits on other data (planted probes, T11). The user's model object is never changed.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import re
from typing import Any

import numpy as np
import pandas as pd

from xai_cli.model.adapter import ModelAdapter, adapt


class CannotCopy(Exception):
    """The model family has no way to make the copy; the message says why (a SKIP reason)."""


def _xgboost_leaves(booster: Any, rng: np.random.Generator) -> Any:
    import xgboost as xgb

    model = json.loads(booster.save_raw("json"))
    for tree in model["learner"]["gradient_booster"]["model"]["trees"]:
        left = np.asarray(tree["left_children"])
        leaves = np.flatnonzero(left < 0)
        moved = rng.permutation(leaves)
        for key in ("split_conditions", "base_weights"):
            values = np.asarray(tree[key], dtype=float)
            values[leaves] = values[moved]
            tree[key] = values.tolist()
    out = xgb.Booster()
    out.load_model(bytearray(json.dumps(model).encode()))
    out.load_config(booster.save_config())  # same threads and settings as the user's model
    return out


def _lightgbm_leaves(booster: Any, rng: np.random.Generator) -> Any:
    import lightgbm as lgb

    def shuffle(match: re.Match[str]) -> str:
        values = match.group(1).split(" ")
        return "leaf_value=" + " ".join(values[i] for i in rng.permutation(len(values)))

    text = re.sub(r"^leaf_value=(.*)$", shuffle, booster.model_to_string(), flags=re.M)
    return lgb.Booster(model_str=text)


def _sklearn_leaves(model: Any, rng: np.random.Generator) -> Any:
    model = copy.deepcopy(model)
    estimators = list(np.ravel(model.estimators_)) if hasattr(model, "estimators_") else [model]
    for est in estimators:
        tree = est.tree_
        leaves = np.flatnonzero(tree.children_left < 0)
        tree.value[leaves] = tree.value[rng.permutation(leaves)]
    return model


def _sklearn_weights(model: Any, rng: np.random.Generator) -> Any:
    model = copy.deepcopy(model)
    if hasattr(model, "coefs_"):  # MLP: every layer's weights shuffled
        model.coefs_ = [w.ravel()[rng.permutation(w.size)].reshape(w.shape) for w in model.coefs_]
    elif hasattr(model, "coef_"):
        coef = np.asarray(model.coef_)
        model.coef_ = coef.ravel()[rng.permutation(coef.size)].reshape(coef.shape) * -1.0
    else:
        raise CannotCopy(f"no weights to randomise in {type(model).__name__}")
    return model


def randomised(adapter: ModelAdapter, seed: int) -> ModelAdapter:
    """The model with its leaf values permuted within each tree (structure kept, function
    destroyed: evaluation_methods.md §6.2 SC-2), or its weights shuffled (linear models, MLPs)."""
    rng = np.random.default_rng(seed)
    if adapter.family == "xgboost":
        native = _xgboost_leaves(adapter.native, rng)
        return dataclasses.replace(adapter, model=native, native=native)
    if adapter.family == "lightgbm":
        native = _lightgbm_leaves(adapter.native, rng)
        return dataclasses.replace(adapter, model=native, native=native)
    if adapter.family == "sklearn_tree":
        model = _sklearn_leaves(adapter.native, rng)
        return dataclasses.replace(adapter, model=model, native=model)
    if adapter.family == "sklearn":
        model = _sklearn_weights(adapter.native, rng)
        return dataclasses.replace(adapter, model=model, native=model)
    raise CannotCopy(f"randomising {adapter.family} models is not implemented")


def refit(adapter: ModelAdapter, X: pd.DataFrame, y: np.ndarray) -> ModelAdapter:
    """A fresh copy of the model (same hyperparameters, ``sklearn.base.clone``) fitted on ``X``
    and the encoded labels ``y``. Raises :class:`CannotCopy` for a bare booster (no
    hyperparameters to clone) or a model that will not fit."""
    from sklearn.base import clone

    model = adapter.model
    if not hasattr(model, "fit") or not hasattr(model, "get_params"):
        raise CannotCopy(f"a bare {type(model).__name__} has no fit(): refit needs the "
                         "scikit-learn-style model object")  # fmt: skip
    fresh = clone(model)
    params = fresh.get_params()
    if "early_stopping_rounds" in params and params["early_stopping_rounds"]:
        fresh.set_params(early_stopping_rounds=None)
    try:
        fresh.fit(X, y)
    except Exception as exc:
        raise CannotCopy(f"refit failed: {str(exc).splitlines()[0][:200]}") from exc
    out = adapt(fresh)
    if adapter.is_classifier and len(out.class_labels) == len(adapter.class_labels):
        out = out.with_class_labels(adapter.class_labels)
    return out
