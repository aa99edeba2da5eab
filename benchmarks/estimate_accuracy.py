"""How close the time estimate comes, and how stable it is: estimate vs actual at 10k-1M rows.

Usage: ``python -m benchmarks.estimate_accuracy [--rows 10000 100000 ...] [--model PATH]
[--out PATH]`` (part of ``make bench``). For each size, on the Adult sample repeated to that many
rows (as benchmarks/streaming.py builds it) and the sample XGBoost model, each in a fresh process:

- two back-to-back ``xai explain --estimate --output-format json`` calls (pilots forced): the
  spread of the estimate on the same machine (max / min per method);
- one real run, ``xai explain -m treeshap,permutation --max-rows all``, whose report.json keeps
  each method's estimate (``estimated_s``) next to its measured time (``elapsed_s``).

The ratio is actual / estimated (1.0: exact; the goal is within 2x either way). Writes
``benchmarks/results/estimate-accuracy.md``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.run import machine
from benchmarks.streaming import build

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
METHODS = "treeshap,permutation"


def _xai(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "xai_cli", *args], capture_output=True,
                          text=True, cwd=ROOT, check=True)  # fmt: skip


def estimate_once(model: Path, data: Path) -> dict[str, float | None]:
    """``xai explain --estimate``: each method's estimated seconds."""
    out = _xai("explain", str(model), str(data), "--target", "income", "-m", METHODS,
               "--max-rows", "all", "--estimate", "--output-format", "json", "-q")  # fmt: skip
    return {e["method"]: e["seconds"] for e in json.loads(out.stdout)}


def run_once(model: Path, data: Path, folder: Path) -> dict[str, Any]:
    """A real run: per method, the estimate made before it and its measured time."""
    start = time.perf_counter()
    _xai("explain", str(model), str(data), "--target", "income", "-m", METHODS, "--max-rows",
         "all", "--time-limit", "none", "--format", "json", "--out", str(folder),
         "--output-format", "none", "-q")  # fmt: skip
    wall = time.perf_counter() - start
    report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    methods = {}
    for m in report["methods"]:
        methods[m["method"]] = (m.get("estimated_s"), m.get("elapsed_s"))
    return {"wall": wall, "methods": methods}


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000])
    default_model = ROOT / "sample_models" / "adult_xgboost.joblib"
    parser.add_argument("--model", type=Path, default=default_model)
    parser.add_argument("--out", type=Path, default=RESULTS / "estimate-accuracy.md")
    args = parser.parse_args(argv)
    lines = [
        "# Time estimate against the actual time",
        "",
        f"{machine()}; sample XGBoost model, Adult repeated; `-m {METHODS} --max-rows all`.",
        "",
        "| rows | method | --estimate call 1 (s) | call 2 (s) | spread | estimated before the run"
        " (s) | actual (s) | actual / estimated |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for rows in args.rows:
            data = build(rows, Path(tmp))
            first, second = estimate_once(args.model, data), estimate_once(args.model, data)
            result = run_once(args.model, data, Path(tmp) / f"r{rows}")
            for method in METHODS.split(","):
                a, b = first.get(method), second.get(method)
                spread = max(a, b) / min(a, b) if a and b else None
                guess, actual = result["methods"].get(method, (None, None))
                ratio = actual / guess if guess and actual else None
                lines.append(
                    f"| {rows:,} | {method} | {_fmt(a)} | {_fmt(b)} | "
                    f"{'–' if spread is None else f'{spread:.2f}x'} | {_fmt(guess)} | "
                    f"{_fmt(actual)} | {'–' if ratio is None else f'{ratio:.2f}'} |"
                )
            print(lines[-2], lines[-1], sep="\n", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
