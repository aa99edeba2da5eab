"""Compile xai's numba TreeSHAP kernels now, into numba's on-disk cache, so no run waits for it.

The kernels (:mod:`xai_cli.methods.tables`) are ``@njit(cache=True)``: compiled on first use (about
30-40 s on a 2-core machine), then loaded from numba's cache in well under a second. numba keeps
that cache beside the package (``__pycache__``), or, where that folder is read-only, in a user
cache folder (``~/.cache/numba``), or in ``NUMBA_CACHE_DIR`` when set. :func:`warmup` pays the
compilation once, ahead of a real run: ``xai warmup`` after ``pip install``, or a ``RUN xai warmup``
line in a container image so every container starts with compiled kernels.

It explains a tiny seeded random forest with both table methods (path-dependent and
interventional), which calls every kernel with the argument types a real run uses: every model
family is parsed into the same :class:`~xai_cli.model.forest.Forest` arrays, so one warm-up covers
XGBoost, LightGBM, CatBoost and scikit-learn models alike.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

METHODS = ("treeshap", "treeshap.interventional")
"""The methods that run xai's compiled kernels."""


@dataclass(frozen=True)
class Warmup:
    """What a warm-up did: seconds spent and where numba keeps the compiled kernels."""

    seconds: float
    cache_dir: str


def cache_dir() -> str:
    """Where numba reads and writes xai's compiled kernels (the first writable of numba's own
    choices: ``NUMBA_CACHE_DIR``, beside the package, the user cache folder)."""
    from xai_cli.methods.tables import kernels

    try:  # numba's own choice of folder (a private attribute: if it moves, say so)
        from numba.core.caching import FunctionCache

        return str(FunctionCache(kernels.predict.py_func)._cache_path)
    except Exception:
        return "numba's cache folder (unknown to this numba version)"


def warmup() -> Warmup:
    """Compile (or load from the cache) every table kernel by explaining a tiny forest."""
    import numpy as np
    import pandas as pd
    from sklearn.ensemble import RandomForestClassifier

    from xai_cli.api import explain

    start = time.perf_counter()
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(200, 4)), columns=[f"x{i}" for i in range(4)])
    y = (X["x0"] + X["x1"] > 0).astype(int)
    model = RandomForestClassifier(n_estimators=3, max_depth=3, random_state=0).fit(X, y)
    result = explain(
        model, X, methods=",".join(METHODS), params={"treeshap.interventional": {
            "background_rows": 20}}, n_jobs=1,
    )
    failed = [m for m in result.report.methods if m.status != "ok"]
    if failed:
        raise RuntimeError("; ".join(f"{m.method}: {m.reason}" for m in failed))
    return Warmup(time.perf_counter() - start, cache_dir())
