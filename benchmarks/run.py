"""Run the benchmarks side by side and write the Markdown table to benchmarks/results/latest.md.

Usage: ``python -m benchmarks.run [--quick] [--out PATH] [--budget SECONDS]`` (``make bench``;
``XAI_BENCH_QUICK=1`` is the same as ``--quick``). Each measurement runs in its own process. A
measurement whose predicted time (from the same implementation's speed at the smaller size)
exceeds ``--budget`` is skipped and the table says so, rather than silently dropped.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.workloads import FULL, QUICK, ROOT, Sizes, Workload, workloads
from xai_cli.methods.base import library_version

RESULTS = Path(__file__).resolve().parent / "results" / "latest.md"
DEEP_ROWS = {False: (1_000,), True: (200,)}
"""Rows explained on the depth-10 workloads (the libraries' own run at a few rows/s there)."""
LABELS = {
    "predict": "plain prediction (the floor)",
    "fasttreeshap": "FastTreeSHAP v2 (fasttreeshap-fixed)",
    "woodelf": "WOODELF (woodelf-explainer)",
    "xai": "xai treeshap",
    "native": "library's own TreeSHAP",
    "shap": "shap.TreeExplainer",
    "xai_interventional": "xai treeshap.interventional",
    "shap_interventional": "shap.TreeExplainer interventional",
}
OWN = {
    "xgboost": "xgboost pred_contribs",
    "lightgbm": "lightgbm pred_contrib",
    "catboost": "catboost ShapValues",
    "sklearn_tree": "shap.TreeExplainer (scikit-learn has none)",
}


def measure(work: Workload, impl: str, rows: int, quick: bool) -> dict[str, Any]:
    """One measurement in a fresh process (see :mod:`benchmarks.measure`)."""
    cmd = [sys.executable, "-m", "benchmarks.measure", "--workload", work.name, "--impl", impl,
           "--rows", str(rows)] + (["--quick"] if quick else [])
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False)
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"workload": work.name, "impl": impl, "rows": rows, "error": tail[:200]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def end_to_end(work: Workload, rows: int) -> dict[str, Any]:
    """``xai explain -m treeshap`` wall time against the explainer's own compute time."""
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "rows.parquet"
        work.rows(rows).to_parquet(data)
        cmd = [sys.executable, "-m", "xai_cli", "explain", str(work.model_path), str(data),
               "-m", "treeshap", "--output-format", "none", "-q", "-f", "json", "--out", tmp]
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False)
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            return {"rows": rows, "error": proc.stderr.strip()[-200:]}
        report = json.loads((Path(tmp) / "report.json").read_text())
    method = next(m for m in report["methods"] if m["method"] == "treeshap")
    return {"rows": rows, "wall_s": wall, "compute_s": method["elapsed_s"]}


