"""The one place that recognises a model: its family, task, outputs, features and how to call it.

Every backend talks to a model only through a :class:`ModelAdapter`, so the quirks of each library
(where XGBoost keeps ``best_iteration``, how LightGBM marks categorical features, which CatBoost
loss means "classifier") live here and nowhere else.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from xai_cli.errors import DataError, UnsupportedModelError, describe

if TYPE_CHECKING:
    from xai_cli.model.pipeline import PipelineView

Family = Literal["xgboost", "lightgbm", "catboost", "sklearn_tree", "sklearn"]
Task = Literal["regression", "binary", "multiclass"]

CATBOOST_MISSING_CATEGORY = "nan"
"""What a missing categorical value is passed to CatBoost as (``astype(str)`` of NaN)."""

SKLEARN_TREE_CLASSES = frozenset(
    {
        "DecisionTreeClassifier",
        "DecisionTreeRegressor",
        "ExtraTreeClassifier",
        "ExtraTreeRegressor",
        "RandomForestClassifier",
        "RandomForestRegressor",
        "ExtraTreesClassifier",
        "ExtraTreesRegressor",
        "GradientBoostingClassifier",
        "GradientBoostingRegressor",
        "HistGradientBoostingClassifier",
        "HistGradientBoostingRegressor",
        "IsolationForest",
    }
)
"""scikit-learn models xai's TreeSHAP kernels parse (:mod:`xai_cli.model.parsers`)."""

HGB_CLASSES = frozenset({"HistGradientBoostingClassifier", "HistGradientBoostingRegressor"})
LOG_LINK_LOSSES = frozenset({"poisson", "gamma"})
"""HistGradientBoostingRegressor losses whose raw score is the log of the prediction."""

LINEAR_CLASSES = frozenset(
    {
        "LogisticRegression",
        "LogisticRegressionCV",
        "LinearRegression",
        "Ridge",
        "RidgeCV",
        "RidgeClassifier",
        "RidgeClassifierCV",
        "Lasso",
        "LassoCV",
        "LassoLars",
        "LassoLarsCV",
        "LassoLarsIC",
        "Lars",
        "LarsCV",
        "ElasticNet",
        "ElasticNetCV",
        "OrthogonalMatchingPursuit",
        "BayesianRidge",
        "ARDRegression",
        "HuberRegressor",
        "QuantileRegressor",
        "TheilSenRegressor",
        "SGDClassifier",
        "SGDRegressor",
        "Perceptron",
        "PassiveAggressiveClassifier",
        "PassiveAggressiveRegressor",
        "LinearSVC",
        "LinearSVR",
        "SVC",
        "SVR",
        "NuSVC",
        "NuSVR",
    }
)
"""scikit-learn models whose raw output (``decision_function`` or ``predict``) is ``X @ coef_ +
intercept_`` (SVMs only with ``kernel="linear"``: see :func:`is_linear_model`)."""


def is_linear_model(model: Any) -> bool:
    """Whether a fitted scikit-learn model's raw output is linear in its inputs."""
    name = type(model).__name__
    if name not in LINEAR_CLASSES or type(model).__module__.split(".")[0] != "sklearn":
        return False
    if name in ("SVC", "SVR", "NuSVC", "NuSVR") and getattr(model, "kernel", "") != "linear":
        return False
    return hasattr(model, "coef_")


