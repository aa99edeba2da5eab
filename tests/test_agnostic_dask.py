"""The coalition engine on the Dask engine: blocks of masked rows as tasks, same numbers.

Blocks are fixed by the work, not by where they run, so a game whose blocks go through a
``task_map`` (Dask's, or an in-process one that pickles every task as Dask does) must give the
numbers the in-process engine gives, bit for bit, for every method built on it.
"""

from __future__ import annotations

import pickle
import warnings
from dataclasses import replace

import cloudpickle
import numpy as np
import pandas as pd
import pytest

from xai_cli.methods import REGISTRY
from xai_cli.methods.agnostic.coalition import Game, singletons
from xai_cli.methods.agnostic.exact import exact_shapley
from xai_cli.methods.agnostic.kernel import kernel_shap
from xai_cli.methods.base import ExplainContext
from xai_cli.model.adapter import adapt


class PicklingMap:
    """An in-process ``task_map`` that sends every function, item and shared value through
    cloudpickle (as a Dask worker receives them) and counts the tasks it ran."""

    def __init__(self) -> None:
        self.tasks = 0

    def __call__(self, fn, items, **shared):  # noqa: ANN001, ANN204
        fn = pickle.loads(cloudpickle.dumps(fn))
        shared = pickle.loads(cloudpickle.dumps(shared))
        self.tasks += len(items)
        return [fn(pickle.loads(cloudpickle.dumps(item)), **shared) for item in items]


@pytest.fixture(scope="module")
def mlp() -> tuple[object, pd.DataFrame, np.ndarray]:
    """A 6-feature MLP classifier (3 classes), its data and labels."""
    from sklearn.neural_network import MLPClassifier

    rng = np.random.default_rng(3)
    X = pd.DataFrame(rng.normal(size=(120, 6)), columns=[f"f{i}" for i in range(6)])
    y = (X.f0 + X.f1 * X.f2 > 0).astype(int) + (X.f3 > 1).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = MLPClassifier(hidden_layer_sizes=(8,), max_iter=100, random_state=0).fit(X, y)
    return model, X, y.to_numpy()


def test_blocks_as_tasks_give_the_in_process_numbers(mlp) -> None:
    model, X, _ = mlp
    columns = tuple(X.columns)
    local = Game(lambda f: model.predict_proba(f), columns, singletons(columns), X.iloc[80:110],
                 block_rows=300)  # fmt: skip
    tasks = PicklingMap()
    remote = replace(local, task_map=tasks)
    rows = X.iloc[:8]
    np.testing.assert_array_equal(exact_shapley(remote, rows), exact_shapley(local, rows))
    assert tasks.tasks == -(-8 * 62 * 30 // 300)  # 8 rows x 62 coalitions x 30 background rows
    a = kernel_shap(local, rows, 40, 8, 0.0, seed=2)
    b = kernel_shap(remote, rows, 40, 8, 0.0, seed=2)
    for x, z in zip(a[:2], b[:2], strict=True):
        np.testing.assert_array_equal(x, z)
    big = pd.concat([X] * 5, ignore_index=True)  # 600 rows: two blocks of 300
    np.testing.assert_array_equal(remote.predict_rows(big), local.predict_rows(big))
    # the check can fail: a task_map whose workers return slightly other numbers does not pass
    broken = replace(local, task_map=lambda fn, items, **kw: [fn(i, **kw) * 1.01 for i in items])
    assert not np.array_equal(exact_shapley(broken, rows), exact_shapley(local, rows))


@pytest.mark.parametrize("method", ["kernelshap", "lime", "occlusion", "shapley.exact"])
def test_every_coalition_method_distributes_with_the_same_numbers(mlp, method: str) -> None:
    model, X, y = mlp
    explainer = REGISTRY[method]
    assert explainer.distributes
    params = {"background_rows": 20, **({"n_samples": 200} if method == "lime" else {}),
              **({"max_coalitions": 30} if method == "kernelshap" else {})}  # fmt: skip
    ctx = ExplainContext(adapt(model), X.iloc[:10], y[:10], seed=4, params=params,
                         background=X)  # fmt: skip
    tasks = PicklingMap()
    local = explainer.explain(ctx)
    remote = explainer.explain(replace(ctx, task_map=tasks))
    assert tasks.tasks > 0
    np.testing.assert_array_equal(local.values, remote.values)
    if local.spread is not None:
        np.testing.assert_array_equal(local.spread, remote.spread)
    assert remote.params == {**local.params, "predictions": "dask"}

