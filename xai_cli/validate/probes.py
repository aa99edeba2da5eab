"""Planted probes: columns whose right importance is known, added to a copy of the data.

The model the user gave never reads a new column, so the probes go through a **refit copy**
(same hyperparameters, :func:`xai_cli.validate.models.refit`) trained on the rows the checks do
not use and explained on the check rows (held out from the refit); every probe check says so.
Three probes are planted at once (a probe "outranks" an informative feature, one the method
itself gives more than an equal share of its importance on the user's model, when its share in
the refit is larger):

* ``probe_noise``: 4-level random integers, the noise floor (T12): a method that ranks it above an
  informative feature finds signal in noise;
* ``probe_noise_highcard``: continuous uniform noise (every value distinct): the known bias of
  split, gain, cover and impurity importances towards many split points;
* ``probe_twin``: an exact copy of the run's top feature (T15): how a method splits credit between
  correlated twins (reported, WARN when the pair keeps under half the feature's share).

The model-level **noise floor** reuses :func:`xai_cli.audit.probes.noise_floor` on the user's
own model (held-out permutation importance against a never-read probe, mode B).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from xai_cli.audit.probes import noise_floor
from xai_cli.compare.agreement import ranks, shares
from xai_cli.validate.checks import MODEL, Check, judged, skip
from xai_cli.validate.context import Subject, pooled
from xai_cli.validate.models import CannotCopy, refit

FAMILY = "probes"
NOISE, HIGHCARD, TWIN = "probe_noise", "probe_noise_highcard", "probe_twin"
REFIT_NOTE = (
    "through a refit copy of the model with the probes added (trained on rows the check does "
    "not use, explained on held-out rows; permutation with one shuffle per column)"
)


def top_feature(subject: Subject) -> str:
    """The run's top feature: first by mean rank over the methods that ran."""
    vectors = [ranks(pooled(o.table)) for o in subject.ok if o.table is not None]
    mean = np.mean(vectors, axis=0)
    return subject.result.features[int(np.argmin(mean))]


def informative_features(subject: Subject, values: np.ndarray) -> list[str]:
    """Features a method's own run gives more than an equal share (1/d) of its importance:
    what a planted noise column should never outrank under that method."""
    share = shares(np.abs(values))
    features = subject.result.features
    order = np.argsort(-share, kind="stable")
    return [features[i] for i in order if share[i] >= 1 / len(features)]


def planted(X: pd.DataFrame, twin_of: str, rng: np.random.Generator) -> pd.DataFrame:
    """``X`` with the three probe columns appended."""
    return X.assign(**{
        NOISE: rng.integers(0, 4, len(X)).astype(float),
        HIGHCARD: rng.random(len(X)),
        TWIN: X[twin_of].to_numpy(),
    })  # fmt: skip


