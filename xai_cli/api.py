"""The front door for objects: ``xai.explain(model, X, y)``, as scikit-learn and shap are called.

A notebook user has a fitted model and a DataFrame, not files; :func:`explain` takes those and
returns an :class:`~xai_cli.explanation.Explanation` with the same numbers the CLI reports (both
end in :func:`xai_cli.run.engine.run_prepared`). :func:`explain_files` is the path variant the CLI
and ``xai run`` use: it loads the files safely, then runs the same way.

Example::

    import xai_cli as xai
    r = xai.explain(model, X_test, y_test)
    r.importances          # method, class, feature, value, share, rank
    r.agreement            # Spearman, Kendall, top-k Jaccard for every pair of methods
    r.save("reports/")     # report.json, importances.csv, agreement.csv, report.md, report.html
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from xai_cli.errors import DataError
from xai_cli.explanation import Explanation
from xai_cli.request import DEFAULT_MAX_ROWS, ExplainRequest

TARGET_COLUMN = "target"
"""The target's column name when ``y`` is given as an unnamed array."""



def _methods(methods: str | Sequence[str]) -> tuple[str, ...]:
    if isinstance(methods, str):
        names = tuple(m.strip() for m in methods.split(",") if m.strip())
    else:
        names = tuple(methods)
    return names or ("auto",)


def _model_sha256(model: Any) -> str:
    """SHA-256 of the model's pickle: the object's fingerprint in the provenance."""
    try:
        return hashlib.sha256(pickle.dumps(model, protocol=4)).hexdigest()
    except Exception:  # an object that does not pickle still explains; it just has no hash
        return ""


def _frame_sha256(frame: Any) -> str:
    import pandas as pd

    hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    return hashlib.sha256(hashed.tobytes() + "|".join(map(str, frame.columns)).encode()).hexdigest()


def _as_frame(X: Any, feature_names: Sequence[str] | None, adapter: Any) -> Any:
    """``X`` as a DataFrame: frames pass through; arrays take ``feature_names`` or the model's."""
    import numpy as np
    import pandas as pd

    if isinstance(X, pd.DataFrame):
        return X
    array = np.asarray(X)
    if array.ndim != 2:
        raise DataError(f"X must be 2-D (rows x features), got shape {array.shape}")
    names = list(feature_names) if feature_names is not None else list(adapter.feature_names)
    if len(names) != array.shape[1]:
        raise DataError(
            f"X has {array.shape[1]} columns but {len(names)} feature names",
            hint="pass feature_names=[...] with one name per column, or a DataFrame",
        )
    return pd.DataFrame(array, columns=names)


def _with_target(frame: Any, y: Any) -> tuple[Any, str | None]:
    """The frame with the target as a column, and that column's name (``y`` may name one)."""
    import numpy as np
    import pandas as pd

    if y is None:
        return frame, None
    if isinstance(y, str):
        if y not in frame.columns:
            raise DataError(f"y names a column that is not in X: '{y}'")
        return frame, y
    values = y.to_numpy() if isinstance(y, pd.Series) else np.asarray(y)
    if values.ndim != 1 or len(values) != len(frame):
        raise DataError(
            f"y must be one value per row of X ({len(frame)}), got shape {values.shape}"
        )
    name = y.name if isinstance(y, pd.Series) and isinstance(y.name, str) else TARGET_COLUMN
    if name in frame.columns:
        raise DataError(f"X already has a column '{name}'; pass y as that column's name instead")
    return frame.assign(**{name: values}), name


def explain(
    model: Any,
    X: Any,
    y: Any = None,
    *,
    methods: str | Sequence[str] = "auto",
    max_rows: int | None = DEFAULT_MAX_ROWS,
    seed: int = 0,
    top_k: int = 5,
    drop: Sequence[str] = (),
    params: Mapping[str, Mapping[str, Any]] | None = None,
    n_jobs: int | None = None,
    feature_names: Sequence[str] | None = None,
    rows: Sequence[int | str] | int | str = (),
    where: str | None = None,
    id_column: str | None = None,
    level: str = "raw",
    progress: Callable[[str], None] | None = None,
) -> Explanation:
    """Explain a fitted ``model`` on ``X`` with every method that applies, and compare them.

    ``model``: any model the CLI accepts (XGBoost, LightGBM, CatBoost, scikit-learn, as fitted
    objects). ``X``: a DataFrame (or a 2-D array with ``feature_names``, or with the model's own).
    ``y``: labels (array or Series, one per row) or the name of a column of ``X``; methods that need
    labels (permutation) are skipped without it. ``max_rows``: a seeded sample (stratified for
    classifiers), ``None`` for every row. ``params``: per-method parameters, e.g.
    ``{"permutation": {"n_repeats": 10}}``. ``level``: a scikit-learn Pipeline's results on its
    raw input columns (``"raw"``, encoded features' values summed per column) or on the encoded
    features its final estimator sees (``"encoded"``). Raises :class:`xai_cli.errors.XaiError`
    on bad input; a method that fails is recorded in the result, never lost with the others.

    ``rows`` (0-based positions in ``X``, or ids of ``id_column``) and ``where`` (a pandas query
    on ``X``, e.g. ``"age > 60"``) choose rows to explain one by one: every local method's
    attributions side by side (``Explanation.rows``); they are explained even when ``max_rows``
    samples. ``id_column`` names a column of ``X`` that identifies rows and is not a feature.
    """
    from xai_cli.load.models import LoadedModel
    from xai_cli.load.rows import select_from_frame
    from xai_cli.model.adapter import adapt
    from xai_cli.model.names import align_names
    from xai_cli.run.engine import prepare_loaded, run_prepared

    adapter = adapt(model)
    frame, target = _with_target(_as_frame(X, feature_names, adapter), y)
    adapter = align_names(adapter, frame.columns, (target or "", *drop))
    model_label = f"<{type(model).__name__} object>"
    request = ExplainRequest(  # checks every option and parameter before any work
        model_path=model_label,
        data_path=f"<{type(X).__name__} of {len(frame)} rows>",
        target=target,
        methods=_methods(methods),
        max_rows=max_rows,
        seed=seed,
        top_k=top_k,
        drop=tuple(drop),
        params=dict(params or {}),
        n_jobs=n_jobs,
        rows=(rows,) if isinstance(rows, str | int) else tuple(rows),
        where=where,
        id_column=id_column,
        level=level,
    )
    X_model, y_raw, notes, chosen = select_from_frame(frame, adapter, request)
    loaded = LoadedModel(
        obj=model, path=Path(model_label), format="object", sha256=_model_sha256(model),
        trusted=False,
    )  # fmt: skip
    prep = prepare_loaded(
        request, loaded, adapter, X_model, y_raw, Path(request.data_path), _frame_sha256(frame),
        len(frame), notes, chosen,
    )  # fmt: skip
    return Explanation(run_prepared(request, prep, progress or (lambda _: None)), prepared=prep)


