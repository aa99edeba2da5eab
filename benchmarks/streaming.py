"""Peak memory of ``xai explain --max-rows all`` as the data grows: in memory, streamed as asked
(``--chunk-rows``), and as xai chooses for itself under a memory budget (``--memory-budget``).

Builds Parquet files of the Adult sample repeated to each size (written row group by row group,
so building them stays small too), trains nothing new (it uses the sample XGBoost model), and runs
the real ``xai explain -m treeshap`` over every row once per size and mode, each in a fresh
process whose peak resident memory is read from ``getrusage(RUSAGE_CHILDREN)`` by an
intermediate process. Prints a Markdown table and writes it to ``benchmarks/results/streaming.md``.

The in-memory run is skipped at a size where its peak, extrapolated linearly in rows from the
two largest sizes it ran at (from one: its growth over the streamed run's peak, the fixed part,
scaled with the rows), would pass ``--in-memory-limit`` MB (default 4,096: 10M rows would need
~7 GB and ~12 minutes); the table says so with the prediction.

Modes: ``in memory`` (``--memory-budget none``: every row loaded and explained at once),
``streamed`` (``--chunk-rows 50000 --max-rows 2000``, the user asking), ``auto`` (``--max-rows all
--memory-budget BUDGET``: xai estimates the run's memory and streams on its own over the budget;
the table says what it chose and the chunk size it derived).

    python -m benchmarks.streaming                 # 100k, 300k, 1M and 10M rows
    python -m benchmarks.streaming --rows 2000 20000 --out /tmp/x.md   # a smoke run
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data" / "adult.parquet"
CHUNK_ROWS = 50_000
SAMPLE_ROWS = 2_000
MODES = ("in memory", "streamed", "auto")


def build(rows: int, folder: Path) -> Path:
    """The Adult sample repeated to ``rows`` rows, in row groups of at most 100,000 rows."""
    base = pd.read_parquet(SAMPLE)
    path = folder / f"adult_{rows}.parquet"
    group = max(1, min(100_000, rows) // len(base)) * len(base)
    table = pa.Table.from_pandas(pd.concat([base] * (group // len(base)), ignore_index=True))
    with pq.ParquetWriter(path, table.schema) as writer:
        left = rows
        while left > 0:
            writer.write_table(table.slice(0, min(left, table.num_rows)))
            left -= min(left, table.num_rows)
    return path


def predicted_peak(measured: dict[int, float], rows: int, base: float = 0.0) -> float | None:
    """The in-memory peak (MB) at ``rows``, extrapolated linearly in rows from the two largest
    sizes measured; from a single one, its growth over ``base`` (the fixed part: the smallest
    peak any mode had at that size, i.e. the streamed run's) scaled with the rows. ``None``
    before any."""
    if not measured:
        return None
    points = sorted(measured.items())[-2:]
    (n0, p0), (n1, p1) = points if len(points) == 2 else ((0, min(base, points[0][1])), points[0])
    return p1 + (p1 - p0) / (n1 - n0) * (rows - n1)


def measure(model: Path, data: Path, mode: str, out: Path, budget: str) -> dict[str, float]:
    """Run ``xai explain`` in a child process; its wall time and peak RSS (MB)."""
    cmd = [sys.executable, "-m", "xai_cli", "explain", str(model), str(data), "-m", "treeshap",
           "--target", "income", "--format", "json",
           "--out", str(out), "--output-format", "none", "-q"]  # fmt: skip
    if mode == "streamed":  # every row streamed; a bounded sample kept for plots
        cmd += ["--chunk-rows", str(CHUNK_ROWS), "--max-rows", str(SAMPLE_ROWS)]
    elif mode == "auto":  # every row, streamed when xai estimates it over the budget
        cmd += ["--max-rows", "all", "--memory-budget", budget]
    else:  # every row loaded and explained at once
        cmd += ["--max-rows", "all", "--memory-budget", "none"]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    treeshap = next(m for m in report["methods"] if m["method"] == "treeshap")
    params = treeshap["params"]
    streamed = params.get("streamed")
    chosen = f"streamed, chunks of {params['chunk_rows']:,}" if streamed else "in memory"
    return {"seconds": seconds, "peak_rss_mb": peak, "rows_explained": params["rows"],
            "chosen": chosen}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, nargs="+",
                        default=[100_000, 300_000, 1_000_000, 10_000_000])
    parser.add_argument("--in-memory-limit", type=float, default=4096.0,
                        help="skip the in-memory run where its predicted peak passes this (MB)")
    parser.add_argument("--budget", default="256MiB", help="--memory-budget of the auto mode")
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES),
                        help="which modes to run (in memory is the slow one at large sizes)")
    parser.add_argument("--model", type=Path, default=ROOT / "sample_models/adult_xgboost.joblib")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/streaming.md")
    parser.add_argument("--one", nargs=3, metavar=("DATA", "MODE", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:  # the intermediate process: one measurement, its child's peak memory
        data, mode, out = args.one
        print(json.dumps(measure(args.model, Path(data), mode, Path(out), args.budget)))
        return 0
    lines = [
        "| rows | mode | what ran | rows explained by treeshap | time (s) | peak RSS (MB) |",
        "|---:|---|---|---:|---:|---:|",
    ]
    modes = [m for m in MODES if m in args.modes]
    peaks: dict[str, dict[int, float]] = {mode: {} for mode in modes}
    with tempfile.TemporaryDirectory() as tmp:
        for rows in args.rows:
            data = build(rows, Path(tmp))
            for mode in modes:
                shown = f"auto (budget {args.budget})" if mode == "auto" else mode
                guess = None
                if mode == "in memory" and peaks[mode]:
                    last = max(peaks[mode])
                    base = min(p[last] for p in peaks.values() if last in p)
                    guess = predicted_peak(peaks[mode], rows, base)
                if guess is not None and guess > args.in_memory_limit:
                    lines.append(f"| {rows:,} | {shown} | skipped: predicted peak ~{guess:,.0f} "
                                 f"MB > {args.in_memory_limit:,.0f} MB (linear in rows) | | | |")
                    print(lines[-1], file=sys.stderr, flush=True)
                    continue
                report_dir = str(Path(tmp) / f"r{rows}{mode[0]}")
                one = [sys.executable, "-m", "benchmarks.streaming", "--model", str(args.model),
                       "--budget", args.budget, "--one", str(data), mode.split()[0],
                       report_dir]  # fmt: skip
                r = json.loads(subprocess.run(one, check=True, capture_output=True, text=True,
                                              cwd=ROOT).stdout)  # fmt: skip
                peaks[mode][rows] = r["peak_rss_mb"]
                lines.append(f"| {rows:,} | {shown} | {r['chosen']} | {r['rows_explained']:,} | "
                             f"{r['seconds']:.1f} | {r['peak_rss_mb']:.0f} |")  # fmt: skip
                print(lines[-1], file=sys.stderr, flush=True)
            data.unlink()
    ratios = [
        f"{mode}: peak memory at {max(p):,} rows is {p[max(p)] / p[min(p)]:.2f}x that at "
        f"{min(p):,}" for mode, p in peaks.items() if len(p) > 1
    ]  # fmt: skip
    text = "\n".join([*lines, "", *ratios]) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
