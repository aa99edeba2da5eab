"""Seeded benchmark workloads: synthetic models of the four families plus one real dataset.

Models are trained once and cached under ``benchmarks/.cache/<mode>/`` (or ``$XAI_BENCH_CACHE``;
training the full XGBoost workload takes minutes on 2 cores); the data to explain is regenerated
from the seed.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(__file__).resolve().parent / ".cache"
SEED = 0


@dataclass(frozen=True)
class Sizes:
    """How big a run is: training rows, trees, features and the row counts explained."""

    train_rows: int
    trees: int
    features: int
    explain_rows: tuple[int, ...]
    background_rows: int
    shap_interventional_rows: int


FULL = Sizes(100_000, 500, 50, (10_000, 100_000), 1_000, 200)
QUICK = Sizes(2_000, 20, 10, (200, 500), 100, 50)


@dataclass(frozen=True)
class Workload:
    """A trained model saved at ``model_path`` and a function giving ``n`` rows to explain."""

    name: str
    description: str
    family: str
    model_path: Path
    rows: Callable[[int], pd.DataFrame]


def synthetic(n: int, features: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Gaussian features with a nonlinear target: linear part, a sine and two interactions."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, features)).astype(np.float32)
    k = min(10, features)
    y = X[:, :k] @ rng.normal(size=k) + 2 * np.sin(X[:, k % features])
    y += X[:, 1] * X[:, 2] + 0.5 * X[:, 3] * X[:, 4] + rng.normal(scale=0.1, size=n)
    return pd.DataFrame(X, columns=[f"x{i:02d}" for i in range(features)]), y


def _train(family: str, sizes: Sizes, X: pd.DataFrame, y: np.ndarray) -> Any:
    if family == "xgboost":
        import xgboost as xgb

        return xgb.XGBRegressor(
            n_estimators=sizes.trees, max_depth=6, learning_rate=0.1, tree_method="hist",
            random_state=SEED, n_jobs=2,
        ).fit(X, y)
    if family == "lightgbm":
        import lightgbm as lgb

        return lgb.LGBMRegressor(
            n_estimators=sizes.trees, num_leaves=63, max_depth=6, learning_rate=0.1,
            random_state=SEED, n_jobs=2, verbose=-1,
        ).fit(X, y)
    if family == "catboost":
        import catboost as cb

        return cb.CatBoostRegressor(
            iterations=sizes.trees, depth=6, learning_rate=0.1, random_seed=SEED, verbose=0,
            thread_count=2, allow_writing_files=False,
        ).fit(X, y)
    from sklearn.ensemble import RandomForestRegressor

    return RandomForestRegressor(
        n_estimators=max(10, sizes.trees // 5), max_depth=8, random_state=SEED, n_jobs=2
    ).fit(X, y)


DEEP_TRAIN_ROWS = {"full": 30_000, "quick": 2_000}
"""Training rows of the deep workloads (fewer than the shallow ones: 500 depth-10 XGBoost trees
on 100k rows take ~10 min on 2 shared cores; 30k rows still grow full depth-10 trees)."""


def _train_deep(family: str, trees: int, X: pd.DataFrame, y: np.ndarray) -> Any:
    if family == "xgboost":
        import xgboost as xgb

        return xgb.XGBRegressor(
            n_estimators=trees, max_depth=10, learning_rate=0.1, tree_method="hist",
            random_state=SEED, n_jobs=2,
        ).fit(X, y)
    if family == "lightgbm":
        import lightgbm as lgb

        return lgb.LGBMRegressor(
            n_estimators=trees, num_leaves=1023, max_depth=10, learning_rate=0.1,
            random_state=SEED, n_jobs=2, verbose=-1,
        ).fit(X, y)
    from sklearn.ensemble import RandomForestRegressor

    return RandomForestRegressor(
        n_estimators=max(10, trees // 5), max_depth=10, random_state=SEED, n_jobs=2
    ).fit(X, y)


def deep_workloads(quick: bool, folder: Path, only: tuple[str, ...] = ()) -> list[Workload]:
    """Depth-10 models: XGBoost and LightGBM with the run's tree count, a random forest with a
    fifth of it (500 and 100 in full mode)."""
    sizes = QUICK if quick else FULL
    train = DEEP_TRAIN_ROWS["quick" if quick else "full"]
    X, y = synthetic(train, sizes.features, SEED)
    out = []
    for family, name, shape in (
        ("xgboost", "deep_xgboost", f"XGBoost, {sizes.trees} trees, depth 10"),
        ("lightgbm", "deep_lightgbm", f"LightGBM, {sizes.trees} trees, depth 10 (<= 1023 leaves)"),
        ("sklearn_tree", "deep_random_forest",
         f"RandomForest, {max(10, sizes.trees // 5)} trees, depth 10"),
    ):
        if only and name not in only:
            continue
        path = folder / f"{name}.joblib"
        if not path.exists():
            joblib.dump(_train_deep(family, sizes.trees, X, y), path)

        def rows(n: int, features: int = sizes.features) -> pd.DataFrame:
            return synthetic(n, features, SEED + 1)[0]

        out.append(Workload(name, f"{shape}; {sizes.features} numeric features, trained on "
                            f"{train:,} rows (regression)", family, path, rows))  # fmt: skip
    return out


def _adult(sizes: Sizes, folder: Path) -> Workload:
    """The Adult census data from sample_data/, XGBoost with native categorical splits."""
    import xgboost as xgb

    frame = pd.read_csv(ROOT / "sample_data" / "adult.csv")
    y = (frame.pop("income") == ">50K").astype(int).to_numpy()
    for col in frame.columns:
        if not pd.api.types.is_numeric_dtype(frame[col]):
            frame[col] = frame[col].astype("category")
    path = folder / "adult_xgboost.joblib"
    if not path.exists():
        model = xgb.XGBClassifier(
            n_estimators=sizes.trees, max_depth=6, learning_rate=0.1, tree_method="hist",
            enable_categorical=True, random_state=SEED, n_jobs=2,
        ).fit(frame, y)
        joblib.dump(model, path)

    def rows(n: int) -> pd.DataFrame:
        picked = np.random.default_rng(SEED).choice(len(frame), size=n, replace=n > len(frame))
        return frame.iloc[np.sort(picked)].reset_index(drop=True)

    return Workload(
        "adult_xgboost",
        f"Adult census (real, {len(frame):,} rows, 8 categorical + 6 numeric features, "
        f"missing values), XGBoost binary, {sizes.trees} trees depth 6",
        "xgboost",
        path,
        rows,
    )


def workloads(quick: bool, only: tuple[str, ...] = ()) -> list[Workload]:
    """Train (or find in the cache) every workload of the chosen size, or those in ``only``."""
    sizes = QUICK if quick else FULL
    folder = Path(os.environ.get("XAI_BENCH_CACHE", CACHE)) / ("quick" if quick else "full")
    folder.mkdir(parents=True, exist_ok=True)
    X, y = synthetic(sizes.train_rows, sizes.features, SEED)
    out = []
    shapes = {
        "xgboost": f"XGBoost, {sizes.trees} trees, depth 6",
        "lightgbm": f"LightGBM, {sizes.trees} trees, 63 leaves, depth 6",
        "catboost": f"CatBoost, {sizes.trees} symmetric trees, depth 6",
        "sklearn_tree": f"RandomForest, {max(10, sizes.trees // 5)} trees, depth 8",
    }
    for family, shape in shapes.items():
        if only and f"synthetic_{family}" not in only:
            continue
        path = folder / f"synthetic_{family}.joblib"
        if not path.exists():
            joblib.dump(_train(family, sizes, X, y), path)
        features = sizes.features

        def rows(n: int, features: int = features) -> pd.DataFrame:
            return synthetic(n, features, SEED + 1)[0]

        out.append(
            Workload(
                f"synthetic_{family}",
                f"{shape}; {sizes.features} numeric features, trained on "
                f"{sizes.train_rows:,} rows (regression)",
                family,
                path,
                rows,
            )
        )
    if not only or "adult_xgboost" in only:
        out.append(_adult(sizes, folder))
    return out + deep_workloads(quick, folder, only)
