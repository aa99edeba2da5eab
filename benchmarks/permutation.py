"""Permutation importance: xai's against scikit-learn's ``permutation_importance``, same seeds.

Usage: ``python -m benchmarks.permutation [--rows 10000] [--repeats 5] [--out PATH]``. Times
both on the same model and rows, alternating (xai with its tree walk and with the library
predicting every copy), and reports the largest difference of the
importances (they should be identical) and the plain prediction of the rows as the floor: a
permutation run makes ``1 + features x repeats`` predictions of the rows.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from benchmarks.workloads import synthetic

RESULTS = Path(__file__).resolve().parent / "results" / "permutation.md"


def main(argv: list[str] | None = None) -> int:
    import xgboost as xgb
    from sklearn.inspection import permutation_importance

    from xai_cli.methods.base import ExplainContext
    from xai_cli.methods.permutation import Permutation
    from xai_cli.model.adapter import adapt

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--trees", type=int, default=200)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    X, y = synthetic(20_000, 50, 0)
    model = xgb.XGBRegressor(n_estimators=args.trees, max_depth=6, tree_method="hist",
                             random_state=0, n_jobs=2).fit(X, y)  # fmt: skip
    Xe, ye = synthetic(args.rows, 50, 1)
    adapter = adapt(model)
    ctx = ExplainContext(adapter=adapter, X=Xe, y=np.asarray(ye), seed=0,
                         params={"n_repeats": args.repeats})  # fmt: skip
    library = ExplainContext(adapter=adapter, X=Xe, y=np.asarray(ye), seed=0,
                             params={"n_repeats": args.repeats, "tree_walk": False})  # fmt: skip
    Permutation().explain(ctx)  # numba's compile (or cache load) is paid once per process
    times: dict[str, list[float]] = {"xai": [], "library": [], "sklearn": [], "predict": []}
    for _ in range(2):  # alternating, the better of two each
        start = time.perf_counter()
        ours = Permutation().explain(ctx)
        times["xai"].append(time.perf_counter() - start)
        start = time.perf_counter()
        old = Permutation().explain(library)
        times["library"].append(time.perf_counter() - start)
        start = time.perf_counter()
        theirs = permutation_importance(model, Xe, ye, scoring="r2", n_repeats=args.repeats,
                                        random_state=0)  # fmt: skip
        times["sklearn"].append(time.perf_counter() - start)
        start = time.perf_counter()
        model.predict(Xe)
        times["predict"].append(time.perf_counter() - start)
    best = {k: min(v) for k, v in times.items()}
    calls = 1 + X.shape[1] * args.repeats
    gap = float(np.abs(ours.column() - theirs.importances_mean).max())
    gap_old = float(np.abs(old.column() - theirs.importances_mean).max())
    import numba

    numba_threads = numba.get_num_threads()
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    text = "\n".join([
        "# Permutation importance: xai against scikit-learn",
        "",
        f"XGBoost regressor, {args.trees} trees depth 6, 50 features; {args.rows:,} rows, "
        f"{args.repeats} repeats ({calls} predictions of the rows), R^2, seed 0; XGBoost on 2 "
        f"threads; the better of two alternating runs; load average at the end {load}.",
        "",
        "| implementation | seconds | vs scikit-learn |",
        "|---|---:|---:|",
        f"| scikit-learn permutation_importance | {best['sklearn']:.2f} | 1.0x |",
        f"| xai permutation ({ours.params['predictions']}) | {best['xai']:.2f} | "
        f"{best['sklearn'] / best['xai']:.2f}x |",
        f"| xai permutation (library predictions) | {best['library']:.2f} | "
        f"{best['sklearn'] / best['library']:.2f}x |",
        f"| floor: {calls} plain predictions | {calls * best['predict']:.2f} | "
        f"{best['sklearn'] / (calls * best['predict']):.2f}x |",
        "",
        f"Largest difference from scikit-learn's importances: xai {gap:.1e}, xai with library "
        f"predictions {gap_old:.1e} (identical when 0). numba threads: {numba_threads}. The "
        "tree walk re-walks only the (row, tree) pairs whose leaf path tests the shuffled "
        "column; xai's time includes its bit-for-bit check against XGBoost.",
        "",
    ])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