def planted_probes(subject: Subject) -> list[Check]:
    """The three probe checks per method, through one refit."""
    names = [o.method for o in subject.ok]
    if not subject.options.probes:
        return [skip(FAMILY, "noise_probe", m, "probes turned off (--no-probes)", "T12")
                for m in names]  # fmt: skip
    if subject.prepared.encoded is None:
        return [skip(FAMILY, "noise_probe", m, "needs labels (--target) to refit", "T12")
                for m in names]  # fmt: skip
    # typed as the model takes them (categories as pandas categories), probes appended
    X_all = subject.adapter.typed_frame(subject.prepared.X).reset_index(drop=True)
    y_all = subject.prepared.encoded
    train = np.setdiff1d(np.arange(len(X_all)), subject.rows)
    test = subject.rows
    if len(train) < 50:  # too few spare rows: split the check rows in half
        train, test = subject.rows[::2], subject.rows[1::2]
    twin_of = top_feature(subject)
    rng = np.random.default_rng(subject.request.seed + 19)
    X_probe = planted(X_all, twin_of, rng)
    try:
        model = refit(subject.adapter, X_probe.iloc[train], y_all[train])
    except CannotCopy as exc:
        return [skip(FAMILY, "noise_probe", m, str(exc), "T12") for m in names]
    X_test, y_test = X_probe.iloc[test].reset_index(drop=True), y_all[test]
    original = {o.method: pooled(o.table) for o in subject.ok if o.table is not None}
    out: list[Check] = []
    features = list(X_probe.columns)
    for name in names:
        explainer = subject.explainers[name]
        support = explainer.supports(model)
        if not support.ok:
            out.append(skip(FAMILY, "noise_probe", name, f"refit: {support.reason}", "T12"))
            continue
        try:
            values = pooled(subject.run(name, X_test, adapter=model, y=y_test, cheap=True))
        except Exception as exc:
            out.append(skip(FAMILY, "noise_probe", name, f"could not run: {exc}", "T12"))
            continue
        r, s = ranks(values), shares(np.abs(values))
        rank_of = {f: int(r[i]) for i, f in enumerate(features)}
        share_of = {f: float(s[i]) for i, f in enumerate(features)}
        details = {"ranks": {p: rank_of[p] for p in (NOISE, HIGHCARD, TWIN)}, "refit": REFIT_NOTE,
                   "twin_of": twin_of, "features": len(features)}  # fmt: skip
        strong = [f for f in informative_features(subject, original[name]) if f in share_of]
        for check, probe, what in (
            ("noise_probe", NOISE, "a 4-level random column"),
            ("cardinality_probe", HIGHCARD, "a continuous random column (cardinality bias)"),
        ):
            beaten = [f for f in strong if share_of[probe] > share_of[f]]
            out.append(judged(
                FAMILY, check, name, len(beaten), 0, "<=", test="T12",
                what=f"informative features ({', '.join(strong)}) outranked by {what}, rank "
                f"{rank_of[probe]} of {len(features)}",
                details={**details, "outranked": beaten},
            ))  # fmt: skip
        before = original.get(name)
        was = float(shares(np.abs(before))[subject.result.features.index(twin_of)]) if (
            before is not None) else share_of[twin_of]  # fmt: skip
        pair = share_of[twin_of] + share_of[TWIN]
        split = share_of[TWIN] / pair if pair > 0 else 0.0
        check = judged(
            FAMILY, "twin_probe", name, pair / was if was > 0 else 1.0, 0.5, ">=", test="T15",
            what=f"share kept by {twin_of} + its exact copy, relative to {twin_of}'s share "
            f"before (the copy took {100 * split:.0f}% of the pair)",
            details={**details, "pair_share": pair, "feature_share_before": was,
                     "copy_fraction": split},
        )  # fmt: skip
        out.append(check if check.status != "FAIL" else Check(
            check.family, check.check, check.method, "WARN", check.reason, check.value,
            check.threshold, check.op, check.test, check.details))  # fmt: skip
    return out


def model_noise_floor(subject: Subject) -> Check:
    """No feature in the run's consensus top-k is indistinguishable from a random probe
    (held-out permutation importance on the user's model; :mod:`xai_cli.audit.probes`)."""
    if not subject.options.probes:
        return skip(FAMILY, "noise_floor", MODEL, "probes turned off (--no-probes)", "T12")
    if subject.y is None:
        return skip(FAMILY, "noise_floor", MODEL, "needs labels (--target)", "T12")
    try:
        floor = noise_floor(
            subject.adapter, subject.X, subject.y, repeats=subject.options.floor_repeats,
            seed=subject.request.seed,
        )  # fmt: skip
    except ValueError as exc:
        return skip(FAMILY, "noise_floor", MODEL, str(exc), "T12")
    checked = list(subject.result.comparison.consensus) or [top_feature(subject)]
    noisy = [f.feature for f in floor.features if f.feature in checked and not f.above]
    check = judged(
        FAMILY, "noise_floor", MODEL, len(noisy), 0, "<=", test="T12",
        what=f"consensus top features no better than a random probe (held-out "
        f"{floor.metric} drop, {floor.repeats} bootstrap-and-permute repeats)",
        details={"checked": checked, "noise": noisy,
                 "margins": {f.feature: f.margin for f in floor.features if f.feature in checked}},
    )  # fmt: skip
    return check
