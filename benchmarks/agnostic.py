"""Model-agnostic Shapley values: xai against shap at equal error, and against the prediction floor.

Usage: ``python -m benchmarks.agnostic [--quick] [--shap-rows N] [--out PATH]`` (part of
``make bench``). Seeded synthetic data (20 features, interactions), 100 explained rows, 100
background rows, the models' raw outputs (``predict_raw``: a probability for scikit-learn
classifiers; the log-odds where a closed form needs them):

1. ``shapley.exact`` against shap's ``ExactExplainer`` on 12-feature LogisticRegression and MLP
   models (2**12 coalitions x 100 background rows x 100 rows = 41M predictions each): time, the
   largest difference between the two, and the prediction floor (the same number of predictions
   timed alone, on frames of the engine's block size).
2. ``kernelshap`` against shap's ``KernelExplainer`` and ``PermutationExplainer`` at a range of
   budgets, error measured against exact values: the 12-feature models' probabilities (exact =
   part 1) and a 20-feature LogisticRegression's log-odds (exact = coef * (x - mean background),
   the closed form; an additive game, which a regression estimator over all background rows
   solves exactly). Budgets are coalitions (shap's permutation explainer: evaluations) of all 100
   background rows (``--per-coalition K``: xai's of K). The time each needs to reach the error
   xai reaches at its default budget (2,048) is read off their budget curves (log-log
   extrapolated when they never reach it, and marked so).

shap explains row by row, so its time is linear in rows: it runs on ``--shap-rows`` rows (default
20) and its time is scaled to 100 rows (stated in the table). Each explainer is called once on one
row before it is timed (shap's first call compiles and sets up for seconds; xai's too). Writes
``benchmarks/results/agnostic.md`` (``agnostic-quick.md`` with ``--quick``).
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.run import machine

RESULTS = Path(__file__).resolve().parent / "results"
ROWS, BACKGROUND, FEATURES, EXACT_FEATURES = 100, 100, 20, 12
BUDGETS = (64, 128, 256, 512, 1024, 2048)
PER: int | None = None
"""KernelSHAP's background rows per coalition (``--per-coalition``; default: all, as shap)."""


def make_data(seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """20 features, a label from a non-linear score with interactions."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(3000, FEATURES)), columns=[f"f{i}" for i in range(FEATURES)])
    score = (1.5 * X.f0 - X.f1 + 0.8 * X.f2 * X.f3 + np.sin(2 * X.f4) + 0.5 * X.f5 * X.f6
             + 0.3 * X.iloc[:, 7:].sum(axis=1) + 0.5 * rng.normal(size=len(X)))  # fmt: skip
    return X, (score > 0).to_numpy().astype(int)


def models(X: pd.DataFrame, y: np.ndarray) -> dict[str, Any]:
    """LogisticRegression and MLP on all 20 and on the first 12 features."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier

    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for k in (FEATURES, EXACT_FEATURES):
            cols = list(X.columns[:k])
            out[f"logreg{k}"] = LogisticRegression(max_iter=1000).fit(X[cols], y)
            out[f"mlp{k}"] = MLPClassifier(hidden_layer_sizes=(32,), max_iter=300,
                                           random_state=0).fit(X[cols], y)  # fmt: skip
    return out


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def floor_seconds(predict: Callable[[pd.DataFrame], np.ndarray], X: pd.DataFrame,
                  predictions: int) -> float:  # fmt: skip
    """The time of ``predictions`` predictions alone: one engine-sized block timed (the faster
    of two), times the blocks."""
    from xai_cli.methods.agnostic.coalition import BLOCK_ROWS

    block = X.sample(BLOCK_ROWS, replace=True, random_state=0).reset_index(drop=True)
    best = min(timed(lambda: predict(block))[1] for _ in range(2))
    return best * predictions / BLOCK_ROWS


def xai_game(model: Any, X: pd.DataFrame, bg: pd.DataFrame, raw: str = "adapter"):  # noqa: ANN201
    """xai's game over the model's raw output (the adapter) or its log-odds."""
    from xai_cli.methods.agnostic.coalition import Game, singletons
    from xai_cli.model.adapter import adapt

    cols = tuple(X.columns)
    predict = (adapt(model).predict_raw if raw == "adapter"
               else lambda f: model.decision_function(f)[:, None])  # fmt: skip
    return Game(predict, cols, singletons(cols), bg, n_jobs=1), predict


def shap_function(model: Any, cols: list[str], raw: str) -> Callable[[np.ndarray], np.ndarray]:
    """What shap calls: arrays in, the same output xai explains out."""
    if raw == "adapter":
        return lambda a: model.predict_proba(pd.DataFrame(a, columns=cols))[:, 1]
    return lambda a: model.decision_function(pd.DataFrame(a, columns=cols))


def exact_part(name: str, model: Any, X: pd.DataFrame, bg: pd.DataFrame, shap_rows: int,
               lines: list[str]) -> np.ndarray:  # fmt: skip
    import shap

    from xai_cli.methods.agnostic.exact import exact_shapley

    game, predict = xai_game(model, X, bg)
    exact_shapley(game, X.iloc[:1])  # the same warm-up for xai
    ours, t_xai = timed(lambda: exact_shapley(game, X))
    predictions = len(X) * 2**X.shape[1] * len(bg)
    floor = floor_seconds(predict, X, predictions)
    f = shap_function(model, list(X.columns), "adapter")
    explainer = shap.explainers.ExactExplainer(f, shap.maskers.Independent(bg.to_numpy(), 100))
    sub = X.iloc[:shap_rows].to_numpy()
    explainer(X.iloc[-1:].to_numpy(), silent=True)  # warm-up (its first call costs seconds)
    theirs, t_shap = timed(lambda: explainer(sub, silent=True).values)
    t_shap_scaled = t_shap * len(X) / shap_rows
    diff = float(np.abs(ours[:shap_rows, :, 0] - theirs).max())
    lines.append(f"| {name} | xai shapley.exact | {predictions:,} | {t_xai:.2f} | {floor:.2f} | "
                 f"{t_xai / floor:.2f} | 1.0 | |")  # fmt: skip
    lines.append(f"| {name} | shap ExactExplainer ({shap_rows} rows, x{len(X) // shap_rows}) | "
                 f"{predictions:,} | {t_shap_scaled:.2f} | | | {t_shap_scaled / t_xai:.1f} | "
                 f"{diff:.1e} |")  # fmt: skip
    return ours


def rmse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(((a - b) ** 2).mean()))


