"""What the time estimate costs and how close it comes: ``xai explain -m treeshap`` on 10,000 rows.

Usage: ``python -m benchmarks.estimate [--quick] [--repeats N] [--out PATH]`` (part of
``make bench``). Three variants of the same run, each in a fresh process (as a user's
``xai explain`` is, so numba's compiled kernels are loaded from its disk cache once per variant)
and each repeated ``--repeats`` times (the median is reported):

- ``none``: no estimate (``--no-estimate``), the run alone;
- ``default``: the estimate a plain ``xai explain`` makes (the cost model; pilots only when it
  predicts ``QUICK_BELOW`` seconds or more), then the run;
- ``pilots``: the estimate with pilots forced (as ``xai explain --estimate`` does), then the run.

One discarded ``none`` run first fills numba's on-disk cache (compiling the kernels takes minutes
after the code changes; users pay it once, not per run).

For each: the estimate's time, the run's time, their ratio, the time the estimate *adds* to the
run (estimate + run - the ``none`` run: the parse and tables the estimate builds are the run's, so
the run after it is shorter), and the estimated against the measured time of TreeSHAP.
Writes ``benchmarks/results/estimate.md`` (``estimate-quick.md`` with ``--quick``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks.run import machine
from benchmarks.workloads import ROOT, workloads

RESULTS = Path(__file__).resolve().parent / "results"
VARIANTS = ("none", "default", "pilots")
METHOD = "treeshap"


def measure(model: str, data: str, variant: str) -> dict[str, Any]:
    """One variant in this process: prepare, estimate (unless ``none``), run; seconds of each."""
    from xai_cli.run.engine import ExplainRequest, estimates, prepare, run_prepared
    from xai_cli.run.estimate import QUICK_BELOW

    request = ExplainRequest(model, data, methods=(METHOD,), max_rows=None)
    t0 = time.perf_counter()
    prep = prepare(request)
    t1 = time.perf_counter()
    found = () if variant == "none" else estimates(request, prep, pilot=variant == "pilots")
    t2 = time.perf_counter()
    own = _own_work(request, prep) if found else 0.0  # not counted in the run below
    t2b = time.perf_counter()
    result = run_prepared(request, prep)
    t3 = time.perf_counter()
    outcome = next(o for o in result.outcomes if o.method == METHOD)
    assert outcome.status == "ok" and outcome.provenance is not None, outcome.reason
    est = found[0] if found else None
    return {
        "variant": variant,
        "rows": len(prep.X),
        "prepare_s": t1 - t0,
        "estimate_s": t2 - t1,
        "run_s": t3 - t2b,
        "own_s": own,
        "method_s": outcome.provenance.elapsed_s,
        "estimated_s": est.seconds if est else None,
        "basis": est.basis if est else "",
        "quick_below": QUICK_BELOW,
    }


def _own_work(request: Any, prep: Any) -> float:
    """The estimate's work that the run does not reuse, timed again once the kernels are loaded:
    TreeSHAP's estimate encodes one block of rows and evaluates the run's (cached) tables on it;
    everything else it does (the parse, the check, the tables) is the run's."""
    from xai_cli.methods import REGISTRY
    from xai_cli.methods.tables import tableshap

    ctx = prep.context(request, REGISTRY[METHOD])
    compiled, _ = tableshap.checked_model(ctx)
    table = tableshap.run_path_dependent_table(ctx, compiled)
    start = time.perf_counter()
    matrix = tableshap.encode(compiled, ctx.X.iloc[: tableshap.BLOCK_ROWS])
    tableshap.evaluate(compiled, matrix, table)
    return time.perf_counter() - start


def _child(model: Path, data: Path, variant: str) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "benchmarks.estimate", "--child", variant,
           "--model", str(model), "--data", str(data)]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False)
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise SystemExit(f"benchmarks.estimate {variant} failed: {tail}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _median(runs: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def _bases(runs: list[dict[str, Any]]) -> str:
    """How the runs were estimated, each distinct basis with how many runs had it."""
    counts = Counter(r["basis"] or "no estimate" for r in runs)
    if len(counts) == 1:
        return next(iter(counts))
    return "; ".join(f"{basis} ({n} of {len(runs)})" for basis, n in counts.most_common())


def run(quick: bool, repeats: int, out: Path) -> str:
    """Measure the three variants ``repeats`` times each (interleaved), write and return the
    Markdown table."""
    (work,) = workloads(quick, ("synthetic_xgboost",))
    rows = 2_000 if quick else 10_000
    header_machine = machine()
    runs: dict[str, list[dict[str, Any]]] = {v: [] for v in VARIANTS}
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "rows.parquet"
        work.rows(rows).to_parquet(data)
        _child(work.model_path, data, "none")  # fills numba's disk cache after a code change
        for i in range(repeats):
            for variant in VARIANTS:  # interleaved, so a change in load hits every variant
                runs[variant].append(_child(work.model_path, data, variant))
                r = runs[variant][-1]
                print(f"[{i + 1}/{repeats}] {variant}: estimate {r['estimate_s']:.2f} s, run "
                      f"{r['run_s']:.2f} s", file=sys.stderr, flush=True)  # fmt: skip
    base = _median(runs["none"], "run_s")
    alone = _median(runs["none"], "method_s")
    lines = [
        "| estimate | estimate (s) | run after it (s) | estimate / run | added to the run (s) "
        "| added / run without | own work (s) | own / treeshap alone | estimated (s) "
        "| measured treeshap (s) | basis |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for variant in VARIANTS:
        rs = runs[variant]
        est, run_s, own = (_median(rs, k) for k in ("estimate_s", "run_s", "own_s"))
        added = est + run_s - base
        guess = [r["estimated_s"] for r in rs if r["estimated_s"] is not None]
        lines.append(
            f"| {variant} | {est:.2f} | {run_s:.2f} | {est / run_s:.1%} | {added:+.2f} | "
            f"{added / base:+.1%} | {own:.3f} | {own / alone:.1%} | "
            f"{statistics.median(guess) if guess else float('nan'):.2f} | "
            f"{_median(rs, 'method_s'):.2f} | {_bases(rs)} |"
        )
    text = "\n".join([
        f"# Time estimate cost ({'quick' if quick else 'full'} mode)",
        "",
        f"- `xai explain -m treeshap` on {rows:,} rows of {work.name} ({work.description}).",
        f"- Machine: {header_machine}. Median of {repeats} runs per variant, each in a fresh "
        "process, variants interleaved.",
        "- *run* is `run_prepared` (TreeSHAP, the additivity check, the comparison), after "
        "loading; *added* is estimate + run minus the run without an estimate (`none`, "
        f"{base:.2f} s): the parse and the tables the estimate builds are reused by the run. "
        "On a shared machine it carries the load's noise (compare `default` and `pilots`, "
        "which do the same work for TreeSHAP).",
        "- *own work* is what the estimate computes that the run does not reuse (one block of "
        f"rows through the run's tables), timed again in the same process; *treeshap alone* is "
        f"TreeSHAP's time without an estimate ({alone:.2f} s).",
        "",
        *lines,
        "",
    ])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="the small workload, 2,000 rows")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(measure(args.model, args.data, args.child)))
        return 0
    out = args.out or RESULTS / ("estimate-quick.md" if args.quick else "estimate.md")
    print(run(args.quick, args.repeats, out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
