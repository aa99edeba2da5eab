"""Time one explanation implementation on one workload, in this process, and print JSON.

Run by :mod:`benchmarks.run` as ``python -m benchmarks.measure ...`` in a fresh process per
measurement, so that the peak resident memory it reports (``ru_maxrss`` growth while computing)
belongs to that implementation alone. Also reports, for xai's own kernels and the peers, the
largest difference from the library's own TreeSHAP relative to the model's output range, and
the threads each implementation ran on (set explicitly, see :func:`pin_threads`).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import threading
import time
import warnings
from typing import Any

import joblib
import numpy as np

from benchmarks.workloads import FULL, QUICK, Workload, workloads
from xai_cli.methods.base import ExplainContext
from xai_cli.methods.treeshap import COMPUTE, TreeShap
from xai_cli.methods.treeshap_interventional import InterventionalTreeShap, background_sample
from xai_cli.model.adapter import ModelAdapter, adapt

IMPLEMENTATIONS = ("xai", "native", "shap", "xai_interventional", "shap_interventional",
                   "fasttreeshap", "woodelf", "shapiq", "predict")
ACCURACY_ROWS = 2_000
ACCURACY_ROWS_DEEP = 100
"""On the depth-10 workloads the library's own TreeSHAP runs at a few rows/s: the error column
compares the first 100 rows there (every implementation the same rows)."""
SINGLE_THREADED = {
    "shap": "shap's C++ TreeSHAP runs one thread",
    "shap_interventional": "shap's C++ TreeSHAP runs one thread",
    "woodelf": "WOODELF runs one thread",
    "shapiq": "shapiq 1.4's TreeSHAP-IQ is a Python recursion per row and tree, one thread",
}
"""Implementations that cannot use more than one core (the others are given every core)."""


class PeakRss:
    """Peak resident memory growth during a block: a thread samples ``/proc/self/statm`` every
    2 ms (Linux); elsewhere the growth of ``ru_maxrss``, which can only see a new lifetime peak.
    Large numpy and numba arrays are returned to the system when freed, so the resident size
    before the block does not include the warm-up run's temporaries."""

    def __init__(self) -> None:
        self._page_mb = os.sysconf("SC_PAGE_SIZE") / 2**20
        self._stop = threading.Event()
        self.peak_extra_mb = 0.0

    def _rss_mb(self) -> float:
        with open("/proc/self/statm", encoding="ascii") as handle:
            return int(handle.read().split()[1]) * self._page_mb

    def _poll(self, start: float) -> None:
        peak = start
        while not self._stop.wait(0.002):
            peak = max(peak, self._rss_mb())
        self.peak_extra_mb = max(0.0, max(peak, self._rss_mb()) - start)

    def __enter__(self) -> PeakRss:
        if os.path.exists("/proc/self/statm"):
            self._thread = threading.Thread(target=self._poll, args=(self._rss_mb(),))
            self._thread.start()
        else:
            self._thread = None
            self._before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
        return self

    def __exit__(self, *exc: object) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
        else:
            after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
            self.peak_extra_mb = max(0.0, after - self._before)


def _shap_values(adapter: ModelAdapter, ctx: ExplainContext, background: Any) -> np.ndarray:
    import shap

    frame = adapter.typed_frame(ctx.X)
    if background is None:
        explainer = shap.TreeExplainer(adapter.model)
    else:
        # like for like: TreeExplainer(model, data) would subsample the background to 100 rows
        # (its Independent masker's max_samples=100); use every background row xai uses
        bg = adapter.typed_frame(background)
        masker = shap.maskers.Independent(bg, max_samples=len(bg))
        explainer = shap.TreeExplainer(
            adapter.model, masker, feature_perturbation="interventional"
        )
    return np.asarray(explainer.shap_values(frame, check_additivity=False))


