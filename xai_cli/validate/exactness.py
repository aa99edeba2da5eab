"""Exactness: completeness (T07) and exact-Shapley spot checks on sampled rows.

* **Additivity / completeness (T07)**: a Shapley-type method's values plus its base value must
  give the model's output on every explained row, within ``1e-6 x scale`` (float32 rounding up to
  ``1e-4 x scale`` is a WARN; sampled methods: 5%, warn 20%). Methods that do not claim it
  (occlusion, LIME) get their measured gap reported as a SKIP with the number.
* **Exact-Shapley spot checks**: on :attr:`ValidateOptions.spot_rows` sampled rows, each
  Shapley-type method's values are compared with the exact values of the game it claims to
  compute, enumerated by brute force (:mod:`xai_cli.validate.shapley`). A method whose values
  add up but sit on the wrong features (values permuted across features) fails here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from xai_cli.model.forest import UnsupportedForest
from xai_cli.model.parsers import PARSERS
from xai_cli.results import LocalAttribution, MethodOutcome
from xai_cli.validate import kinds, shapley
from xai_cli.validate.checks import Check, judged, skip
from xai_cli.validate.context import Subject

FAMILY = "exactness"


def additivity(subject: Subject, outcome: MethodOutcome) -> Check:
    """T07 on the run's own per-row values."""
    name, local = outcome.method, outcome.local
    if local is None:
        return skip(FAMILY, "additivity", name, "global importance: no per-row values", "T07")
    X = subject.prepared.X
    gap = local.values.sum(axis=1) + local.base_values - subject.output_of(local, X)
    worst = float(np.nanmax(np.abs(gap))) if gap.size else 0.0
    if not np.isfinite(gap).all():
        worst = float("inf")
    relative = worst / subject.scale
    if not kinds.complete(name):
        return skip(
            FAMILY, "additivity", name,
            f"does not claim completeness; measured gap {relative:.3g} x output scale (an "
            "interaction/fit diagnostic, not a failure)", "T07",
        )  # fmt: skip
    approximate = kinds.sampled(name) or name in kinds.COMPLETE_OTHERS  # IG: a Riemann sum
    threshold, warn = (0.05, 0.2) if approximate else (1e-6, 1e-4)
    output = subject.output_of(local, X)
    # a library that sums its trees in float32 (XGBoost) rounds its own output: allow that
    float32 = 16 * float(np.finfo(np.float32).eps) * float(np.nanmax(np.abs(output), initial=0.0))
    threshold = max(threshold, float32 / subject.scale)
    return judged(
        FAMILY, "additivity", name, relative, threshold, "<=", warn=warn, test="T07",
        what=f"max |sum(values) + base - output| / scale over {len(gap)} rows",
        details={"max_abs_error": worst, "scale": subject.scale},
    )  # fmt: skip


def _spot_positions(subject: Subject) -> np.ndarray:
    rng = np.random.default_rng(subject.request.seed + 7)
    n = len(subject.prepared.X)
    return np.sort(rng.choice(n, min(subject.options.spot_rows, n), replace=False))


def _path_dependent(subject: Subject, outcome: MethodOutcome) -> Check:
    name, local = outcome.method, outcome.local
    assert local is not None
    adapter = subject.adapter
    if adapter.family not in PARSERS:
        return skip(FAMILY, "exact_shapley", name, f"no tree parser for {adapter.family}")
    try:
        parsed = PARSERS[adapter.family](adapter)
    except UnsupportedForest as exc:
        return skip(FAMILY, "exact_shapley", name, f"trees not parsed: {exc}")
    if local.unit.endswith(":probability") and adapter.raw_space != "probability":
        return skip(FAMILY, "exact_shapley", name, "explains probabilities, the trees sum margins")
    widest = shapley.widest_tree(parsed.forest)
    if widest > shapley.MAX_TREE_FEATURES:
        return skip(FAMILY, "exact_shapley", name,
                    f"a tree tests {widest} features (enumeration limit "
                    f"{shapley.MAX_TREE_FEATURES})")  # fmt: skip
    positions = _spot_positions(subject)
    matrix = parsed.encode(subject.prepared.X.iloc[positions])
    worst = 0.0
    for i, pos in enumerate(positions):
        exact = shapley.path_dependent_exact(parsed.forest, matrix[i])
        worst = max(worst, float(np.abs(local.values[pos] - exact).max()))
    return judged(
        FAMILY, "exact_shapley", name, worst / subject.scale, 1e-6, "<=", warn=1e-4, test="T06",
        what=f"max |value - exact path-dependent Shapley| / scale on {len(positions)} rows "
        f"(all {len(adapter.feature_names)} features, enumerated tree by tree)",
        details={"rows": positions.tolist(), "max_abs_error": worst},
    )  # fmt: skip


