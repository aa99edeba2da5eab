"""Train the models that show what ``xai audit`` catches, beside the sample models.

Every model is an XGBoost classifier trained on the same 80% of ``adult.csv`` that
``train_models.py`` trains on; each comes with the other 20% (held-out rows) to audit on:

* ``adult_leaky.joblib`` + ``adult_leaky_holdout.csv``: trained with ``income_verified``, a copy
  of the target with 10% of labels flipped (a leak): fails ``configs/audit.yaml``;
* ``adult_noise.joblib`` + ``adult_noise_holdout.csv``: trained with a pure N(0, 1) column
  ``noise`` and deep trees, so it splits on it (the noise floor flags it);
* ``adult_no_relationship.joblib``: retrained without ``relationship``, the sample model's top
  SHAP feature (drift against the sample model's report flags it);
* ``adult_shuffled.joblib``: trained on shuffled labels, so its held-out importances are noise
  (unstable across resamples);
* ``adult_holdout.csv``: the held-out rows for the sample model itself.

Usage::

    python sample_data/train_audit_models.py --out sample_models
    XAI_MODEL=$PWD/sample_models/adult_leaky.joblib \\
      XAI_DATA=$PWD/sample_models/adult_leaky_holdout.csv xai audit configs/audit.yaml  # exit 1
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import xgboost

HERE = Path(__file__).resolve().parent
LEAK, NOISE = "income_verified", "noise"


def _train_models_module():
    spec = importlib.util.spec_from_file_location("train_models", HERE / "train_models.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _fit(X: pd.DataFrame, y: np.ndarray, **params: object) -> xgboost.XGBClassifier:
    settings = {"n_estimators": 60, "max_depth": 4, "learning_rate": 0.3}
    settings.update(params)
    model = xgboost.XGBClassifier(
        **settings, tree_method="hist", enable_categorical=True, random_state=0, n_jobs=2
    )
    return model.fit(X, y)


def train(out: Path) -> dict[str, Path]:
    """Train every audit example into ``out``; returns name -> path."""
    tm = _train_models_module()
    raw = pd.read_csv(HERE / "adult.csv")
    X, y, cats = tm.load_adult()
    rng = np.random.default_rng(7)
    X = X.assign(
        **{LEAK: np.where(rng.random(len(y)) < 0.1, 1 - y, y), NOISE: rng.normal(size=len(y))}
    )
    Xc = tm.category_frame(X, cats)
    train_rows, held = tm.split(Xc, y, stratify=True)[:2]
    y_train = y.loc[train_rows.index].to_numpy()
    base = [c for c in Xc.columns if c not in (LEAK, NOISE)]
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}

    def save(name: str, model: xgboost.XGBClassifier) -> None:
        paths[name] = out / f"adult_{name}.joblib"
        joblib.dump(model, paths[name])

    def write(name: str, columns: list[str]) -> None:
        paths[name] = out / f"adult_{name}.csv"
        frame = raw.loc[held.index].assign(**{c: X.loc[held.index, c] for c in columns})
        frame.to_csv(paths[name], index=False)

    save("leaky", _fit(train_rows[[*base, LEAK]], y_train))
    save("noise", _fit(train_rows[[*base, NOISE]], y_train, n_estimators=200, max_depth=6))
    save("no_relationship", _fit(train_rows[[c for c in base if c != "relationship"]], y_train))
    save("shuffled", _fit(train_rows[base], rng.permutation(y_train)))
    write("holdout", [])
    write("leaky_holdout", [LEAK])
    write("noise_holdout", [NOISE])
    return paths


def main(argv: list[str] | None = None) -> int:
    """Train the audit examples and write them to ``--out``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("sample_models"))
    args = parser.parse_args(argv)
    for name, path in train(args.out).items():
        print(f"{name:<16} {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