@dataclass(frozen=True)
class ModelAdapter:
    """A uniform view of one model.

    ``native`` is the object the library's own explanation functions take (an XGBoost/LightGBM
    ``Booster``, a CatBoost model, a scikit-learn estimator). ``n_iterations`` is the number of
    boosting rounds the model predicts with (after early stopping), or ``None`` when not a booster.
    ``outputs`` labels the raw outputs: one label for regression and binary (the positive class),
    one per class for multiclass.
    """

    family: Family
    task: Task
    model: Any
    native: Any
    model_class: str
    feature_names: tuple[str, ...]
    categorical_features: tuple[str, ...]
    class_labels: tuple[str, ...]
    n_iterations: int | None = None
    objective: str = ""
    feature_names_known: bool = True
    notes: tuple[str, ...] = field(default_factory=tuple)
    pipeline: PipelineView | None = None
    """For a scikit-learn Pipeline whose encoded features trace back to its raw columns: the
    preprocessing, the final estimator's adapter and the encoded -> raw map
    (:mod:`xai_cli.model.pipeline`); methods with a fast path run through it."""
    encoded_by_model: tuple[str, ...] = ()
    """Raw columns the model encodes itself (a pipeline's text columns): passed as read."""
    native_names: tuple[str, ...] | None = None
    """The model's own feature names when the data's differ only by the library's sanitising
    (LightGBM turns spaces into ``_``); ``feature_names`` are then the data's names."""

    # ----- labels -----------------------------------------------------------------------------
    @property
    def outputs(self) -> tuple[str, ...]:
        """Labels of the raw outputs (columns of :meth:`predict_raw`)."""
        if self.task == "multiclass":
            return self.class_labels
        if self.task == "binary":
            return (self.class_labels[-1],)
        return ("value",)

    @property
    def is_classifier(self) -> bool:
        return self.task in ("binary", "multiclass")

    @property
    def is_linear(self) -> bool:
        """Whether the raw output is ``X @ coef_ + intercept_`` (:func:`is_linear_model`)."""
        return self.family == "sklearn" and is_linear_model(self.native)

    @property
    def raw_space(self) -> str:
        """The space the raw output is in, used in SHAP units (``mean_abs_shap:<space>``)."""
        if self.is_linear and self.is_classifier:
            if self.model_class.startswith("LogisticRegression"):
                return "log_odds" if self.task == "binary" else "raw_class_score"
            return "decision_function"
        if self.model_class in ("GradientBoostingClassifier", "HistGradientBoostingClassifier"):
            return "log_odds" if self.task == "binary" else "raw_class_score"
        if self.model_class == "IsolationForest":
            return "path_length"
        if self.model_class == "HistGradientBoostingRegressor":
            return "log_value" if self.objective in LOG_LINK_LOSSES else "value"
        if self.family in ("sklearn_tree", "sklearn"):
            return "probability" if self.is_classifier else "value"
        if self.task == "binary":
            return "log_odds"
        if self.task == "multiclass":
            return "raw_class_score"
        return "raw_score"

    def with_class_labels(self, labels: tuple[str, ...]) -> ModelAdapter:
        """A copy that names the classes with the user's labels (e.g. from the target column)."""
        return replace(self, class_labels=labels)

    # ----- inputs -----------------------------------------------------------------------------
    def typed_frame(self, X: pd.DataFrame) -> pd.DataFrame:
        """The features in model order, each column typed the way the library expects.

        Raises :class:`DataError` naming the columns when a numeric feature holds text.
        """
        X = X.loc[:, list(self.feature_names)].copy()
        bad: list[str] = []
        for name in self.feature_names:
            col = X[name]
            if name in self.encoded_by_model:
                continue  # the model encodes this column itself: passed as read
            if name in self.categorical_features:
                if self.model_class in HGB_CLASSES:
                    continue  # the model's own OrdinalEncoder encodes it: pass it as it is
                if self.family == "catboost":
                    X[name] = col.astype(object).where(col.notna(), CATBOOST_MISSING_CATEGORY)
                    X[name] = X[name].astype(str)
                elif not isinstance(col.dtype, pd.CategoricalDtype):
                    X[name] = col.astype("category")
            elif not pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
                converted = pd.to_numeric(col, errors="coerce")
                if (converted.isna() & col.notna()).any():
                    bad.append(f"{name} (e.g. {col[converted.isna() & col.notna()].iloc[0]!r})")
                X[name] = converted.astype(float)
        if bad:
            raise DataError(
                "non-numeric values in columns the model needs as numbers: " + ", ".join(bad),
                hint="clean or encode these columns the way the model was trained",
            )
        return X

    def prepare(self, X: pd.DataFrame, *, typed: bool = False) -> Any:
        """The input object the library predicts on: a DMatrix, a Pool, a frame or an array.
        ``typed``: ``X`` is already :meth:`typed_frame`'s output (skips its copy and checks)."""
        X = X if typed else self.typed_frame(X)
        if self.native_names is not None:  # the stored names, on a new frame (never the caller's)
            X = X.set_axis(list(self.native_names), axis=1)
        if self.family == "xgboost":
            import xgboost as xgb

            return xgb.DMatrix(X, enable_categorical=bool(self.categorical_features))
        if self.family == "catboost":
            from catboost import Pool

            return Pool(X, cat_features=list(self.categorical_features) or None)
        if self.family in ("sklearn_tree", "sklearn") and not self.feature_names_known:
            return X.to_numpy() if self.categorical_features else X.to_numpy(dtype=float)
        return X

    # ----- predictions ------------------------------------------------------------------------
    def predict_raw(self, X: pd.DataFrame, *, typed: bool = False) -> np.ndarray:
        """Raw model output, shape (rows, outputs): the space native SHAP values sum to."""
        data = self.prepare(X, typed=typed)
        if self.family == "xgboost":
            out = self.native.predict(
                data, output_margin=True, iteration_range=(0, self.n_iterations or 0)
            )
        elif self.family == "lightgbm":
            out = self.native.predict(data, raw_score=True, num_iteration=self.n_iterations)
        elif self.family == "catboost":
            out = self.native.predict(data, prediction_type="RawFormulaVal")
        elif self.model_class in ("GradientBoostingClassifier", "HistGradientBoostingClassifier"):
            out = self.native.decision_function(data)  # what its trees (and TreeSHAP) add up to
        elif self.model_class == "IsolationForest":
            out = isolation_path_length(self.native, self.native.score_samples(data))
        elif self.model_class == "HistGradientBoostingRegressor":
            out = self.native.predict(data)
            out = np.log(out) if self.objective in LOG_LINK_LOSSES else out
        elif self.is_linear and self.is_classifier:
            out = self.native.decision_function(data)  # what its coefficients add up to
        elif self.is_classifier:
            out = self.native.predict_proba(data)
            out = out[:, 1] if self.task == "binary" else out
        else:
            out = self.native.predict(data)
        return np.asarray(out, dtype=float).reshape(len(X), -1)

    def predict_scores(self, X: pd.DataFrame, *, typed: bool = False) -> np.ndarray:
        """What a metric scores: class probabilities (rows, classes) or regression values
        (an IsolationForest's mean path length, what its attributions explain)."""
        if self.model_class == "IsolationForest":
            return self.predict_raw(X, typed=typed)[:, 0]
        if self.family in ("sklearn_tree", "sklearn"):
            data = self.prepare(X, typed=typed)
            if not self.is_classifier:
                return np.asarray(self.native.predict(data))
            if hasattr(self.native, "predict_proba"):
                return np.asarray(self.native.predict_proba(data))
            return _scores_from_decision(np.asarray(self.native.decision_function(data)))
        if self.family == "catboost":
            kind = "Probability" if self.is_classifier else None
            data = self.prepare(X, typed=typed)
            out = (
                self.native.predict(data, prediction_type=kind)
                if kind
                else self.native.predict(data)
            )
            return np.asarray(out, dtype=float)
        if self.task == "binary":
            p = 1.0 / (1.0 + np.exp(-self.predict_raw(X, typed=typed)[:, 0]))
            return np.column_stack([1.0 - p, p])
        if self.task == "multiclass":
            raw = self.predict_raw(X, typed=typed)
            z = np.exp(raw - raw.max(axis=1, keepdims=True))
            return z / z.sum(axis=1, keepdims=True)
        data = self.prepare(X, typed=typed)  # regression: one prediction, not a raw one too
        if self.family == "lightgbm":
            return np.asarray(self.native.predict(data, num_iteration=self.n_iterations), float)
        return np.asarray(
            self.native.predict(data, iteration_range=(0, self.n_iterations or 0)), dtype=float
        )


