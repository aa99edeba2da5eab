"""The first ``xai explain`` after installing: with numba's kernel cache empty, warm, and after
``xai warmup``.

Usage: ``python -m benchmarks.first_run [--model PATH] [--out PATH]`` (part of ``make bench``).
A fresh installation has no compiled kernels; ``NUMBA_CACHE_DIR`` pointed at an empty folder
gives exactly that (numba then reads and writes only there), without building a virtualenv. In
fresh processes, on the sample XGBoost model and the Adult sample, ``-m treeshap``:

- *cold*: the first run, compiling the kernels;
- *warm*: the run after it (kernels loaded from the cache);
- *warmup*: ``xai warmup`` into another empty cache, then the first run after it.

Writes ``benchmarks/results/first-run.md``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.run import machine

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def timed(args: list[str], cache: Path) -> float:
    """Seconds of ``python -m xai_cli ARGS`` in a fresh process with ``cache`` as numba's cache."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache)}
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "xai_cli", *args], check=True, cwd=ROOT, env=env,
                   capture_output=True)  # fmt: skip
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path,
                        default=ROOT / "sample_models" / "adult_xgboost.joblib")  # fmt: skip
    parser.add_argument("--out", type=Path, default=RESULTS / "first-run.md")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        run = ["explain", str(args.model), str(ROOT / "sample_data" / "adult.csv"), "--target",
               "income", "-m", "treeshap", "--out", str(Path(tmp) / "r"), "--format", "json",
               "--output-format", "none", "-q"]  # fmt: skip
        cold_cache, warm_cache = Path(tmp) / "cold", Path(tmp) / "warmup"
        cold = timed(run, cold_cache)
        warm = timed(run, cold_cache)
        warmup = timed(["warmup"], warm_cache)
        after = timed(run, warm_cache)
    lines = [
        "# The first `xai explain` after installing",
        "",
        f"{machine()}; `xai explain sample_models/adult_xgboost.joblib sample_data/adult.csv "
        "-t income -m treeshap`, each in a fresh process, numba's cache in an empty folder.",
        "",
        "| case | seconds |",
        "|---|---:|",
        f"| first run, empty cache (compiles the kernels) | {cold:.1f} |",
        f"| second run (kernels from the cache) | {warm:.1f} |",
        f"| `xai warmup`, empty cache | {warmup:.1f} |",
        f"| first run after `xai warmup` | {after:.1f} |",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