def _fasttreeshap(adapter: ModelAdapter, ctx: ExplainContext) -> np.ndarray:
    """FastTreeSHAP v2 (the maintained ``fasttreeshap-fixed`` fork), on every core."""
    import fasttreeshap_fixed as fts

    explainer = fts.TreeExplainer(adapter.model, algorithm="v2", n_jobs=-1)
    values = np.asarray(explainer.shap_values(adapter.typed_frame(ctx.X), check_additivity=False))
    return values[:, :, None] if values.ndim == 2 else values


def _woodelf(adapter: ModelAdapter, ctx: ExplainContext) -> np.ndarray:
    """WOODELF's path-dependent SHAP (``woodelf-explainer``)."""
    import woodelf

    frame = adapter.typed_frame(ctx.X)
    values = woodelf.WoodelfExplainer(adapter.model).shap_values(frame, verbose=False)
    values = np.asarray(values)
    return values[:, :, None] if values.ndim == 2 else values


def pin_threads(adapter: ModelAdapter, impl: str) -> int:
    """Give ``impl`` every core explicitly and return the thread count it runs on (1 for the
    single-threaded ones): numba's threads and XGBoost's ``nthread`` here; LightGBM predicts
    on OpenMP's ``OMP_NUM_THREADS``, which :mod:`benchmarks.run` sets to every core; CatBoost's
    ``ShapValues`` (``thread_count=-1``) and FastTreeSHAP (``n_jobs=-1``) take all cores."""
    cores = os.cpu_count() or 1
    if impl in SINGLE_THREADED or (impl == "native" and adapter.family == "sklearn_tree"):
        return 1  # scikit-learn has no TreeSHAP: its "own" is shap's single-threaded one
    import numba

    numba.set_num_threads(min(cores, numba.config.NUMBA_NUM_THREADS))
    if adapter.family == "xgboost":
        adapter.native.set_param({"nthread": cores})
        adapter.model.set_params(n_jobs=cores)  # the sklearn wrapper the peers read
    return cores


def _shapiq(adapter: ModelAdapter, ctx: ExplainContext, budget: float) -> tuple[np.ndarray, int]:
    """shapiq's ``TreeExplainer`` for plain Shapley values (``index="SV"``, ``max_order=1``),
    the same path-dependent TreeSHAP. It explains one row at a time, so the first row is a pilot:
    only as many rows as fit in ``budget`` seconds are explained (at least that one); returns
    the values of those rows and their count."""
    import pandas as pd
    import shapiq

    if adapter.categorical_features:
        raise ValueError("shapiq 1.4.1 explains numeric arrays only: no categorical splits")
    with warnings.catch_warnings():  # shapiq 1.4.1's XGBoost parser writes integers into the
        warnings.simplefilter("ignore")  # str column pandas 3 infers: ask for the old object one
        pd.set_option("future.infer_string", False)
    start = time.perf_counter()
    explainer = shapiq.TreeExplainer(adapter.model, max_order=1, min_order=1, index="SV")
    X = np.asarray(adapter.typed_frame(ctx.X), dtype=float)
    first = explainer.explain(X[0])
    per_row = time.perf_counter() - start
    n = max(1, min(len(X), int(budget / max(per_row, 1e-9))))
    ivs = [first] + [explainer.explain(X[i]) for i in range(1, n)]
    values = np.stack([iv.get_n_order_values(1) for iv in ivs])
    return values[:, :, None], n


def warm_up(impl: str, adapter: ModelAdapter, X: Any, params: dict[str, Any]) -> None:
    """Compile xai's numba kernels (cached on disk) before the timed call, on 130 rows (three
    64-row blocks, so the parallel path too) with every engine the cost model may pick: the
    engine depends on the row count, and a kernel first compiled inside the timed call would
    charge its compilation to the measurement. Each warm-up has its own run cache, so the timed
    call still parses and checks the trees itself."""
    engines = ("auto", "tables", "quadrature") if impl == "xai" else ("auto",)
    for engine in engines:
        extra = {} if engine == "auto" else {"engine": engine}
        warm = ExplainContext(adapter=adapter, X=X.iloc[:130], y=None, seed=0,
                              params={**params, **extra})  # fmt: skip
        try:
            (TreeShap() if impl == "xai" else InterventionalTreeShap()).explain(warm)
        except Exception:  # noqa: BLE001 - an engine that refuses this model is not warmed
            if engine == "auto":
                raise


