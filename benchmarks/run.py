"""Run the benchmarks side by side and write the Markdown table to benchmarks/results/latest.md.

Usage: ``python -m benchmarks.run [--quick] [--out PATH] [--budget SECONDS]`` (``make bench``;
``XAI_BENCH_QUICK=1`` is the same as ``--quick``). Each measurement runs in its own process. A
measurement whose predicted time (from the same implementation's speed at the smaller size)
exceeds ``--budget`` is skipped, and one still running after ``--budget`` seconds is stopped; the
table says so in both cases rather than silently dropping the row. The end of the file checks
issue 15's goals against the measured rows (:mod:`benchmarks.goals`).
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

from benchmarks import goals
from benchmarks.measure import SINGLE_THREADED
from benchmarks.workloads import FULL, QUICK, ROOT, Sizes, Workload, workloads
from xai_cli.methods.base import library_version

RESULTS = Path(__file__).resolve().parent / "results" / "latest.md"
DEEP_ROWS = {False: (300,), True: (100,)}
"""Rows explained on the depth-10 workloads, the same for xai and every peer (the libraries'
own run at a few rows/s there)."""
SHAPIQ_SECONDS = {False: 30.0, True: 10.0}
"""shapiq explains one row at a time in Python: it gets the first row count's rows, cut to those
that fit in this many seconds (at least one); its row says how many it explained."""
LABELS = {
    "predict": "plain prediction (the floor)",
    "fasttreeshap": "FastTreeSHAP v2 (fasttreeshap-fixed)",
    "woodelf": "WOODELF (woodelf-explainer)",
    "shapiq": "shapiq TreeExplainer (index SV, order 1)",
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
UNSUPPORTED = {
    ("shapiq", "catboost"): "not supported: shapiq 1.4.1 has no CatBoost parser",
    ("shapiq", "adult_xgboost"): "not supported: shapiq 1.4.1 explains numeric arrays only "
    "(this model has native categorical splits)",
}
"""(implementation, model family or workload name): why that pair is not measured."""
HEADER = (
    "| workload | implementation | rows | threads | time (s) | rows/s | x floor | "
    "vs library's own | peak extra RSS (MB) | max error / output range |"
)
"""The main table's header; :mod:`benchmarks.readme_table` copies the table into the README."""


def measure(
    work: Workload, impl: str, rows: int, quick: bool, budget: float = 600.0
) -> dict[str, Any]:
    """One measurement in a fresh process (see :mod:`benchmarks.measure`) with every core given
    to OpenMP and numba, stopped after ``budget`` seconds (plus a minute for loading)."""
    cmd = [sys.executable, "-m", "benchmarks.measure", "--workload", work.name, "--impl", impl,
           "--rows", str(rows), "--budget", str(budget)] + (["--quick"] if quick else [])
    cores = str(os.cpu_count() or 1)
    env = {**os.environ, "OMP_NUM_THREADS": cores, "NUMBA_NUM_THREADS": cores}
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False,
                              env=env, timeout=budget + 60)  # fmt: skip
    except subprocess.TimeoutExpired:
        return {"workload": work.name, "impl": impl, "rows": rows,
                "skipped": f"stopped: still running after {budget + 60:,.0f} s"}  # fmt: skip
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


def _label(work: Workload, impl: str) -> str:
    label = LABELS[impl]
    return label + f" ({OWN[work.family]})" if impl == "native" else label