def _fmt(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "–"
    return f"{value:,.{digits}f}"


def _row(work: Workload, r: dict[str, Any], own: dict[int, float]) -> str:
    label = LABELS[r["impl"]]
    if r["impl"] == "native":
        label += f" ({OWN[work.family]})"
    if "skipped" in r or "error" in r:
        why = r.get("skipped") or f"failed: {r['error']}"
        return f"| {work.name} | {label} | {r['rows']:,} | {why} | | | | |"
    ratio = r["rows_per_s"] / own[r["rows"]] if r["rows"] in own else None
    err = r.get("max_error_vs_own")
    return (
        f"| {work.name} | {label} | {r['rows']:,} | {_fmt(r['seconds'], 2)} | "
        f"{_fmt(r['rows_per_s'])} | {_fmt(ratio, 1) + 'x' if ratio else '–'} | "
        f"{_fmt(r['peak_extra_mb'])} | {f'{err:.1e}' if err is not None else '–'} |"
    )


def machine() -> str:
    """CPU model, cores and load, so a reader can judge the numbers."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    return f"{model}, {os.cpu_count()} cores, load average at start {load}"


def run(quick: bool, budget: float, out: Path, only: tuple[str, ...] = ()) -> str:
    """Measure every workload (or those named in ``only``), write the table to ``out`` and
    return it."""
    sizes: Sizes = QUICK if quick else FULL
    started = datetime.now(UTC).isoformat(timespec="seconds")
    header_machine = machine()
    t0 = time.perf_counter()
    works = workloads(quick, only)
    if not works:
        raise SystemExit(f"no workload named {', '.join(only)}")
    lines = [
        "| workload | implementation | rows | time (s) | rows/s | vs library's own | "
        "peak extra RSS (MB) | max error / output range |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for work in works:
        own: dict[int, float] = {}
        deep = work.name.startswith("deep_")
        impls = ["native", "predict", "xai", "fasttreeshap", "woodelf"]
        if work.family != "sklearn_tree" and not deep:
            impls.append("shap")
        speed: dict[str, float] = {}
        for impl in impls:
            for rows in (DEEP_ROWS[quick] if deep else sizes.explain_rows):
                predicted = rows / speed[impl] if impl in speed else 0.0
                if predicted > budget:
                    r = {"impl": impl, "rows": rows,
                         "skipped": f"skipped: ~{predicted:,.0f} s predicted (> {budget:,.0f} s)"}
                else:
                    r = measure(work, impl, rows, quick)
                    if "rows_per_s" in r:
                        speed[impl] = r["rows_per_s"]
                        if impl == "native":
                            own[rows] = r["rows_per_s"]
                lines.append(_row(work, r, own))
                print(lines[-1], file=sys.stderr, flush=True)
    shallow = [w for w in works if not w.name.startswith("deep_")]
    small = sizes.explain_rows[0]
    e2e: dict[str, Any] = {"error": "not run (only deep workloads chosen)"}
    if shallow:
        inter = shallow[0]
        for impl, rows in (("xai_interventional", small),
                           ("shap_interventional", sizes.shap_interventional_rows)):
            lines.append(_row(inter, measure(inter, impl, rows, quick), {}))
            print(lines[-1], file=sys.stderr, flush=True)
        e2e = end_to_end(shallow[0], small)
    total = time.perf_counter() - t0
    load_end = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    versions = ", ".join(
        f"{n} {library_version(n)}"
        for n in ("numpy", "numba", "xgboost", "lightgbm", "catboost", "scikit-learn", "shap")
    )
    text = [
        f"# xai-cli benchmark ({'quick' if quick else 'full'} mode)",
        "",
        f"- Started {started}; took {total / 60:.1f} min.",
        f"- Machine: {header_machine}; at the end {load_end}. Python {platform.python_version()}.",
        f"- Libraries: {versions}.",
        "- Each row is one run in a fresh process (not a median); threads: numba (xai), "
        "XGBoost, LightGBM, CatBoost and FastTreeSHAP (n_jobs=-1) use all cores; shap's "
        "TreeExplainer and WOODELF one. 'plain prediction' is the model's own raw prediction "
        "of the same rows: no per-row explanation can run faster.",
        "- rows/s includes everything the call does (xai: parsing the trees, checking them "
        "against the library's predictions, building the tables; its numba kernels are "
        "compiled by a 50-row warm-up call first, and cached on disk between runs); peak extra "
        "RSS is the largest growth of the process's resident memory during the call, sampled "
        "every 2 ms.",
        "- max error / output range: largest |xai - library's own| over the first 2,000 rows, "
        "divided by the range of the model's raw output (at least 1).",
        f"- Interventional rows use {sizes.background_rows:,} background rows for both (shap "
        "through `maskers.Independent(bg, max_samples=len(bg))`: `TreeExplainer(model, data)` "
        "alone would subsample them to 100).",
        "",
        *lines,
        "",
    ]
    if "error" in e2e:
        text.append(f"End to end `xai explain -m treeshap`: failed: {e2e['error']}")
    else:
        text.append(
            f"End to end `xai explain -m treeshap` on {e2e['rows']:,} rows of {shallow[0].name} "
            f"(parquet): {e2e['wall_s']:.2f} s wall, of which the treeshap explainer "
            f"{e2e['compute_s']:.2f} s; the rest is process start-up, imports, loading, the "
            "time estimate's pilots, the additivity check and the reports."
        )
    table = "\n".join(text) + "\n"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(table, encoding="utf-8")
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small models and row counts")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--budget", type=float, default=600.0,
                        help="skip a measurement predicted to take longer (seconds)")
    parser.add_argument("--only", default="", help="comma-separated workload names")
    args = parser.parse_args(argv)
    quick = args.quick or os.environ.get("XAI_BENCH_QUICK", "") not in ("", "0")
    only = tuple(n for n in args.only.split(",") if n)
    print(run(quick, args.budget, args.out, only))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