def _interventional(subject: Subject, outcome: MethodOutcome) -> Check:
    """Re-run the method on [row + a small background], where features outside the enumerated
    players are set to the row's values (dummies), and compare with brute force."""
    name, local = outcome.method, outcome.local
    assert local is not None
    opts = subject.options
    X = subject.prepared.X
    d = X.shape[1]
    rng = np.random.default_rng(subject.request.seed + 11)
    worst, players_used = 0.0, 0
    positions = _spot_positions(subject)
    for pos in positions:
        row = X.iloc[[pos]].reset_index(drop=True)
        picked = rng.choice(len(X), min(opts.spot_background, len(X)), replace=False)
        background = X.iloc[np.sort(picked)].reset_index(drop=True)
        if d <= opts.max_players:
            players = list(range(d))
        else:  # the row's largest attributions are enumerated; the rest held at the row's values
            order = np.argsort(-np.abs(local.values[pos]).sum(axis=1), kind="stable")
            players = sorted(int(j) for j in order[: opts.max_players])
            for j in set(range(d)) - set(players):
                background.iloc[:, j] = row.iloc[0, j]
        frame = pd.concat([row, background], ignore_index=True)
        got = subject.run(name, frame)
        if not isinstance(got, LocalAttribution):
            return skip(FAMILY, "exact_shapley", name, "returned no per-row values on re-run")
        exact = shapley.interventional_exact(
            lambda F, g=got: subject.output_of(g, F), row, frame, players
        )
        others = [j for j in range(d) if j not in players]
        err = np.abs(got.values[0, players, :] - exact).max()
        if others:
            err = max(err, np.abs(got.values[0, others, :]).max())
        worst, players_used = max(worst, float(err)), len(players)
    sampled = kinds.sampled(name)
    threshold, warn = (0.05, 0.2) if sampled else (1e-6, 1e-4)
    held = "" if d <= opts.max_players else f", the other {d - players_used} held at the row"
    return judged(
        FAMILY, "exact_shapley", name, worst / subject.scale, threshold, "<=", warn=warn,
        test="T06",
        what=f"max |value - exact interventional Shapley| / scale on {len(positions)} rows "
        f"({players_used} features enumerated{held}; background {opts.spot_background} rows)",
        details={"rows": positions.tolist(), "max_abs_error": worst},
    )  # fmt: skip


def exact_shapley(subject: Subject, outcome: MethodOutcome) -> Check:
    """The spot check of a Shapley-type method (SKIP for the others)."""
    game = kinds.game(outcome.method)
    if game is None:
        return skip(FAMILY, "exact_shapley", outcome.method, "not a Shapley-value method")
    if outcome.local is None:
        return skip(FAMILY, "exact_shapley", outcome.method, "no per-row values")
    if outcome.table is not None and outcome.table.params.get("streamed"):
        return skip(FAMILY, "exact_shapley", outcome.method, "streamed run: rows not kept")
    try:
        if game == "path_dependent":
            return _path_dependent(subject, outcome)
        return _interventional(subject, outcome)
    except Exception as exc:  # a check that cannot run says why; it never hides the others
        return skip(FAMILY, "exact_shapley", outcome.method, f"could not run: {exc}")