def run_one(
    work: Workload, impl: str, rows: int, background_rows: int, budget: float = 600.0
) -> dict[str, Any]:
    """Time ``impl`` on ``rows`` rows of ``work``; returns seconds, rows/s, memory, threads and
    notes (shapiq: on as many of the rows as fit in ``budget`` seconds, stated in ``rows``)."""
    adapter = adapt(joblib.load(work.model_path))
    threads = pin_threads(adapter, impl)
    X = work.rows(rows)
    # each method validates its own parameters: only the interventional one has a background
    params = {"background_rows": background_rows} if impl == "xai_interventional" else {}
    ctx = ExplainContext(adapter=adapter, X=X, y=None, seed=0, params=params)
    notes: tuple[str, ...] = ()
    values = None
    if impl in ("xai", "xai_interventional"):
        warm_up(impl, adapter, X, params)
    if impl.startswith("shap"):
        import shap  # noqa: F401  (the import is not part of the time)
    if impl == "fasttreeshap":
        import fasttreeshap_fixed  # noqa: F401
    if impl == "woodelf":
        import woodelf  # noqa: F401
    if impl == "shapiq":
        import shapiq  # noqa: F401
    with PeakRss() as memory:
        start = time.perf_counter()
        if impl == "xai":
            local = TreeShap().explain(ctx)
            values, notes = local.values, local.notes
        elif impl == "native":
            values = COMPUTE[adapter.family](ctx)[0]
        elif impl == "shap":
            _shap_values(adapter, ctx, None)
        elif impl == "xai_interventional":
            notes = InterventionalTreeShap().explain(ctx).notes
        elif impl == "fasttreeshap":
            values = _fasttreeshap(adapter, ctx)
        elif impl == "woodelf":
            values = _woodelf(adapter, ctx)
        elif impl == "shapiq":
            values, rows = _shapiq(adapter, ctx, budget)
        elif impl == "predict":  # the floor: the model's own plain prediction of the rows
            adapter.predict_raw(ctx.X)
        elif impl == "shap_interventional":
            _shap_values(adapter, ctx, background_sample(X, background_rows, 0))
        else:
            raise ValueError(f"unknown implementation {impl}")
        seconds = time.perf_counter() - start
    result: dict[str, Any] = {
        "workload": work.name,
        "impl": impl,
        "rows": rows,
        "seconds": seconds,
        "rows_per_s": rows / seconds,
        "peak_extra_mb": memory.peak_extra_mb,
        "threads": threads,
        "notes": list(notes),
    }
    if impl in ("xai", "fasttreeshap", "woodelf", "shapiq") and values is not None:
        n = min(rows, ACCURACY_ROWS_DEEP if work.name.startswith("deep_") else ACCURACY_ROWS)
        head = ExplainContext(adapter=adapter, X=X.iloc[:n], y=None, seed=0)
        own = COMPUTE[adapter.family](head)[0]
        # the output range over the same rows for every implementation (shapiq explains fewer)
        scale = max(1.0, float(np.ptp(adapter.predict_raw(X.iloc[:ACCURACY_ROWS]))))
        result["max_error_vs_own"] = float(np.abs(values[:n] - own).max()) / scale
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workload", required=True)
    parser.add_argument("--impl", required=True, choices=IMPLEMENTATIONS)
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--budget", type=float, default=600.0,
                        help="shapiq: explain only the rows that fit in this many seconds")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    (work,) = workloads(args.quick, (args.workload,))
    print(json.dumps(run_one(work, args.impl, args.rows, sizes.background_rows, args.budget)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
