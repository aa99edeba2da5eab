"""LightGBM: reading a deep forest's trees from the model text (numpy) against the
``dump_model`` JSON parse it replaced, on the same model, checked to give the same forest.

Usage: ``python -m benchmarks.lightgbm_parse [--trees 100] [--runs 3] [--out PATH]``. Trains a
seeded LightGBM regressor (depth 10, up to 1,023 leaves, 50 numeric features, 30,000 rows like
the ``deep_lightgbm`` workload of :mod:`benchmarks.run`), then times each parse, alternating and
keeping each one's fastest of ``--runs``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from benchmarks.run import machine
from benchmarks.workloads import synthetic

RESULTS = Path(__file__).resolve().parent / "results" / "lightgbm-parse.md"


def main(argv: list[str] | None = None) -> int:
    import lightgbm as lgb

    from xai_cli.model import parsers
    from xai_cli.model.adapter import adapt
    from xai_cli.model.forest import Forest

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trees", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--train-rows", type=int, default=30_000)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    X, y = synthetic(args.train_rows, 50, 0)
    model = lgb.LGBMRegressor(n_estimators=args.trees, num_leaves=1023, max_depth=10,
                              learning_rate=0.1, random_state=0, n_jobs=2, verbose=-1).fit(X, y)
    a = adapt(model)
    parses = {"model text, numpy (parse_lightgbm)": parsers.parse_lightgbm,
              "dump_model JSON (parse_lightgbm_dump)": parsers.parse_lightgbm_dump}
    best = {name: float("inf") for name in parses}
    forests: dict[str, Forest] = {}
    for _ in range(args.runs):
        for name, parse in parses.items():
            start = time.perf_counter()
            forests[name] = parse(a).forest
            best[name] = min(best[name], time.perf_counter() - start)
    text, dump = forests.values()
    same = all(
        (getattr(text, k) == getattr(dump, k)).all() if hasattr(getattr(text, k), "shape")
        else getattr(text, k) == getattr(dump, k)
        for k in Forest.__dataclass_fields__
    )
    lines = [
        "# LightGBM tree parse",
        "",
        f"- Machine: {machine()} (shared with other work; fastest of {args.runs}, alternating).",
        f"- Model: LightGBM regressor, {args.trees} trees, depth 10 (<= 1,023 leaves), 50 "
        f"features, {args.train_rows:,} training rows; {text.n_nodes:,} nodes.",
        f"- The two parses give the same forest, every array equal: {same}.",
        "",
        "| parse | time (s) |",
        "|---|---:|",
        *[f"| {name} | {seconds:.3f} |" for name, seconds in best.items()],
    ]
    out = "\n".join(lines) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(out, encoding="utf-8")
    print(out)
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
