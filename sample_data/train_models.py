"""Train the small sample models used in the xai-cli examples and tests.

Reads only the committed CSVs next to this file (``adult.csv``,
``adult_numeric.csv``, ``california_housing.csv``) and writes, for each
dataset, an XGBoost, LightGBM, CatBoost and scikit-learn random-forest model:

* ``<out>/<dataset>_<lib>.joblib`` for every model (``joblib.dump`` of the
  fitted scikit-learn-API estimator);
* the library's native format as well: XGBoost ``.ubj``, LightGBM ``.txt``,
  CatBoost ``.cbm`` (random forests are joblib only).

Input conventions the models expect (the explainer follows the same ones):

* Adult, XGBoost / LightGBM: categorical columns as pandas ``category`` dtype.
* Adult, CatBoost: categorical columns as strings, missing values as the
  string ``"nan"`` (see :func:`catboost_frame`).
* Adult, random forest: the 6 numeric columns only (``adult_numeric.csv``).
* Adult labels: 1 = ``>50K``, 0 = ``<=50K``.

Usage::

    python sample_data/train_models.py --out sample_models
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import catboost
import joblib
import lightgbm
import numpy as np
import pandas as pd
import xgboost
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.metrics import r2_score, roc_auc_score
from sklearn.model_selection import train_test_split

HERE = Path(__file__).resolve().parent
SEED = 0
N_TREES = 100
ADULT_TARGET = "income"
ADULT_POSITIVE = ">50K"
CALIFORNIA_TARGET = "MedHouseVal"


# --------------------------------------------------------------------------- data


def categorical_columns(X: pd.DataFrame) -> list[str]:
    """Return the non-numeric columns of ``X``."""
    return [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]


def category_frame(X: pd.DataFrame, cat_cols: list[str]) -> pd.DataFrame:
    """Return ``X`` with ``cat_cols`` as pandas ``category`` (XGBoost/LightGBM input)."""
    X = X.copy()
    for col in cat_cols:
        X[col] = X[col].astype("category")
    return X


def catboost_frame(X: pd.DataFrame, cat_cols: list[str]) -> pd.DataFrame:
    """Return ``X`` with ``cat_cols`` as strings and missing values as ``"nan"``.

    With pandas >= 3, ``Series.astype(str)`` keeps missing values as NaN (the
    new ``str`` dtype is nullable), so the NaN -> ``"nan"`` step is explicit.
    """
    X = X.copy()
    for col in cat_cols:
        X[col] = X[col].astype(object).where(X[col].notna(), "nan").astype(str)
    return X


def load_adult() -> tuple[pd.DataFrame, pd.Series, list[str]]:
    """Return Adult features, 0/1 labels (1 = ``>50K``) and categorical columns."""
    df = pd.read_csv(HERE / "adult.csv")
    y = (df.pop(ADULT_TARGET) == ADULT_POSITIVE).astype(int)
    return df, y, categorical_columns(df)


def load_adult_numeric() -> tuple[pd.DataFrame, pd.Series]:
    """Return the numeric-only Adult features (NaN filled by median) and 0/1 labels."""
    df = pd.read_csv(HERE / "adult_numeric.csv")
    y = (df.pop(ADULT_TARGET) == ADULT_POSITIVE).astype(int)
    return df.fillna(df.median()), y


def load_california() -> tuple[pd.DataFrame, pd.Series]:
    """Return California housing features and the MedHouseVal target."""
    df = pd.read_csv(HERE / "california_housing.csv")
    return df, df.pop(CALIFORNIA_TARGET)


def split(X: pd.DataFrame, y: pd.Series, stratify: bool) -> list[Any]:
    """80/20 train/validation split with a fixed seed."""
    return train_test_split(
        X, y, test_size=0.2, random_state=SEED, stratify=y if stratify else None
    )


# ------------------------------------------------------------------------- models


Prep = Callable[[pd.DataFrame], pd.DataFrame]


def classifiers(cat_cols: list[str]) -> dict[str, tuple[Any, Prep]]:
    """Adult classifiers (except the random forest) with their input transform."""
    return {
        "xgboost": (
            xgboost.XGBClassifier(
                n_estimators=N_TREES,
                max_depth=4,
                learning_rate=0.3,
                tree_method="hist",
                enable_categorical=True,
                early_stopping_rounds=10,
                eval_metric="logloss",
                random_state=SEED,
                n_jobs=2,
            ),
            lambda X: category_frame(X, cat_cols),
        ),
        "lightgbm": (
            lightgbm.LGBMClassifier(
                n_estimators=N_TREES, num_leaves=15, random_state=SEED, n_jobs=2, verbose=-1
            ),
            lambda X: category_frame(X, cat_cols),
        ),
        "catboost": (
            catboost.CatBoostClassifier(
                iterations=N_TREES,
                depth=4,
                cat_features=cat_cols,
                random_seed=SEED,
                thread_count=2,
                verbose=0,
                allow_writing_files=False,
            ),
            lambda X: catboost_frame(X, cat_cols),
        ),
    }


def regressors() -> dict[str, Any]:
    """California housing regressors."""
    return {
        "xgboost": xgboost.XGBRegressor(
            n_estimators=N_TREES, max_depth=4, tree_method="hist", random_state=SEED, n_jobs=2
        ),
        "lightgbm": lightgbm.LGBMRegressor(
            n_estimators=N_TREES, num_leaves=15, random_state=SEED, n_jobs=2, verbose=-1
        ),
        "catboost": catboost.CatBoostRegressor(
            iterations=N_TREES,
            depth=4,
            random_seed=SEED,
            thread_count=2,
            verbose=0,
            allow_writing_files=False,
        ),
        "random_forest": RandomForestRegressor(
            n_estimators=N_TREES, max_depth=8, random_state=SEED, n_jobs=2
        ),
    }


# ------------------------------------------------------------------- save & check


def native_predict(lib: str, path: Path, X: pd.DataFrame, classifier: bool) -> np.ndarray:
    """Load a native model file and predict (P(class 1) for classifiers)."""
    if lib == "xgboost":
        booster = xgboost.Booster()
        booster.load_model(path)
        best = booster.attr("best_iteration")
        rng = (0, int(best) + 1) if best is not None else (0, 0)
        return booster.predict(xgboost.DMatrix(X, enable_categorical=True), iteration_range=rng)
    if lib == "lightgbm":
        return lightgbm.Booster(model_file=str(path)).predict(X)
    model = catboost.CatBoost()
    model.load_model(str(path))
    if classifier:
        return model.predict(X, prediction_type="Probability")[:, 1]
    return model.predict(X)


def save(
    model: Any, lib: str, stem: str, out: Path, X_check: pd.DataFrame, classifier: bool
) -> list[Path]:
    """Save ``model`` as joblib (+ native format) and verify the round trips."""
    expected = model.predict_proba(X_check)[:, 1] if classifier else model.predict(X_check)
    path = out / f"{stem}.joblib"
    joblib.dump(model, path, compress=3)
    loaded = joblib.load(path)
    got = loaded.predict_proba(X_check)[:, 1] if classifier else loaded.predict(X_check)
    np.testing.assert_allclose(got, expected, rtol=1e-6, err_msg=str(path))
    paths = [path]

    native = {"xgboost": ".ubj", "lightgbm": ".txt", "catboost": ".cbm"}.get(lib)
    if native:
        path = out / f"{stem}{native}"
        if lib == "xgboost":
            model.get_booster().save_model(path)
        elif lib == "lightgbm":
            model.booster_.save_model(path)
        else:
            model.save_model(str(path))
        got = native_predict(lib, path, X_check, classifier)
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7, err_msg=str(path))
        paths.append(path)
    return paths


def report(paths: list[Path], metric: str, train: float, valid: float, note: str = "") -> None:
    """Print one summary line per model."""
    names = ", ".join(p.name for p in paths)
    print(f"{names:<55} {metric} train={train:.4f} valid={valid:.4f}{note}")


# -------------------------------------------------------------------------- main


def train_adult(out: Path) -> None:
    """Train and save the four Adult classifiers."""
    X, y, cat_cols = load_adult()
    X_tr, X_va, y_tr, y_va = split(X, y, stratify=True)
    for lib, (model, prep) in classifiers(cat_cols).items():
        # Build the category dtype on the full table so both splits share it.
        Xp = prep(X)
        Xp_tr, Xp_va = Xp.loc[X_tr.index], Xp.loc[X_va.index]
        fit_kwargs = {"eval_set": [(Xp_va, y_va)], "verbose": False} if lib == "xgboost" else {}
        model.fit(Xp_tr, y_tr, **fit_kwargs)
        note = ""
        if lib == "xgboost":
            note = f"  (best_iteration={model.best_iteration} of {N_TREES})"
        paths = save(model, lib, f"adult_{lib}", out, Xp_va.head(50), classifier=True)
        report(
            paths,
            "AUC",
            roc_auc_score(y_tr, model.predict_proba(Xp_tr)[:, 1]),
            roc_auc_score(y_va, model.predict_proba(Xp_va)[:, 1]),
            note,
        )

    Xn, yn = load_adult_numeric()
    Xn_tr, Xn_va, yn_tr, yn_va = split(Xn, yn, stratify=True)
    rf = RandomForestClassifier(n_estimators=N_TREES, max_depth=8, random_state=SEED, n_jobs=2)
    rf.fit(Xn_tr, yn_tr)
    paths = save(rf, "random_forest", "adult_random_forest", out, Xn_va.head(50), classifier=True)
    report(
        paths,
        "AUC",
        roc_auc_score(yn_tr, rf.predict_proba(Xn_tr)[:, 1]),
        roc_auc_score(yn_va, rf.predict_proba(Xn_va)[:, 1]),
        "  (numeric columns only: use sample_data/adult_numeric.csv)",
    )


def train_california(out: Path) -> None:
    """Train and save the four California housing regressors."""
    X, y = load_california()
    X_tr, X_va, y_tr, y_va = split(X, y, stratify=False)
    for lib, model in regressors().items():
        model.fit(X_tr, y_tr)
        paths = save(model, lib, f"california_{lib}", out, X_va.head(50), classifier=False)
        report(
            paths, "R2 ", r2_score(y_tr, model.predict(X_tr)), r2_score(y_va, model.predict(X_va))
        )


def main(argv: list[str] | None = None) -> int:
    """Train all sample models and write them to ``--out``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("sample_models"),
        help="output folder (default: sample_models/)",
    )
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    train_adult(args.out)
    train_california(args.out)
    print(f"done in {time.perf_counter() - start:.1f}s -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
