"""Time one explanation implementation on one workload, in this process, and print JSON.

Run by :mod:`benchmarks.run` as ``python -m benchmarks.measure ...`` in a fresh process per
measurement, so that the peak resident memory it reports (``ru_maxrss`` growth while computing)
belongs to that implementation alone. Also reports, for xai's own kernels, the largest
difference from the library's own TreeSHAP relative to the model's output range.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import threading
import time
from typing import Any

import joblib
import numpy as np

from benchmarks.workloads import FULL, QUICK, Workload, workloads
from xai_cli.methods.base import ExplainContext
from xai_cli.methods.treeshap import COMPUTE, TreeShap
from xai_cli.methods.treeshap_interventional import InterventionalTreeShap, background_sample
from xai_cli.model.adapter import ModelAdapter, adapt

IMPLEMENTATIONS = ("xai", "native", "shap", "xai_interventional", "shap_interventional",
                   "fasttreeshap", "woodelf", "predict")
ACCURACY_ROWS = 2_000


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


def run_one(work: Workload, impl: str, rows: int, background_rows: int) -> dict[str, Any]:
    """Time ``impl`` on ``rows`` rows of ``work``; returns seconds, rows/s, memory and notes."""
    adapter = adapt(joblib.load(work.model_path))
    X = work.rows(rows)
    # each method validates its own parameters: only the interventional one has a background
    params = {"background_rows": background_rows} if impl == "xai_interventional" else {}
    ctx = ExplainContext(adapter=adapter, X=X, y=None, seed=0, params=params)
    warm = ExplainContext(adapter=adapter, X=X.iloc[:50], y=None, seed=0, params=params)
    notes: tuple[str, ...] = ()
    values = None
    if impl in ("xai", "xai_interventional"):  # compile the numba kernels (cached on disk)
        (TreeShap() if impl == "xai" else InterventionalTreeShap()).explain(warm)
    if impl.startswith("shap"):
        import shap  # noqa: F401  (the import is not part of the time)
    if impl == "fasttreeshap":
        import fasttreeshap_fixed  # noqa: F401
    if impl == "woodelf":
        import woodelf  # noqa: F401
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
        "notes": list(notes),
    }
    if impl in ("xai", "fasttreeshap", "woodelf") and values is not None:
        n = min(rows, ACCURACY_ROWS)
        head = ExplainContext(adapter=adapter, X=X.iloc[:n], y=None, seed=0)
        own = COMPUTE[adapter.family](head)[0]
        scale = max(1.0, float(np.ptp(adapter.predict_raw(X.iloc[:n]))))
        result["max_error_vs_own"] = float(np.abs(values[:n] - own).max()) / scale
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workload", required=True)
    parser.add_argument("--impl", required=True, choices=IMPLEMENTATIONS)
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    (work,) = workloads(args.quick, (args.workload,))
    print(json.dumps(run_one(work, args.impl, args.rows, sizes.background_rows)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
