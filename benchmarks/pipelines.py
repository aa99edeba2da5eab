"""What explaining a pipeline on its raw columns costs over the final estimator's fast path alone.

Usage: ``python -m benchmarks.pipelines [--quick] [--rows N] [--repeats N] [--out PATH]`` (part of
``make bench``). The Adult census data as read (8 text columns one-hot encoded, 6 numeric columns
scaled or passed through) into a ``Pipeline(ColumnTransformer, final)`` for a RandomForest
(TreeSHAP on xai's kernels) and a LogisticRegression (closed-form linear SHAP). For each, timed
in this process, median of ``--repeats``:

- ``fast path``: the method on the encoded matrix through the final estimator, with its global
  table (what ``--level encoded`` computes);
- ``regroup``: summing the per-row values over each raw column's encoded features and the global
  table of the summed values (what ``--level raw`` adds);
- ``encode``: the pipeline's own ``transform`` of the raw rows and their numeric view for plots
  (done once per run, shared by every fast-path method; reported for scale).

Goal: ``regroup`` under 5% of ``fast path``. Writes ``benchmarks/results/pipelines.md``
(``pipelines-quick.md`` with ``--quick``).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from benchmarks.run import machine
from benchmarks.workloads import ROOT

RESULTS = Path(__file__).resolve().parent / "results"
TEXT = ["workclass", "education", "marital-status", "occupation", "relationship", "race",
        "gender", "native-country"]  # fmt: skip
NUMERIC = ["age", "fnlwgt", "educational-num", "capital-gain", "capital-loss"]
PASSED = ["hours-per-week"]


def _pipeline(final: Any) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    pre = ColumnTransformer([
        ("onehot", OneHotEncoder(handle_unknown="ignore"), TEXT),
        ("scale", StandardScaler(), NUMERIC),
        ("keep", "passthrough", PASSED),
    ])  # fmt: skip
    return Pipeline([("pre", pre), ("model", final)])


def _median(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def measure(name: str, final: Any, method: Any, X: pd.DataFrame, y: Any, repeats: int) -> dict:
    """The three timings of one pipeline (see the module docstring)."""
    from xai_cli.methods.base import ExplainContext
    from xai_cli.model.adapter import adapt

    pipe = _pipeline(final).fit(X, y)
    adapter = adapt(pipe)
    view = adapter.pipeline
    assert view is not None, adapter.notes
    from xai_cli.methods.base import numeric_view

    def prepare() -> tuple[pd.DataFrame, Any]:
        return view.encode(adapter.typed_frame(X)), numeric_view(X)

    encode_s, (encoded, data) = _median(prepare, repeats)
    ctx = ExplainContext(adapter=view.final, X=encoded, y=None, seed=0)
    method.explain(ctx)  # compile / warm once: users pay numba's compile once, not per run

    def fast() -> Any:
        local = method.explain(ctx)
        local.to_global()
        return local

    fast_s, local = _median(fast, repeats)
    regroup_s, _ = _median(lambda: view.regroup_local(local, data).to_global(), repeats)
    return {
        "pipeline": name, "method": method.name, "rows": len(X),
        "encoded": len(view.encoded_features), "raw": len(view.raw_features),
        "fast_s": fast_s, "regroup_s": regroup_s, "encode_s": encode_s,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5,000 rows, 3 repeats")
    parser.add_argument("--rows", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    from xai_cli.methods.linear import LinearShap
    from xai_cli.methods.treeshap import TreeShap

    rows = args.rows or (5_000 if args.quick else 20_000)
    repeats = args.repeats or (3 if args.quick else 5)
    frame = pd.read_csv(ROOT / "sample_data" / "adult.csv")
    frame = frame.sample(rows, replace=len(frame) < rows, random_state=0)
    X, y = frame[TEXT + NUMERIC + PASSED], (frame["income"] == ">50K").astype(int)
    found = [
        measure("RandomForest (50 trees, depth 8)",
                RandomForestClassifier(50, max_depth=8, random_state=0, n_jobs=-1),
                TreeShap(), X, y, repeats),
        measure("LogisticRegression", LogisticRegression(max_iter=1000), LinearShap(), X, y,
                repeats),
    ]  # fmt: skip
    lines = [
        "# Pipeline regrouping: cost over the fast path",
        "",
        f"Machine: {machine()}. Adult data as read, median of {repeats} runs in one process.",
        "",
        "| pipeline | method | rows | encoded -> raw | fast path (s) | regroup (s) | regroup / "
        "fast path | encode (s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for f in found:
        lines.append(
            f"| {f['pipeline']} | {f['method']} | {f['rows']} | {f['encoded']} -> {f['raw']} | "
            f"{f['fast_s']:.4f} | {f['regroup_s']:.4f} | {f['regroup_s'] / f['fast_s']:.1%} | "
            f"{f['encode_s']:.4f} |"
        )
    out = args.out or RESULTS / ("pipelines-quick.md" if args.quick else "pipelines.md")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