def _row(work: Workload, r: dict[str, Any], own: dict[int, float],
         floor: dict[int, float]) -> str:  # fmt: skip
    """One Markdown row. ``own`` and ``floor``: the library's own and plain prediction rows/s by
    row count; x floor compares with the floor at the same rows, or (marked †) at the nearest
    row count measured when the floor did not run at this one."""
    label = _label(work, r["impl"])
    if "skipped" in r or "error" in r:
        why = r.get("skipped") or f"failed: {r['error']}"
        return f"| {work.name} | {label} | {r['rows']:,} | | {why} | | | | | |"
    ratio = r["rows_per_s"] / own[r["rows"]] if r["rows"] in own else None
    x_floor = "–"
    if floor:
        at = min(floor, key=lambda n: abs(n - r["rows"]))
        mark = "" if at == r["rows"] else "†"
        x_floor = f"{floor[at] / r['rows_per_s']:,.1f}x{mark}"
    err = r.get("max_error_vs_own")
    return (
        f"| {work.name} | {label} | {r['rows']:,} | {r.get('threads', '–')} | "
        f"{_fmt(r['seconds'], 2)} | {_fmt(r['rows_per_s'], 1 if r['rows_per_s'] < 100 else 0)} "
        f"| {x_floor} | {_fmt(ratio, 1 if ratio >= 0.1 else 3) + 'x' if ratio else '–'} | "
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


def _impls(work: Workload, skip: tuple[str, ...] = ()) -> list[str]:
    """What runs on ``work`` (less ``skip``), the floor first (every x floor needs it)."""
    impls = ["predict", "native", "xai", "fasttreeshap", "woodelf", "shapiq"]
    if work.family != "sklearn_tree" and not work.name.startswith("deep_"):
        impls.append("shap")  # on forests shap is the library's own row already
    return [i for i in impls if i not in skip]


def measure_workload(work: Workload, sizes: Sizes, quick: bool, budget: float,
                     lines: list[str], results: list[dict[str, Any]],
                     skip: tuple[str, ...] = ()) -> None:  # fmt: skip
    """Every implementation on ``work`` at each row count; appends table lines and records."""
    own: dict[int, float] = {}
    floor: dict[int, float] = {}
    deep = work.name.startswith("deep_")
    counts = DEEP_ROWS[quick] if deep else sizes.explain_rows
    for impl in _impls(work, skip):
        speed = 0.0
        for rows in counts[:1] if impl == "shapiq" else counts:
            predicted = rows / speed if speed else 0.0
            why = UNSUPPORTED.get((impl, work.family)) or UNSUPPORTED.get((impl, work.name))
            if why:
                r = {"impl": impl, "rows": rows, "skipped": why}
            elif predicted > budget:
                r = {"impl": impl, "rows": rows,
                     "skipped": f"skipped: ~{predicted:,.0f} s predicted (> {budget:,.0f} s)"}
            else:
                allowed = min(budget, SHAPIQ_SECONDS[quick]) if impl == "shapiq" else budget
                r = measure(work, impl, rows, quick, allowed)
                if "rows_per_s" in r:
                    speed = r["rows_per_s"]
                    if impl == "native":
                        own[r["rows"]] = speed
                    if impl == "predict":
                        floor[r["rows"]] = speed
            results.append({"workload": work.name, **r})
            lines.append(_row(work, r, own, floor))
            print(lines[-1], file=sys.stderr, flush=True)


def _threads(results: list[dict[str, Any]]) -> str:
    """The thread count each implementation ran on, as measured, with why some use one."""
    seen: dict[str, set[int]] = {}
    for r in results:
        if "threads" in r:
            seen.setdefault(r["impl"], set()).add(r["threads"])
    parts = []
    for impl, counts in seen.items():
        why = f" ({SINGLE_THREADED[impl]})" if impl in SINGLE_THREADED else ""
        parts.append(f"{LABELS[impl]} {'/'.join(map(str, sorted(counts)))}{why}")
    return "; ".join(parts) or "none measured"


def _read(name: str) -> str | None:
    path = RESULTS.parent / name
    return path.read_text(encoding="utf-8") if path.exists() else None


def run(quick: bool, budget: float, out: Path, only: tuple[str, ...] = (),
        skip: tuple[str, ...] = ()) -> str:  # fmt: skip
    """Measure every workload (or those named in ``only``) with every implementation but those
    in ``skip``, write the table and the goals' verdicts to ``out`` and return the text."""
    sizes: Sizes = QUICK if quick else FULL
    started = datetime.now(UTC).isoformat(timespec="seconds")
    header_machine = machine()
    t0 = time.perf_counter()
    works = workloads(quick, only)
    if not works:
        raise SystemExit(f"no workload named {', '.join(only)}")
    lines = [HEADER, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    results: list[dict[str, Any]] = []
    for work in works:
        measure_workload(work, sizes, quick, budget, lines, results, skip)
    shallow = [w for w in works if not w.name.startswith("deep_")]
    small = sizes.explain_rows[0]
    e2e: dict[str, Any] = {"error": "not run (only deep workloads chosen)"}
    if shallow:
        inter = shallow[0]
        for impl, rows in (("xai_interventional", small),
                           ("shap_interventional", sizes.shap_interventional_rows)):
            if impl in skip:
                continue
            r = measure(inter, impl, rows, quick, budget)
            results.append({"workload": inter.name, **r})
            lines.append(_row(inter, r, {}, {}))
            print(lines[-1], file=sys.stderr, flush=True)
        e2e = end_to_end(shallow[0], small)
    total = time.perf_counter() - t0
    load_end = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    versions = ", ".join(
        f"{n} {library_version(n)}"
        for n in ("numpy", "numba", "xgboost", "lightgbm", "catboost", "scikit-learn", "shap",
                  "shapiq", "fasttreeshap-fixed", "woodelf-explainer")
    )
    deep_rows = DEEP_ROWS[quick][0]
    text = [
        f"# xai-cli benchmark ({'quick' if quick else 'full'} mode)",
        "",
        f"- Started {started}; took {total / 60:.1f} min.",
        f"- Machine: {header_machine}; at the end {load_end}. Python {platform.python_version()}.",
        f"- Libraries: {versions}.",
        "- Workloads: " + "; ".join(f"{w.name}: {w.description}" for w in works) + ".",
        f"- Rows: {' and '.join(f'{n:,}' for n in sizes.explain_rows)} on the depth-6/8 "
        f"workloads, {deep_rows:,} on the depth-10 ones for every implementation; shapiq on "
        f"at most {sizes.explain_rows[0]:,} (deep: {deep_rows:,}) rows, as many as fit in "
        f"{SHAPIQ_SECONDS[quick]:,.0f} s after a one-row pilot; every row states its count.",
        f"- Threads, as measured: {_threads(results)}. XGBoost gets `nthread`, numba and "
        "LightGBM/OpenMP every core explicitly; CatBoost `thread_count=-1`, FastTreeSHAP "
        "`n_jobs=-1`.",
        "- Each row is one run in a fresh process (not a median). 'plain prediction' is the "
        "model's own raw prediction of the same rows: no per-row explanation can run faster. "
        "x floor = the row's time / the plain prediction's time on the same rows (rows/s of the "
        "floor / rows/s of the row; † where the floor ran on a different row count, the "
        "nearest one).",
        "- rows/s includes everything the call does (xai: parsing the trees, checking them "
        "against the library's predictions, building the tables; its numba kernels are "
        "compiled by a warm-up call of every engine first, and cached on disk between runs; "
        "shapiq: building its explainer); peak extra RSS is the largest growth of the process's "
        "resident memory during the call, sampled every 2 ms.",
        "- max error / output range: largest |values - library's own| over the first 2,000 "
        "rows (the depth-10 workloads: 100; shapiq: the rows it explained), divided by the "
        "range of the model's raw output over those rows (at least 1).",
        f"- Interventional rows use {sizes.background_rows:,} background rows for both (shap "
        "through `maskers.Independent(bg, max_samples=len(bg))`: `TreeExplainer(model, data)` "
        "alone would subsample them to 100).",
        f"- Budget: a row predicted to take more than {budget:,.0f} s (from the same "
        "implementation at the smaller row count) is skipped, one still running after "
        f"{budget + 60:,.0f} s is stopped; both say so in the table.",
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
    found = goals.verdicts(results, _read("permutation.md"), _read("streaming.md"))
    table = goals.with_summary("\n".join(text), found)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(table, encoding="utf-8")
    # the records, for `python -m benchmarks.goals` to redo the verdicts once the permutation
    # and streaming benchmarks of the same `make bench` have written their results
    out.with_suffix(".json").write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small models and row counts")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--budget", type=float, default=600.0,
                        help="skip a measurement predicted to take longer, stop one running "
                        "longer than this plus a minute (seconds)")
    parser.add_argument("--only", default="", help="comma-separated workload names")
    parser.add_argument("--skip", default="", help="comma-separated implementations not to run")
    args = parser.parse_args(argv)
    quick = args.quick or os.environ.get("XAI_BENCH_QUICK", "") not in ("", "0")
    only = tuple(n for n in args.only.split(",") if n)
    skip = tuple(n for n in args.skip.split(",") if n)
    print(run(quick, args.budget, args.out, only, skip))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
