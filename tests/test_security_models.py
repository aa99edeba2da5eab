"""The ordinary models users ship load with the default (safe) loader, and explain.

Issue 9, item 2: KNeighbors (KD and ball trees), HistGradientBoosting with categorical features,
pipelines with ColumnTransformer / OneHotEncoder / OrdinalEncoder / StandardScaler / SimpleImputer /
FunctionTransformer of a numpy ufunc, CalibratedClassifierCV, Voting and Stacking ensembles, and the
boosting libraries' wrappers, all trained on the real Adult sample and saved with joblib.
"""

from __future__ import annotations

from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    RandomForestClassifier,
    StackingClassifier,
    VotingClassifier,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    OneHotEncoder,
    OrdinalEncoder,
    StandardScaler,
)
from sklearn.tree import DecisionTreeClassifier

from tests.conftest import SAMPLE_DATA
from xai_cli.errors import RefusedPickleError
from xai_cli.load.models import load_model

NUMERIC = ["age", "fnlwgt", "educational-num", "capital-gain", "capital-loss", "hours-per-week"]
CATEGORICAL = ["workclass", "education", "marital-status", "occupation"]


@pytest.fixture(scope="module")
def adult() -> tuple[pd.DataFrame, np.ndarray]:
    frame = pd.read_csv(SAMPLE_DATA / "adult.csv").head(800)
    return frame, (frame["income"] == ">50K").to_numpy().astype(int)


def _raw_pipeline() -> Pipeline:
    pre = ColumnTransformer([
        ("onehot", make_pipeline(SimpleImputer(strategy="most_frequent"),
                                 OneHotEncoder(handle_unknown="ignore")), CATEGORICAL[:2]),
        ("ordinal", make_pipeline(SimpleImputer(strategy="most_frequent"),
                                  OrdinalEncoder()), CATEGORICAL[2:]),
        ("log", FunctionTransformer(np.log1p), ["capital-gain", "capital-loss"]),
        ("num", make_pipeline(SimpleImputer(), StandardScaler()), NUMERIC[:3]),
    ])  # fmt: skip
    return Pipeline([("pre", pre), ("clf", LogisticRegression(max_iter=500))])


NUMERIC_MODELS = {
    "knn_kd_tree": lambda: KNeighborsClassifier(algorithm="kd_tree"),
    "knn_ball_tree": lambda: KNeighborsClassifier(algorithm="ball_tree"),
    "calibrated": lambda: CalibratedClassifierCV(LogisticRegression(max_iter=500), cv=3),
    "voting": lambda: VotingClassifier(
        [("lr", LogisticRegression(max_iter=500)), ("dt", DecisionTreeClassifier(max_depth=3))],
        voting="soft",
    ),
    "stacking": lambda: StackingClassifier(
        [("lr", LogisticRegression(max_iter=500)), ("rf", RandomForestClassifier(5))], cv=3
    ),
    "scaled_pipeline": lambda: make_pipeline(
        SimpleImputer(), FunctionTransformer(np.log1p), StandardScaler(), LogisticRegression()
    ),
}


@pytest.mark.parametrize("name", sorted(NUMERIC_MODELS))
def test_numeric_models_load_safely_and_explain(
    name: str, adult: tuple[pd.DataFrame, np.ndarray], tmp_path: Path, xai
) -> None:
    frame, y = adult
    model = NUMERIC_MODELS[name]().fit(frame[NUMERIC], y)
    path = tmp_path / f"{name}.joblib"
    joblib.dump(model, path, compress=3)
    loaded = load_model(path)
    assert loaded.trusted is False
    np.testing.assert_array_equal(loaded.obj.predict(frame[NUMERIC]), model.predict(frame[NUMERIC]))
    data = tmp_path / "data.csv"
    frame[[*NUMERIC, "income"]].to_csv(data, index=False)
    run = xai("explain", str(path), str(data), "--target", "income", "--out", str(tmp_path / "r"),
              "--format", "json", "--output-format", "none", "--no-estimate",
              "--methods", "permutation")  # fmt: skip
    assert run.code == 0, run.stderr
    assert (tmp_path / "r" / "report.json").is_file()


def test_models_on_raw_columns_load_safely(
    adult: tuple[pd.DataFrame, np.ndarray], tmp_path: Path
) -> None:
    """Encoders on string columns, HistGradientBoosting with categoricals, boosting wrappers."""
    import lightgbm as lgb
    import xgboost as xgb

    frame, y = adult
    cats = frame[NUMERIC + CATEGORICAL].astype({c: "category" for c in CATEGORICAL})
    models = {
        "raw_pipeline": (_raw_pipeline().fit(frame, y), frame),
        "hgb_categorical": (
            HistGradientBoostingClassifier(max_iter=10, categorical_features="from_dtype").fit(
                cats, y),
            cats,
        ),
        "xgb": (xgb.XGBClassifier(n_estimators=5, enable_categorical=True).fit(cats, y), cats),
        "lgbm": (lgb.LGBMClassifier(n_estimators=5, verbose=-1).fit(cats, y), cats),
    }  # fmt: skip
    for name, (model, x) in models.items():
        for compress in (0, 3):
            path = tmp_path / f"{name}-{compress}.joblib"
            joblib.dump(model, path, compress=compress)
            loaded = load_model(path)
            np.testing.assert_allclose(loaded.obj.predict_proba(x), model.predict_proba(x))


def test_model_outside_the_list_names_the_class_and_the_opt_in(tmp_path: Path) -> None:
    path = tmp_path / "custom.joblib"
    joblib.dump({"helper": Path("x")}, path)
    with pytest.raises(RefusedPickleError) as info:
        load_model(path)
    assert "pathlib" in info.value.message and "PosixPath" in info.value.message
    assert "--trust-model" in (info.value.hint or "")
