"""Regenerate ``xai_cli/load/allowlist.py``: the exact global names the safe loader resolves.

The list is built from evidence, not from package prefixes: every scikit-learn estimator class
(``sklearn.utils.all_estimators``) and the boosting libraries' model classes, plus every global that
real pickles of the models users ship actually reference (recorded while loading them with a
recording unpickler). Each recorded global is also marked when a pickle *calls* it through the
``REDUCE`` opcode, because only those may be called with arguments from the file.

Run it after upgrading a model library, review the diff (every new name must be a value or
estimator class, or a function that only rebuilds a value: never one that opens files, imports by
name, loads further pickles or frees native handles), and commit it::

    python tools/gen_pickle_allowlist.py > xai_cli/load/allowlist.py
"""

from __future__ import annotations

import io
import pickle
import sys
import tempfile
from pathlib import Path

import joblib
import numpy as np
import pandas as pd

NEVER = (
    "memmap", "DataSource", "NDArrayWrapper", "ZNDArrayWrapper", "DMatrix", "Dataset", "Pool",
    "_ufunc_reconstruct", "load", "eval", "exec", "getattr", "system", "open",
)
"""Names that must never appear: the generator fails loudly if a recorded pickle uses one."""


def models() -> list[object]:
    """Fitted models of the kinds users ship (small data: only their pickled shape matters)."""
    import catboost as cb
    import lightgbm as lgb
    import xgboost as xgb
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import (
        AdaBoostClassifier,
        BaggingClassifier,
        BaggingRegressor,
        ExtraTreesRegressor,
        GradientBoostingClassifier,
        GradientBoostingRegressor,
        HistGradientBoostingClassifier,
        HistGradientBoostingRegressor,
        IsolationForest,
        RandomForestClassifier,
        RandomForestRegressor,
        StackingClassifier,
        VotingClassifier,
        VotingRegressor,
    )
    from sklearn.feature_selection import SelectKBest, VarianceThreshold
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import (
        LinearRegression,
        LogisticRegression,
        Ridge,
        SGDClassifier,
    )
    from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import (
        FunctionTransformer,
        KBinsDiscretizer,
        LabelEncoder,
        MinMaxScaler,
        OneHotEncoder,
        OrdinalEncoder,
        StandardScaler,
        TargetEncoder,
    )
    from sklearn.svm import SVC, SVR, LinearSVC
    from sklearn.tree import DecisionTreeClassifier

    rng = np.random.default_rng(0)
    n = 300
    num = rng.normal(size=(n, 3))
    cat = rng.choice(["a", "b", "c"], size=n)
    frame = pd.DataFrame({"x0": num[:, 0], "x1": np.abs(num[:, 1]), "x2": num[:, 2], "c": cat})
    frame.loc[::17, "x2"] = np.nan
    y = (num[:, 0] + (cat == "a") > 0).astype(int)
    y3 = rng.integers(0, 3, size=n)
    yr = num[:, 0] * 2 + rng.normal(size=n)
    xnum = frame[["x0", "x1"]].to_numpy()
    catframe = frame.assign(c=frame["c"].astype("category"))
    pre = ColumnTransformer([
        ("onehot", OneHotEncoder(handle_unknown="ignore"), ["c"]),
        ("log", FunctionTransformer(np.log1p), ["x1"]),
        ("num", make_pipeline(SimpleImputer(), StandardScaler()), ["x0", "x2"]),
    ])
    ordinal = ColumnTransformer([
        ("ord", OrdinalEncoder(), ["c"]), ("mm", MinMaxScaler(), ["x0", "x1"]),
    ], remainder="drop")
    # what xai's pipeline map reads: selectors, binning, target encoding, missing indicators
    traced = ColumnTransformer([
        ("bins", KBinsDiscretizer(3), ["x0"]), ("target", TargetEncoder(), ["c"]),
        ("ind", make_pipeline(SimpleImputer(add_indicator=True), MinMaxScaler()), ["x2"]),
    ])
    fitted: list[object] = [
        Pipeline([("pre", pre), ("clf", LogisticRegression())]).fit(frame, y),
        Pipeline([("pre", traced), ("var", VarianceThreshold()), ("k", SelectKBest(k=3)),
                  ("svc", LinearSVC())]).fit(frame, y),
        SGDClassifier().fit(xnum, y),
        BaggingRegressor(Ridge(), n_estimators=2, max_features=1).fit(xnum, yr),
        Pipeline([("pre", ordinal), ("rf", RandomForestClassifier(5, max_depth=3))]).fit(frame, y),
        KNeighborsClassifier(algorithm="kd_tree").fit(xnum, y),
        KNeighborsRegressor(algorithm="ball_tree").fit(xnum, yr),
        KNeighborsClassifier(algorithm="brute").fit(xnum, y),
        HistGradientBoostingClassifier(max_iter=5, categorical_features="from_dtype").fit(
            catframe, y),
        HistGradientBoostingClassifier(max_iter=5).fit(xnum, y3),
        HistGradientBoostingRegressor(max_iter=5).fit(xnum, yr),
        CalibratedClassifierCV(LogisticRegression(), cv=3).fit(xnum, y),
        VotingClassifier([("lr", LogisticRegression()), ("dt", DecisionTreeClassifier())],
                         voting="soft").fit(xnum, y),
        VotingRegressor([("lr", LinearRegression()), ("r", Ridge())]).fit(xnum, yr),
        StackingClassifier([("lr", LogisticRegression()), ("dt", DecisionTreeClassifier())],
                           cv=3).fit(xnum, y),
        GradientBoostingClassifier(n_estimators=5).fit(xnum, y3),
        GradientBoostingClassifier(n_estimators=5).fit(xnum, y),
        GradientBoostingRegressor(n_estimators=5).fit(xnum, yr),
        RandomForestRegressor(5).fit(xnum, yr),
        ExtraTreesRegressor(5).fit(xnum, yr),
        IsolationForest(n_estimators=5, random_state=0).fit(xnum),
        AdaBoostClassifier(n_estimators=3).fit(xnum, y),
        BaggingClassifier(n_estimators=3).fit(xnum, y),
        SVC(probability=True).fit(xnum, y),
        SVR().fit(xnum, yr),
        MLPClassifier(hidden_layer_sizes=(4,), max_iter=20).fit(xnum, y),
        LabelEncoder().fit(cat),
        xgb.XGBClassifier(n_estimators=3, enable_categorical=True, tree_method="hist").fit(
            catframe, y),
        xgb.XGBRegressor(n_estimators=3).fit(xnum, yr),
        xgb.XGBClassifier(n_estimators=3).fit(xnum, y3),
        lgb.LGBMClassifier(n_estimators=3, verbose=-1).fit(catframe, y),
        lgb.LGBMRegressor(n_estimators=3, verbose=-1).fit(xnum, yr),
        cb.CatBoostClassifier(iterations=3, verbose=False, cat_features=["c"]).fit(
            frame.fillna(0), y),
        cb.CatBoostRegressor(iterations=3, verbose=False).fit(xnum, yr),
        frame, catframe, frame["x0"], np.random.RandomState(0), np.random.default_rng(0),
        {"model": LogisticRegression().fit(xnum, y), "features": ["x0", "x1"]},
        pd.Timestamp("2024-01-01"), pd.Timedelta(1, "D"), pd.date_range("2024", periods=3),
        pd.array([1, None], dtype="Int64"),
    ]
    fitted.append(fitted[-14].get_booster() if hasattr(fitted[-14], "get_booster") else None)
    fitted.append(xgb.XGBRegressor(n_estimators=2).fit(xnum, yr).get_booster())
    fitted.append(lgb.LGBMRegressor(n_estimators=2, verbose=-1).fit(xnum, yr).booster_)
    return [m for m in fitted if m is not None]


