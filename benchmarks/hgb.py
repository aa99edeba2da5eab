"""HistGradientBoosting TreeSHAP: xai's table kernels against shap's TreeExplainer, rows per second.

The same fitted model, the same rows, path-dependent SHAP in the raw space (log-odds for the
classifier): xai's ``treeshap`` (parse, parity check, tables, evaluation: all of it timed, on one
thread and on all cores) against ``shap.TreeExplainer(model).shap_values(X)``. Each timing is the
best of ``--repeats`` runs after one warm-up (which loads the numba kernels from the on-disk cache).
The values must agree to 1e-9 before a figure is written. A model with categorical features is
timed for xai alone: shap's TreeExplainer ignores HistGradientBoosting's categorical splits.
Writes a Markdown table to ``benchmarks/results/hgb.md`` (``--out``); ``--quick`` for small sizes.

    python -m benchmarks.hgb            # 50,000 training rows, 200 iterations, depth <= 8
    python -m benchmarks.hgb --quick
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from xai_cli.methods.base import ExplainContext, library_version
from xai_cli.methods.treeshap import TreeShap
from xai_cli.model.adapter import adapt

RESULTS = Path(__file__).resolve().parent / "results" / "hgb.md"
MAX_DEPTH = 8
GOAL = 10.0


@dataclass(frozen=True)
class Size:
    train_rows: int
    features: int
    iterations: int
    explain_rows: int


FULL = Size(50_000, 20, 200, 5_000)
QUICK = Size(5_000, 10, 40, 1_000)


def data(n: int, features: int, seed: int, categorical: bool) -> tuple[pd.DataFrame, np.ndarray]:
    """Gaussian features (5% missing in one), a nonlinear target; optionally a 12-level category."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, features)), columns=[f"x{i:02d}" for i in range(features)])
    X.loc[rng.random(n) < 0.05, "x01"] = np.nan
    signal = X["x00"] + np.sin(2 * X["x01"].fillna(0)) + X["x02"] * X["x03"]
    if categorical:
        level = rng.integers(0, 12, size=n)
        X["x04"] = pd.Categorical([f"c{v}" for v in level])
        signal = signal + (level % 3 - 1)
    y = (signal + rng.normal(scale=0.3, size=n) > 0).astype(int)
    return X, np.asarray(y)


def best_of(repeats: int, work: Callable[[], Any]) -> tuple[float, Any]:
    """The shortest of ``repeats`` timed runs after one untimed warm-up, and the last result."""
    out = work()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = work()
        times.append(time.perf_counter() - start)
    return min(times), out


def xai_values(model: Any, X: pd.DataFrame, n_jobs: int | None) -> np.ndarray:
    ctx = ExplainContext(adapter=adapt(model), X=X, y=None, seed=0, params={"n_jobs": n_jobs})
    local = TreeShap().explain(ctx)
    assert local.library == "numba", local.notes
    return local.values


def shap_values(model: Any, X: pd.DataFrame) -> np.ndarray:
    import shap

    values = shap.TreeExplainer(model).shap_values(X, check_additivity=False)
    return np.asarray(values, dtype=float)


def run(size: Size, repeats: int) -> str:
    import numba
    from sklearn.ensemble import HistGradientBoostingClassifier

    lines = [
        "# HistGradientBoosting TreeSHAP: xai against shap.TreeExplainer",
        "",
        f"Machine: {platform.processor() or platform.machine()}, "
        f"{numba.config.NUMBA_NUM_THREADS} cores seen by numba, load average "
        f"{os.getloadavg()[0]:.1f} at the start; scikit-learn "
        f"{library_version('scikit-learn')}, shap {library_version('shap')}, numba "
        f"{numba.__version__}. Binary HistGradientBoostingClassifier, {size.iterations} "
        f"iterations, max_depth={MAX_DEPTH} (31 leaves, the default), {size.features} features, "
        "trained on "
        f"{size.train_rows:,} rows; {size.explain_rows:,} rows explained; path-dependent SHAP in "
        f"log-odds; best of {repeats} runs after a warm-up. Goal: xai >= {GOAL:.0f}x shap.",
        "",
        "| model | implementation | seconds | rows/s | speed-up vs shap | max abs diff vs shap |",
        "|---|---|---:|---:|---:|---|",
    ]
    for categorical in (False, True):
        X, y = data(size.train_rows, size.features, 0, categorical)
        model = HistGradientBoostingClassifier(
            max_iter=size.iterations, max_depth=MAX_DEPTH, early_stopping=False, random_state=0,
            categorical_features="from_dtype",
        )
        with threadpool_limits(1, user_api="openmp"):  # steadier on a shared machine
            model.fit(X, y)
        rows = data(size.explain_rows, size.features, 1, categorical)[0]
        label = "with a categorical feature" if categorical else "numeric, NaN in x01"
        reference, shap_s = None, None
        if not categorical:
            shap_s, reference = best_of(repeats, lambda m=model, r=rows: shap_values(m, r))
            lines.append(
                f"| {label} | shap.TreeExplainer | {shap_s:.3f} | "
                f"{size.explain_rows / shap_s:,.0f} | 1.0x | (reference) |"
            )
        for n_jobs, name in ((1, "xai treeshap, 1 thread"), (None, "xai treeshap, all cores")):
            seconds, values = best_of(
                repeats, lambda m=model, r=rows, j=n_jobs: xai_values(m, r, j)
            )
            diff, speed = "shap does not split on categories", "-"
            if reference is not None and shap_s is not None:
                gap = float(np.abs(values[:, :, 0] - reference).max())
                if gap > 1e-9:
                    raise SystemExit(f"xai and shap disagree by {gap:.3g}")
                diff, speed = f"{gap:.1e}", f"{shap_s / seconds:.1f}x"
            lines.append(
                f"| {label} | {name} | {seconds:.3f} | {size.explain_rows / seconds:,.0f} | "
                f"{speed} | {diff} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    table = run(QUICK if args.quick else FULL, args.repeats)
    out = args.out or (RESULTS.with_name("hgb-quick.md") if args.quick else RESULTS)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(table, encoding="utf-8")
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