def estimator_curves(
    model: Any, X: pd.DataFrame, bg: pd.DataFrame, truth: np.ndarray, raw: str, shap_rows: int,
    budgets: tuple[int, ...],
) -> list[dict[str, Any]]:
    """(method, budget, seconds for 100 rows, RMSE against the truth) at each budget."""
    import shap

    from xai_cli.methods.agnostic.kernel import kernel_shap

    game, predict = xai_game(model, X, bg, raw)
    f = shap_function(model, list(X.columns), raw)
    sub = X.iloc[:shap_rows].to_numpy()
    scale = len(X) / shap_rows
    out = []
    for budget in budgets:
        (values, se, used), t = timed(
            lambda b=budget: kernel_shap(game, X, b, 128, 0.0, seed=0, per_coalition=PER)
        )
        floor = floor_seconds(predict, X, len(X) * used * (PER or len(bg)))
        out.append({"method": "xai kernelshap", "budget": budget, "seconds": t, "floor": floor,
                    "error": rmse(values[:, :, 0], truth),
                    "stderr": float(np.sqrt((se**2).mean()))})  # fmt: skip
        kernel = shap.KernelExplainer(f, bg.to_numpy())
        kernel.shap_values(sub[:1], nsamples=budget, silent=True)  # warm-up
        phi, t = timed(lambda b=budget, k=kernel: k.shap_values(sub, nsamples=b, silent=True))
        out.append({"method": "shap KernelExplainer", "budget": budget, "seconds": t * scale,
                    "error": rmse(np.asarray(phi), truth[:shap_rows])})  # fmt: skip
        evals = max(budget, 2 * X.shape[1] + 1)
        perm = shap.explainers.PermutationExplainer(f, shap.maskers.Independent(bg.to_numpy(),
                                                                                  len(bg)))
        perm(sub[:1], max_evals=evals, silent=True)  # warm-up
        phi, t = timed(lambda e=evals, p=perm: p(sub, max_evals=e, silent=True).values)
        out.append({"method": "shap PermutationExplainer", "budget": evals, "seconds": t * scale,
                    "error": rmse(np.asarray(phi), truth[:shap_rows])})  # fmt: skip
    return out