class Recorder(pickle._Unpickler):  # type: ignore[name-defined]
    """A full unpickler (our own trusted objects only) that records what the stream references."""

    seen: dict[str, bool] = {}
    by_id: dict[int, str] = {}

    def find_class(self, module: str, name: str) -> object:
        obj = pickle._Unpickler.find_class(self, module, name)  # type: ignore[attr-defined]
        key = f"{module}.{name}"
        Recorder.seen.setdefault(key, False)
        Recorder.by_id[id(obj)] = key
        return obj

    def load_reduce(self) -> None:
        func = self.stack[-2]
        key = Recorder.by_id.get(id(func))
        if key is not None:
            Recorder.seen[key] = True
        pickle._Unpickler.load_reduce(self)  # type: ignore[attr-defined]

    dispatch = pickle._Unpickler.dispatch.copy()  # type: ignore[attr-defined]
    dispatch[pickle.REDUCE[0]] = load_reduce


def record(obj: object) -> None:
    for protocol in (2, 4, 5):
        Recorder(io.BytesIO(pickle.dumps(obj, protocol=protocol))).load()
    from joblib.numpy_pickle import NumpyUnpickler

    class JoblibRecorder(NumpyUnpickler):
        find_class = Recorder.find_class
        dispatch = NumpyUnpickler.dispatch.copy()
        dispatch[pickle.REDUCE[0]] = Recorder.load_reduce

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.joblib"
        joblib.dump(obj, path)
        with path.open("rb") as handle:
            JoblibRecorder(str(path), handle, True).load()


def estimator_classes() -> set[str]:
    import catboost
    import lightgbm
    import xgboost
    from sklearn.utils import all_estimators

    names = {f"{c.__module__}.{c.__qualname__}" for _, c in all_estimators()}
    for cls in (xgboost.XGBClassifier, xgboost.XGBRegressor, xgboost.XGBRanker,
                xgboost.XGBRFClassifier, xgboost.XGBRFRegressor, xgboost.Booster,
                lightgbm.LGBMClassifier, lightgbm.LGBMRegressor, lightgbm.LGBMRanker,
                lightgbm.Booster, catboost.CatBoost, catboost.CatBoostClassifier,
                catboost.CatBoostRegressor, catboost.CatBoostRanker):
        names.add(f"{cls.__module__}.{cls.__qualname__}")
    return names