def validate(
    model: Any,
    X: Any,
    y: Any = None,
    *,
    methods: str | Sequence[str] = "auto",
    max_rows: int | None = DEFAULT_MAX_ROWS,
    seed: int = 0,
    top_k: int = 5,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    options: Mapping[str, Any] | None = None,
    feature_names: Sequence[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> Explanation:
    """:func:`explain`, then the validation scorecard of every method that ran (exactness,
    routing parity, sanity, faithfulness, planted probes, stability); ``options`` are
    :class:`xai_cli.validate.checks.ValidateOptions` (e.g. ``{"rows": 200}``). The returned
    Explanation's report carries the scorecard and the verdict (``report.validation``)."""
    from xai_cli.validate.api import options_from, validated

    chosen = options_from(options)  # checked before any work
    explanation = explain(
        model, X, y, methods=methods, max_rows=max_rows, seed=seed, top_k=top_k, params=params,
        feature_names=feature_names, progress=progress,
    )  # fmt: skip
    prov = explanation.result.provenance
    request = ExplainRequest(
        model_path=prov.model_path, data_path=prov.data_path, target=prov.target,
        methods=_methods(methods), max_rows=max_rows, seed=seed, top_k=top_k,
        params=dict(params or {}),
    )  # fmt: skip
    return validated(explanation, request, chosen, progress)


def explain_files(
    model_path: str | Path,
    data_path: str | Path,
    *,
    target: str | None = None,
    methods: str | Sequence[str] = "auto",
    max_rows: int | None = DEFAULT_MAX_ROWS,
    seed: int = 0,
    top_k: int = 5,
    drop: Sequence[str] = (),
    params: Mapping[str, Mapping[str, Any]] | None = None,
    n_jobs: int | None = None,
    trust_model: bool = False,
    rows: Sequence[int | str] | int | str = (),
    where: str | None = None,
    id_column: str | None = None,
    level: str = "raw",
    progress: Callable[[str], None] | None = None,
    memory_budget: str | int | None = None,
) -> Explanation:
    """:func:`explain` from files: a model file (loaded safely unless ``trust_model``) and a CSV or
    Parquet file with ``target`` as the label column.

    ``memory_budget`` (``"4GiB"``, bytes, or ``"none"``): with ``max_rows=None``, a run estimated
    over it streams row-wise methods on its own (:mod:`xai_cli.run.memory`); None:
    ``XAI_MEMORY_BUDGET``, else a quarter of physical memory, at most 2 GiB."""
    request = ExplainRequest(
        model_path=str(model_path),
        data_path=str(data_path),
        target=target,
        methods=_methods(methods),
        max_rows=max_rows,
        seed=seed,
        top_k=top_k,
        trust_model=trust_model,
        drop=tuple(drop),
        params=dict(params or {}),
        n_jobs=n_jobs,
        rows=(rows,) if isinstance(rows, str | int) else tuple(rows),
        where=where,
        id_column=id_column,
        level=level,
        memory_budget=memory_budget,
    )
    return explain_request(request, progress)


def explain_request(
    request: ExplainRequest,
    progress: Callable[[str], None] | None = None,
    on_estimates: Callable[[tuple[Any, ...]], None] | None = None,
) -> Explanation:
    """Run a fully specified request (the CLI, ``xai run`` and ``xai audit`` build one).

    The loaded model and the explained rows stay on the result (``Explanation.prepared``) so that
    later steps (the audit's probes) reuse them instead of loading the files again.
    """
    from datetime import UTC, datetime
    from time import perf_counter

    from xai_cli.run.engine import prepare, run_prepared

    started, t0 = datetime.now(UTC), perf_counter()
    say = progress or (lambda _: None)
    prep = prepare(request, say)
    result = run_prepared(request, prep, say, on_estimates, started=started, t0=t0)
    return Explanation(result, prepared=prep)