def equal_error(
    curves: list[dict[str, Any]], method: str, error: float
) -> tuple[float, bool] | None:
    """The time ``method`` needs to reach ``error``: its fastest run at or below it, else the
    log-log extrapolation of its last two points (None when it does not improve)."""
    mine = sorted((c for c in curves if c["method"] == method), key=lambda c: c["budget"])
    ok = [c["seconds"] for c in mine if c["error"] <= error]
    if ok:
        return min(ok), False
    a, b = mine[-2], mine[-1]
    if b["error"] >= a["error"]:
        return None
    slope = np.log(b["seconds"] / a["seconds"]) / np.log(b["error"] / a["error"])
    return float(b["seconds"] * (error / b["error"]) ** slope), True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rows and budgets")
    parser.add_argument("--shap-rows", type=int, default=20)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--per-coalition", type=int, default=None,
                        help="kernelshap's background rows per coalition (default: all)")
    args = parser.parse_args()
    global PER
    PER = args.per_coalition
    rows = 20 if args.quick else ROWS
    shap_rows = min(args.shap_rows, rows) if not args.quick else 5
    budgets = (128, 512) if args.quick else BUDGETS
    out = args.out or RESULTS / ("agnostic-quick.md" if args.quick else "agnostic.md")
    X, y = make_data()
    fitted = models(X, y)
    explained = X.iloc[-rows:].reset_index(drop=True)
    background = X.sample(BACKGROUND, random_state=1).reset_index(drop=True)
    cols12 = list(X.columns[:EXACT_FEATURES])
    lines = [f"# Model-agnostic Shapley values: xai against shap\n\n{machine()}; {rows} explained "
             f"rows, {BACKGROUND} background rows; shap runs on {shap_rows} rows, its time "
             "scaled to all rows (it explains row by row).\n",
             "## Exact Shapley (12 features)\n",
             "| model | implementation | predictions | time (s) | floor (s) | x floor | "
             "shap / xai | max diff |", "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    truths = {}
    for name in ("logreg12", "mlp12"):
        print(f"exact: {name}", flush=True)
        truths[name] = exact_part(name, fitted[name], explained[cols12], background[cols12],
                                  shap_rows, lines)[:, :, 0]  # fmt: skip
    lr = fitted[f"logreg{FEATURES}"]
    truths["logreg20 (log-odds)"] = lr.coef_[0] * (explained.to_numpy()
                                                   - background.to_numpy().mean(axis=0))
    cases = [("logreg12", fitted["logreg12"], explained[cols12], background[cols12], "adapter"),
             ("mlp12", fitted["mlp12"], explained[cols12], background[cols12], "adapter"),
             ("logreg20 (log-odds)", lr, explained, background, "decision")]  # fmt: skip
    summary = ["\n## KernelSHAP at equal error\n",
               "| model | target RMSE | xai kernelshap (s) | x floor | shap Kernel (s) | ratio | "
               "shap Permutation (s) | ratio |", "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    detail = ["\n## Budget curves\n",
              "| model | method | budget | time (s) | floor (s) | RMSE vs exact | mean SE |",
              "|---|---|---|---|---|---|---|"]  # fmt: skip
    for name, model, Xc, bg, raw in cases:
        print(f"estimators: {name}", flush=True)
        curves = estimator_curves(model, Xc, bg, truths[name], raw, shap_rows, budgets)
        for c in curves:
            floor = f"{c['floor']:.2f}" if "floor" in c else ""
            se = f"{c['stderr']:.2e}" if "stderr" in c else ""
            detail.append(f"| {name} | {c['method']} | {c['budget']} | {c['seconds']:.2f} | "
                          f"{floor} | {c['error']:.2e} | {se} |")  # fmt: skip
        ours = [c for c in curves if c["method"] == "xai kernelshap"]
        target = next((c for c in ours if c["budget"] >= 2048), ours[-1])  # xai's default
        kern = equal_error(curves, "shap KernelExplainer", target["error"])
        perm = equal_error(curves, "shap PermutationExplainer", target["error"])

        def cell(found: tuple[float, bool] | None, target: dict[str, Any] = target) -> str:
            if found is None or not np.isfinite(found[0]) or found[0] > 1e5:
                return "not reached | |"
            t, extrapolated = found
            mark = " (extrapolated)" if extrapolated else ""
            return f"{t:.2f}{mark} | {t / target['seconds']:.1f} |"

        ratio = target["seconds"] / target["floor"]
        summary.append(f"| {name} | {target['error']:.2e} | {target['seconds']:.2f} | "
                       f"{ratio:.2f} | {cell(kern)} {cell(perm)}")  # fmt: skip
    text = "\n".join([*lines, *summary, *detail]) + "\n"
    out.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