HELPER_MODULES = (
    "sklearn._loss.loss",
    "sklearn._loss.link",
    "sklearn._loss._loss",
    "sklearn.metrics._dist_metrics",
    "sklearn.neighbors._kd_tree",
    "sklearn.neighbors._ball_tree",
    "sklearn.neural_network._stochastic_optimizers",
    "sklearn.ensemble._hist_gradient_boosting.predictor",
    "sklearn.ensemble._hist_gradient_boosting.binning",
    "scipy.sparse._csr",
    "scipy.sparse._csc",
)
"""scikit-learn modules whose every class (and Cython ``__pyx_unpickle_*`` / ``newObj`` restorer) a
model pickle may need: losses, links, distance metrics, neighbour trees, optimisers."""

STDLIB_VALUES = {
    "builtins.object": False,  # the base copyreg._reconstructor names for protocol 0/1 pickles
    "builtins.set": True,
    "builtins.frozenset": True,
    "builtins.complex": True,
    "builtins.bytes": True,
    "builtins.bytearray": True,
    "copyreg._reconstructor": True,  # replaced by a checked version in the loader
    "copyreg.__newobj__": True,
    "datetime.datetime": True,
    "datetime.date": True,
    "datetime.time": True,
    "datetime.timedelta": True,
    "datetime.timezone": True,
    "decimal.Decimal": True,
    "collections.OrderedDict": True,
}
"""Standard-library value types that pickles of models and their attributes use."""

NUMPY_1_ALIASES = {
    "numpy.core.multiarray._reconstruct": True,
    "numpy.core.multiarray.scalar": True,
    "numpy.core.numeric._frombuffer": True,
}
"""Names numpy 1.x wrote (numpy 2 still resolves them): older model files use them."""

EXCLUDED_PREFIXES = ("pyarrow.",)
"""Recorded only from DataFrames with string columns (not models): pyarrow rebuilds arrays from
raw buffers and offsets taken from the file, a memory-safety risk we do not take by default."""


def helper_names() -> dict[str, bool]:
    """Every class of :data:`HELPER_MODULES` (resolvable) and their restorers (callable)."""
    import importlib

    out: dict[str, bool] = {**NUMPY_1_ALIASES, **STDLIB_VALUES}
    for module_name in HELPER_MODULES:
        module = importlib.import_module(module_name)
        for name, obj in vars(module).items():
            if isinstance(obj, type) and obj.__module__ == module_name:
                out[f"{module_name}.{name}"] = name.startswith("Cy")
            elif name.startswith("__pyx_unpickle_") or name == "newObj":
                out[f"{module_name}.{name}"] = True
    for name in dir(np):
        if isinstance(getattr(np, name), np.ufunc):
            out[f"numpy.{name}"] = False  # FunctionTransformer(np.log1p) pickles the ufunc by name
    return out


def main() -> int:
    for obj in models():
        record(obj)
    for key, reduce in helper_names().items():
        Recorder.seen[key] = Recorder.seen.get(key, False) or reduce
    for key in [k for k in Recorder.seen if k.startswith(EXCLUDED_PREFIXES)]:
        del Recorder.seen[key]
    bad = [k for k in Recorder.seen if any(k.endswith("." + n) for n in NEVER)]
    if bad:
        print(f"refusing to write: recorded globals on the never-list: {bad}", file=sys.stderr)
        return 1
    classes = sorted(estimator_classes() | set(Recorder.seen))
    reduce_ok = sorted(k for k, v in Recorder.seen.items() if v)
    import catboost  # noqa: E401
    import lightgbm
    import sklearn
    import xgboost

    print('"""Generated by ``tools/gen_pickle_allowlist.py``: review every change by hand.')
    print()
    print(f"Recorded with numpy {np.__version__}, pandas {pd.__version__}, scikit-learn "
          f"{sklearn.__version__},\nxgboost {xgboost.__version__}, "
          f"lightgbm {lightgbm.__version__}, "
          f"catboost {catboost.__version__}, joblib {joblib.__version__}.\n\"\"\"")
    print()
    print("# ruff: noqa: E501")
    print("ALLOWED_GLOBALS: frozenset[str] = frozenset({")
    for k in classes:
        print(f'    "{k}",')
    print("})")
    print('"""Exact ``module.name`` strings the safe unpickler may resolve; nothing else."""')
    print()
    print("REDUCE_CALLABLES: frozenset[str] = frozenset({")
    for k in reduce_ok:
        print(f'    "{k}",')
    print("})")
    print('"""The subset a pickle may call with arguments (the ``REDUCE`` opcode)."""')
    return 0


if __name__ == "__main__":
    sys.exit(main())
