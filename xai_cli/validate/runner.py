"""Run the scorecard on a validated explain run: every check family, every method.

:func:`scorecard` takes a :class:`~xai_cli.validate.context.Subject` (the run, its model and rows,
the options) and returns the checks in a fixed order (family, then method in run order), each
timed; a check that cannot run is a SKIP with its reason, never an exception that loses the rest.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from xai_cli.validate import exactness, faithfulness, probes, routing, sanity, stability
from xai_cli.validate.checks import FAMILIES, MODEL, Check, skip
from xai_cli.validate.context import Subject

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Scorecard:
    """The checks of one validation, and what each family cost."""

    checks: tuple[Check, ...]
    seconds: dict[str, float]
    rows: int
    options: dict[str, object]

    def of(self, method: str) -> list[Check]:
        return [c for c in self.checks if c.method == method]

    def failed(self) -> list[Check]:
        return [c for c in self.checks if c.status == "FAIL"]


def _guard(
    family: str, check: str, method: str, fn: Callable[[], Check | list[Check]]
) -> list[Check]:
    try:
        out = fn()
    except Exception as exc:  # one broken check never hides the others
        return [skip(family, check, method, f"could not run: {type(exc).__name__}: {exc}")]
    return out if isinstance(out, list) else [out]


FAMILY_OF = {
    "additivity": "exactness", "exact_shapley": "exactness", "routing_parity": "routing",
    "parameter_randomisation": "sanity", "label_randomisation": "sanity",
    "prediction_gap": "faithfulness", "noise_floor": "probes", "noise_probe": "probes",
    "cardinality_probe": "probes", "twin_probe": "probes", "resample_stability": "stability",
    "seed_stability": "stability",
}  # fmt: skip
"""The family each check belongs to (an audit rule naming a few checks runs only theirs)."""


def scorecard(
    subject: Subject, progress: Progress = lambda _: None, families: frozenset[str] | None = None
) -> Scorecard:
    """Every check on ``subject`` (only those of ``families`` when given); see the modules of
    :mod:`xai_cli.validate` for each."""
    checks: list[Check] = []
    seconds: dict[str, float] = {}
    methods = [o for o in subject.ok]

    def family(name: str, work: Callable[[], list[Check]]) -> None:
        if families is not None and name not in families:
            return
        progress(f"validating: {name}")
        t0 = time.perf_counter()
        checks.extend(work())
        seconds[name] = round(time.perf_counter() - t0, 3)

    def per_method(fam: str, check: str, fn: Callable[..., Check]) -> list[Check]:
        return [
            c for o in methods for c in _guard(fam, check, o.method, lambda o=o: fn(subject, o))
        ]

    family(
        "exactness",
        lambda: (
            per_method("exactness", "additivity", exactness.additivity)
            + per_method("exactness", "exact_shapley", exactness.exact_shapley)
        ),
    )
    family(
        "routing",
        lambda: _guard("routing", "routing_parity", MODEL, lambda: routing.routing_parity(subject)),
    )
    family(
        "sanity",
        lambda: (
            _guard(
                "sanity",
                "parameter_randomisation",
                MODEL,
                lambda: sanity.parameter_randomisation(subject),
            )
            + _guard(
                "sanity", "label_randomisation", MODEL, lambda: sanity.label_randomisation(subject)
            )
        ),
    )
    family(
        "faithfulness",
        lambda: per_method("faithfulness", "prediction_gap", faithfulness.prediction_gap),
    )
    family(
        "probes",
        lambda: (
            _guard("probes", "noise_floor", MODEL, lambda: probes.model_noise_floor(subject))
            + _guard("probes", "planted_probes", MODEL, lambda: probes.planted_probes(subject))
        ),
    )
    family(
        "stability",
        lambda: (
            per_method("stability", "resample_stability", stability.resamples)
            + per_method("stability", "seed_stability", stability.seeds)
        ),
    )
    order = {f: i for i, f in enumerate(FAMILIES)}
    run_order = {o.method: i for i, o in enumerate(methods)}
    checks.sort(key=lambda c: (order.get(c.family, 99), run_order.get(c.method, -1)))
    return Scorecard(tuple(checks), seconds, len(subject.X), subject.options.model_dump())
