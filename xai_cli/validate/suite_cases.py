"""The synthetic known-answer cases of the suite: data, model and the answer each one knows.

Each case follows evaluation_methods.md §9 (T01-T06, T08, T09, T15) with the sizes cut so the
whole suite runs in seconds; XGBoost is fitted with ``reg_lambda=0`` so a leaf is the exact mean
of its rows and the fitted model *is* the closed-form function (each case checks that first).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from fractions import Fraction as Fr
from typing import Any

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Case:
    """One synthetic model with its data and what is known about it."""

    test: str
    title: str
    model: Any
    X: pd.DataFrame
    y: np.ndarray
    known: dict[str, Any] = field(default_factory=dict)


def _xgb(**params: Any) -> Any:
    import xgboost as xgb

    base = dict(learning_rate=1.0, base_score=0.0, reg_lambda=0.0, random_state=0, n_jobs=1,
                tree_method="exact")  # fmt: skip
    return xgb.XGBRegressor(**{**base, **params})


def grid2(
    labels: list[float], repeat: int = 250, swap: bool = False
) -> tuple[pd.DataFrame, np.ndarray]:
    """The 4 points of {0,1}^2 repeated; ``labels`` for (C,F) = (0,0),(0,1),(1,0),(1,1)."""
    points = np.array([[0, 0], [0, 1], [1, 0], [1, 1]] * repeat, dtype=float)
    y = np.array(labels * repeat, dtype=float)
    X = pd.DataFrame(points, columns=["cough", "fever"])
    return (X[["fever", "cough"]] if swap else X), y


def t01() -> Case:
    X, y = grid2([0, 0, 0, 80])
    model = _xgb(n_estimators=2, max_depth=2).fit(X, y)
    return Case(
        "T01",
        "symmetry (cough & fever, y = 80 [C and F])",
        model,
        X,
        y,
        {"phi_11": (30.0, 30.0), "mean_abs": (20.0, 20.0), "pair": ("cough", "fever")},
    )


def t02() -> Case:
    X, y = grid2([0, 0, 10, 90])
    model = _xgb(n_estimators=2, max_depth=2).fit(X, y)
    return Case(
        "T02",
        "consistency (10/90: cough matters more)",
        model,
        X,
        y,
        {"phi_11": (35.0, 30.0), "mean_abs": (25.0, 20.0), "first": "cough"},
    )


def t03() -> Case:
    pts = np.array(list(itertools.product([0, 1], repeat=3)) * 125, dtype=float)
    X = pd.DataFrame(pts, columns=["A", "B", "C"])
    y = (X.A * np.maximum(X.B, X.C)).to_numpy()
    model = _xgb(n_estimators=1, max_depth=3).fit(X, y)
    return Case("T03", "dominant feature (y = A and (B or C))", model, X, y, {"first": "A"})


def t04() -> Case:
    rng = np.random.default_rng(0)
    n = 800
    X = pd.DataFrame({"x0": rng.normal(size=n), "x1": rng.normal(size=n), "dummy": 0.0})
    y = np.sin(X.x0) + X.x1**2
    model = _xgb(n_estimators=20, max_depth=3, learning_rate=0.3, reg_lambda=1.0).fit(X, y)
    return Case(
        "T04", "dummy feature (constant in training)", model, X, y.to_numpy(), {"dummy": "dummy"}
    )


def t05() -> Case:
    from sklearn.linear_model import LinearRegression

    rng = np.random.default_rng(0)
    n, w, s = 2000, np.array([3, -2, 1, 0.5, 0, 0]), np.array([1, 2, 1, 3, 1, 1])
    X = pd.DataFrame(rng.normal(size=(n, 6)) * s, columns=[f"x{i}" for i in range(6)])
    y = X.to_numpy() @ w + rng.normal(size=n)
    model = LinearRegression().fit(X, y)
    return Case(
        "T05",
        "linear ground truth (closed forms)",
        model,
        X,
        y,
        {"w": w, "sigma": s, "top3": {"x1", "x0", "x3"}, "background_rows": 100},
    )


def t05_gbm() -> Case:
    base = t05()
    model = _xgb(n_estimators=60, max_depth=3, learning_rate=0.2, reg_lambda=1.0).fit(
        base.X, base.y
    )
    return Case(
        "T05",
        "linear ground truth, GBM fitted to it",
        model,
        base.X,
        base.y,
        {"top3": {"x1", "x0", "x3"}, "background_rows": 100},
    )


H_CASES = {
    "H1": (
        [2, 2, 3],
        lambda x: [0, 4, 0, 0, 7, 0][x[1] * 3 + x[2]] if x[0] == 0 else 1,
        (1, 1, 2),
        (Fr(0), Fr(1, 12), Fr(-1, 2)),
    ),
    "H2": ([2, 2, 2], lambda x: int(not any(x)), (0, 0, 1), (Fr(1, 12), Fr(1, 12), Fr(-7, 24))),
    "H3": (
        [2, 2, 2],
        lambda x: int((not x[0] and x[1] and x[2]) or (x[0] and not x[1] and not x[2])),
        (0, 0, 0),
        (Fr(-1, 4), Fr(0), Fr(0)),
    ),
    "H4": (
        [2, 2, 2, 2],
        lambda x: int(not x[0] and sum(x[1:]) == 1),
        (0, 0, 0, 0),
        (Fr(11, 64), Fr(-23, 192), Fr(-23, 192), Fr(-23, 192)),
    ),
}
"""Huang & Marques-Silva's golden cases (§5.2): domains, lookup function, instance, exact Sv."""


def t06(name: str) -> Case:
    from sklearn.tree import DecisionTreeRegressor

    domains, kappa, instance, exact = H_CASES[name]
    grid = np.array(list(itertools.product(*[range(k) for k in domains])), dtype=float)
    X = pd.DataFrame(grid, columns=[f"x{i + 1}" for i in range(len(domains))])
    y = np.array([kappa(tuple(int(v) for v in row)) for row in grid], dtype=float)
    model = DecisionTreeRegressor(random_state=0).fit(X, y)
    return Case(
        "T06",
        f"golden Shapley {name}",
        model,
        X,
        y,
        {"instance": instance, "exact": tuple(float(v) for v in exact)},
    )


def t09_pair() -> tuple[Case, Case]:
    a = t01()
    X, y = grid2([0, 0, 0, 80], swap=True)
    b = Case(
        "T09",
        "implementation invariance (columns swapped)",
        _xgb(n_estimators=2, max_depth=2).fit(X, y),
        X,
        y,
    )
    return a, b


def t15() -> tuple[Case, Case]:
    rng = np.random.default_rng(0)
    n = 1000
    a, b = rng.integers(1, 10, n).astype(float), rng.integers(0, 6, n).astype(float)
    X = pd.DataFrame({"a": a, "b": b, "c": b})
    y = a + b
    train = X.assign(c=0.0)  # model A never sees c vary: it cannot use it
    model_a = _xgb(n_estimators=30, max_depth=3, learning_rate=0.5, reg_lambda=1.0).fit(train, y)
    model_b = _xgb(n_estimators=30, max_depth=3, learning_rate=0.5, reg_lambda=1.0).fit(X, y)
    return (
        Case("T15", "correlated twin: c = b, model ignores c", model_a, X, y, {"twin": "c"}),
        Case("T15", "correlated twin: model may use either", model_b, X, y, {"twin": "c"}),
    )
