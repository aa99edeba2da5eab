"""``treeshap.interactions`` against XGBoost's ``pred_interactions`` and shap's
``shap_interaction_values``: time, agreement and peak memory, side by side in one run.

The workload is the issue's: XGBoost, 500 trees of depth 6, 50 numeric features (the seeded
synthetic data of :mod:`benchmarks.workloads`, trained once on ``--train-rows`` rows and cached),
explaining 1,000 rows. Both libraries spend about two seconds per row on it on a 2-core machine
(they re-run TreeSHAP conditioned on each feature in turn), so by default they are timed on
``--library-rows`` rows and their time per row is scaled to the explained rows; the table says
so. xai is timed on every row, after one call that loads the compiled kernels and builds the
tables (timed separately). Peak memory is measured in a fresh process per row count, so the
table shows whether it grows with rows (only the SHAP values, rows x features, should).

    python -m benchmarks.interactions                       # the issue's sizes
    python -m benchmarks.interactions --quick --out /tmp/x.md   # a smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import joblib
import numpy as np

from benchmarks.measure import PeakRss
from benchmarks.workloads import CACHE, SEED, synthetic

ROOT = Path(__file__).resolve().parents[1]
OUT = Path(__file__).resolve().parent / "results" / "interactions.md"


def model_path(trees: int, features: int, train_rows: int) -> Path:
    """The cached XGBoost model of the workload (trained here the first time)."""
    folder = Path(os.environ.get("XAI_BENCH_CACHE", CACHE)) / "interactions"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"xgboost_{trees}x6_{features}f_{train_rows}.joblib"
    if not path.exists():
        import xgboost as xgb

        X, y = synthetic(train_rows, features, SEED)
        model = xgb.XGBRegressor(
            n_estimators=trees, max_depth=6, learning_rate=0.1, tree_method="hist",
            random_state=SEED, n_jobs=2,
        ).fit(X, y)
        joblib.dump(model, path)
    return path


def _xai(model: Any, X: Any) -> tuple[dict[str, float], Any]:
    from xai_cli.methods.base import ExplainContext
    from xai_cli.methods.treeshap_interactions import TreeShapInteractions
    from xai_cli.model.adapter import adapt

    adapter, method = adapt(model), TreeShapInteractions()
    start = time.perf_counter()
    warm = ExplainContext(adapter=adapter, X=X.iloc[:8], y=None, seed=SEED)
    method.explain(warm)  # parse, check, build the tables, load the compiled kernels
    setup = time.perf_counter() - start
    ctx = ExplainContext(adapter=adapter, X=X, y=None, seed=SEED, cache=warm.cache)
    with PeakRss() as peak:
        start = time.perf_counter()
        out = method.explain(ctx)
        seconds = time.perf_counter() - start
    return {"setup_s": setup, "seconds": seconds, "peak_mb": peak.peak_extra_mb}, out


def one(model_file: str, rows: int, features: int) -> dict[str, float]:
    """xai on ``rows`` rows in this process (run as a child, so its peak memory is its own)."""
    model = joblib.load(model_file)
    stats, _ = _xai(model, synthetic(rows, features, SEED + 1)[0])
    return stats


def _child(model_file: Path, rows: int, features: int) -> dict[str, float]:
    code = (
        "import json, sys; from benchmarks.interactions import one; "
        f"print(json.dumps(one({str(model_file)!r}, {rows}, {features})))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT,
                         capture_output=True, text=True)  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(
    trees: int, features: int, rows: int, library_rows: int, memory_rows: tuple[int, ...],
    train_rows: int, out: Path,
) -> str:
    """Measure everything, write the Markdown table to ``out`` and return it."""
    import shap
    import xgboost as xgb

    path = model_path(trees, features, train_rows)
    model = joblib.load(path)
    X = synthetic(rows, features, SEED + 1)[0]
    stats, mine = _xai(model, X)
    summary = mine.interactions
    scale = float(np.ptp(model.predict(X, output_margin=True)))
    head = X.iloc[:library_rows]
    timings: dict[str, float] = {}
    start = time.perf_counter()
    theirs_xgb = model.get_booster().predict(xgb.DMatrix(head), pred_interactions=True)
    timings["xgb"] = time.perf_counter() - start
    start = time.perf_counter()
    theirs_shap = np.asarray(shap.TreeExplainer(model).shap_interaction_values(head))
    timings["shap"] = time.perf_counter() - start
    kept = summary.sample_rows < library_rows
    ours = summary.sample[kept, :, :, 0]
    rows_compared = summary.sample_rows[kept]
    err_xgb = float(np.abs(theirs_xgb[rows_compared, :features, :features] - ours).max()) / scale
    err_shap = float(np.abs(theirs_shap[rows_compared] - ours).max()) / scale
    per_row = {k: v / library_rows for k, v in timings.items()}
    fastest = min(per_row.values()) * rows
    memory = [(n, _child(path, n, features)) for n in memory_rows]
    load = os.getloadavg()[0]
    lines = [
        f"# `treeshap.interactions`: XGBoost {trees} trees x depth 6, {features} features, "
        f"{rows:,} rows",
        "",
        f"{os.cpu_count()} cores, load average {load:.1f} at the end. Libraries timed on "
        f"{library_rows} rows and scaled per row to {rows:,} (they take seconds per row); "
        "xai timed on every row. Error: largest |difference| of the kept per-row matrices "
        f"({len(rows_compared)} rows) / the model's output range.",
        "",
        "| implementation | rows timed | time (s) | time for all rows (s) | speed-up of xai | "
        "max error / range |",
        "|---|---:|---:|---:|---:|---:|",
        f"| xai treeshap.interactions | {rows:,} | {stats['seconds']:.2f} | "
        f"{stats['seconds']:.2f} | 1x | - |",
        f"| XGBoost pred_interactions | {library_rows} | {timings['xgb']:.2f} | "
        f"{per_row['xgb'] * rows:,.0f} | {per_row['xgb'] * rows / stats['seconds']:,.0f}x | "
        f"{err_xgb:.1e} |",
        f"| shap shap_interaction_values | {library_rows} | {timings['shap']:.2f} | "
        f"{per_row['shap'] * rows:,.0f} | {per_row['shap'] * rows / stats['seconds']:,.0f}x | "
        f"{err_shap:.1e} |",
        "",
        f"xai against the faster library: {fastest / stats['seconds']:,.0f}x (goal >= 10x). "
        f"One-off set-up (parse, parity check, interaction tables, kernel load): "
        f"{stats['setup_s']:.2f} s.",
        "",
        "Peak memory of xai's run above its start, each row count in a fresh process "
        "(the SHAP values kept for every row are rows x features x 8 bytes; the interaction "
        "matrices are streamed in bounded chunks):",
        "",
        "| rows | time (s) | peak extra memory (MB) | of which SHAP values (MB) |",
        "|---:|---:|---:|---:|",
        *(
            f"| {n:,} | {m['seconds']:.2f} | {m['peak_mb']:.0f} | {n * features * 8 / 2**20:.1f} |"
            for n, m in memory
        ),
        "",
    ]
    table = "\n".join(lines)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(table, encoding="utf-8")
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    parser.add_argument("--library-rows", type=int, default=None)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    if args.quick:
        sizes = dict(trees=20, features=10, rows=200, library_rows=20, memory_rows=(200, 2_000),
                     train_rows=2_000)  # fmt: skip
    else:
        sizes = dict(trees=500, features=50, rows=1_000, library_rows=20,
                     memory_rows=(1_000, 10_000), train_rows=20_000)  # fmt: skip
    if args.library_rows:
        sizes["library_rows"] = args.library_rows
    print(run(**sizes, out=args.out))  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