def average_path_length(n_samples: np.ndarray) -> np.ndarray:
    """c(n): the average path length of an unsuccessful search in a binary search tree of ``n``
    points (Liu et al. 2008), which IsolationForest adds at each leaf for the points it did not
    isolate: 0 for n <= 1, 1 for n == 2, else 2 H(n-1) - 2 (n-1) / n with H(i) ~ ln i + gamma."""
    n = np.asarray(n_samples, dtype=np.float64)
    out = np.zeros_like(n)
    two = n == 2
    big = n > 2
    out[two] = 1.0
    m = n[big]
    out[big] = 2.0 * (np.log(m - 1.0) + np.euler_gamma) - 2.0 * (m - 1.0) / m
    return out


def isolation_path_length(model: Any, scores: np.ndarray) -> np.ndarray:
    """An IsolationForest's mean path length E[h(x)] from its ``score_samples``
    (``-2 ** (-E[h(x)] / c(max_samples_))``, inverted)."""
    c = float(average_path_length(np.array([model.max_samples_]))[0])
    return -np.log2(-np.asarray(scores, dtype=np.float64)) * c


def _scores_from_decision(decision: np.ndarray) -> np.ndarray:
    """Class scores from a decision function (a model without ``predict_proba``, e.g. LinearSVC):
    sigmoid / softmax, monotone in the decision, which is what ranking metrics (ROC AUC) read."""
    if decision.ndim == 1:
        p = 1.0 / (1.0 + np.exp(-decision))
        return np.column_stack([1.0 - p, p])
    z = np.exp(decision - decision.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


# ----- recognition ------------------------------------------------------------------------------
def _generic_names(n: int) -> tuple[str, ...]:
    return tuple(f"f{i}" for i in range(n))


def _class_labels(model: Any, n_classes: int) -> tuple[str, ...]:
    classes = getattr(model, "classes_", None)
    if classes is not None and len(np.asarray(classes)) == n_classes:
        return tuple(str(c) for c in np.asarray(classes))
    return tuple(str(i) for i in range(n_classes))


def _xgboost(model: Any) -> ModelAdapter:
    import xgboost as xgb

    booster = model.get_booster() if isinstance(model, xgb.XGBModel) else model
    config = json.loads(booster.save_config())["learner"]
    objective = config["objective"]["name"]
    if config.get("gradient_booster", {}).get("name") == "gblinear":
        raise UnsupportedModelError(
            "XGBoost gblinear models are linear, not trees; xai explains tree boosters",
            hint="use a gbtree or dart booster",
        )
    n_class = int(config["learner_model_param"].get("num_class", "0") or 0)
    if objective.startswith("binary:"):
        task: Task = "binary"
        labels = _class_labels(model, 2)
    elif objective.startswith("multi:"):
        task, labels = "multiclass", _class_labels(model, n_class)
    else:
        task, labels = "regression", ()
    names = booster.feature_names
    n_features = booster.num_features()
    types = booster.feature_types or ["float"] * n_features
    feature_names = tuple(names) if names else _generic_names(n_features)
    categorical = tuple(n for n, t in zip(feature_names, types, strict=True) if t == "c")
    best = booster.attributes().get("best_iteration")
    rounds = int(best) + 1 if best is not None else booster.num_boosted_rounds()
    notes = []
    if best is not None and rounds < booster.num_boosted_rounds():
        notes.append(
            f"early stopping: using the first {rounds} of {booster.num_boosted_rounds()} rounds"
        )
    return ModelAdapter(
        family="xgboost",
        task=task,
        model=model,
        native=booster,
        model_class=type(model).__name__,
        feature_names=feature_names,
        categorical_features=categorical,
        class_labels=labels,
        n_iterations=rounds,
        objective=objective,
        feature_names_known=bool(names),
        notes=tuple(notes),
    )


def _lightgbm(model: Any) -> ModelAdapter:
    import lightgbm as lgb

    booster = model.booster_ if isinstance(model, lgb.LGBMModel) else model
    dump = booster.dump_model(num_iteration=-1)
    objective = str(dump.get("objective", "")).split(" ")[0]
    per_iter = booster.num_model_per_iteration()
    if objective in ("binary", "cross_entropy", "xentropy"):
        task: Task = "binary"
        labels = _class_labels(model, 2)
    elif objective in ("multiclass", "softmax", "multiclassova", "multiclass_ova", "ova", "ovr"):
        task, labels = "multiclass", _class_labels(model, per_iter)
    else:
        task, labels = "regression", ()
    names = tuple(booster.feature_name())
    infos = dump.get("feature_infos", {})
    categorical = tuple(n for n in names if isinstance(infos.get(n), dict) and infos[n]["values"])
    total = booster.num_trees() // max(per_iter, 1)
    best = booster.best_iteration if booster.best_iteration and booster.best_iteration > 0 else None
    rounds = best or total
    notes = [f"early stopping: using the first {rounds} of {total} rounds"] if best else []
    if any(n.startswith("Column_") for n in names):
        notes.append("the model has no feature names; columns are matched by position")
    return ModelAdapter(
        family="lightgbm",
        task=task,
        model=model,
        native=booster,
        model_class=type(model).__name__,
        feature_names=names,
        categorical_features=categorical,
        class_labels=labels,
        n_iterations=rounds,
        objective=objective,
        feature_names_known=not any(n.startswith("Column_") for n in names),
        notes=tuple(notes),
    )


def _catboost(model: Any) -> ModelAdapter:
    loss = str(model.get_all_params().get("loss_function", "RMSE")).split(":")[0]
    names = tuple(model.feature_names_)
    categorical = tuple(names[i] for i in model.get_cat_feature_indices())
    # CatBoost names the columns of an unnamed matrix "0", "1", ...: those are positions
    positional = names == tuple(str(i) for i in range(len(names)))
    if loss in ("Logloss", "CrossEntropy"):
        task: Task = "binary"
        labels = _class_labels(model, 2)
    elif loss in ("MultiClass", "MultiClassOneVsAll"):
        dims = int(model.get_all_params().get("classes_count", 0) or 0) or len(model.classes_)
        task, labels = "multiclass", _class_labels(model, dims)
    else:
        task, labels = "regression", ()
    return ModelAdapter(
        family="catboost",
        task=task,
        model=model,
        native=model,
        model_class=type(model).__name__,
        feature_names=names,
        categorical_features=categorical,
        class_labels=labels,
        n_iterations=model.tree_count_,
        objective=loss,
        feature_names_known=not positional,
        notes=("the model has no feature names; columns are matched by position",)
        if positional
        else (),
    )


def _sklearn(model: Any) -> ModelAdapter:
    from sklearn.base import is_classifier

    n_features = getattr(model, "n_features_in_", None)
    if n_features is None:
        raise UnsupportedModelError(
            f"{type(model).__name__} is not a fitted scikit-learn estimator",
            hint="fit the model before saving it",
        )
    names = getattr(model, "feature_names_in_", None)
    feature_names = (
        tuple(str(n) for n in names) if names is not None else _generic_names(n_features)
    )
    notes: list[str] = []
    name = type(model).__name__
    family: Family = "sklearn_tree" if name in SKLEARN_TREE_CLASSES else "sklearn"
    view, encoded_by_model = None, ()
    if name == "Pipeline":
        view, encoded_by_model, note = _pipeline_parts(model, feature_names)
        notes.append(note)
    categorical: tuple[str, ...] = ()
    objective = ""
    if name in HGB_CLASSES:
        mask = getattr(model, "is_categorical_", None)
        if mask is not None:
            categorical = tuple(n for n, c in zip(feature_names, mask, strict=True) if c)
        objective = str(getattr(model, "loss", ""))
    if name == "IsolationForest":
        notes.append(
            "IsolationForest: explained as a regression on its mean path length E(h(x)) "
            "(shap's definition); score_samples = -2**(-E(h(x)) / c(max_samples_)) and "
            "decision_function = score_samples - offset_, so a shorter path is more anomalous"
        )
    if is_classifier(model):
        n_classes = len(model.classes_)
        task: Task = "binary" if n_classes == 2 else "multiclass"
        labels = _class_labels(model, n_classes)
    else:
        task, labels = "regression", ()
    return ModelAdapter(
        family=family,
        task=task,
        model=model,
        native=model,
        model_class=name,
        feature_names=feature_names,
        categorical_features=categorical,
        class_labels=labels,
        objective=objective,
        feature_names_known=names is not None,
        notes=tuple(notes),
        pipeline=view,
        encoded_by_model=encoded_by_model,
    )


def _pipeline_parts(
    model: Any, raw: tuple[str, ...]
) -> tuple[PipelineView | None, tuple[str, ...], str]:
    """A pipeline's view (or ``None``), the raw columns it encodes itself, and a one-line note."""
    from xai_cli.model.pipeline import NoMapping, model_encoded_columns, pipeline_view

    encoded_by_model = model_encoded_columns(model, raw)
    final = type(model.steps[-1][1]).__name__
    try:
        view = pipeline_view(model, raw)
    except NoMapping as exc:
        return None, encoded_by_model, (
            f"scikit-learn Pipeline ending in {final}: the encoded features cannot be traced to "
            f"raw columns ({exc}); explained on its raw columns by model-agnostic methods only"
        )
    return view, encoded_by_model, (
        f"scikit-learn Pipeline ending in {final}, fed the raw columns; {view.describe()}: "
        "fast-path methods run on the encoded matrix and are summed to raw columns"
    )


def adapt(model: Any) -> ModelAdapter:
    """Recognise a loaded model object. Raises :class:`UnsupportedModelError` for anything else."""
    module = type(model).__module__.split(".")[0]
    try:
        if module == "xgboost":
            return _xgboost(model)
        if module == "lightgbm":
            return _lightgbm(model)
        if module == "catboost":
            return _catboost(model)
        if module == "sklearn" and hasattr(model, "predict"):
            return _sklearn(model)
    except UnsupportedModelError:
        raise
    except Exception as exc:  # a half-initialised or unfitted model object
        raise UnsupportedModelError(
            f"could not read the {type(model).__name__} model",
            cause=describe(exc),
            hint="check that the model was fitted before it was saved",
        ) from exc
    raise UnsupportedModelError(
        f"{type(model).__module__}.{type(model).__name__} is not a supported model",
        hint="xai explains XGBoost, LightGBM, CatBoost and scikit-learn models",
    )
