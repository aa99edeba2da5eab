"""What :func:`xai_cli.explain` returns: one run's results as pandas tables, and its reports.

An :class:`Explanation` keeps the typed result (:class:`xai_cli.results.ExplainResult`) and builds
the typed report (:class:`xai_cli.report.Report`) from it once; every table it shows is read from
that report, so a notebook, ``report.json`` and the CSV files always carry the same numbers.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd
    from pydantic import BaseModel

    from xai_cli.report import Report
    from xai_cli.results import ExplainResult, LocalAttribution
    from xai_cli.run.engine import Prepared


@dataclass(frozen=True)
class Explanation:
    """A whole run: every method's importances, their agreement, per-row values and checks."""

    result: ExplainResult
    prepared: Prepared | None = field(default=None, repr=False, compare=False)
    """The loaded model, adapter and explained rows (kept for later steps, e.g. audit probes)."""

    @cached_property
    def report(self) -> Report:
        """The typed report (``report.json``'s content; ``report.to_json_data()`` is the dict)."""
        from xai_cli.report import Report

        return Report.from_result(self.result)

    @property
    def importances(self) -> pd.DataFrame:
        """One row per method, class and feature: ``value``, ``share`` of the total, ``rank``
        (``class`` is ``all`` for the pooled ranking), as in ``importances.csv``."""
        return _frame(self.report.importances)

    @property
    def agreement(self) -> pd.DataFrame:
        """One row per pair of methods and class: Spearman, Kendall, top-k Jaccard."""
        return _frame(self.report.agreement)

    @property
    def additivity(self) -> pd.DataFrame:
        """SHAP additivity per method: does the sum of attributions give the model's output?"""
        return _frame(self.report.additivity)

    @property
    def rank_intervals(self) -> pd.DataFrame:
        """Each feature's 95% bootstrap rank interval per method whose ranking uses the rows."""
        return _frame(self.report.rank_intervals)

    @property
    def methods(self) -> pd.DataFrame:
        """Every method asked about: ``ok``, ``skipped`` or ``failed``, with the reason."""
        import pandas as pd

        return pd.DataFrame(
            [{"method": o.method, "status": o.status, "reason": o.reason}
             for o in self.result.outcomes]
        )  # fmt: skip

    @property
    def notes(self) -> tuple[str, ...]:
        """What the run noted on the data and model (sampling, label mapping, early stopping)."""
        return self.result.provenance.notes

    @property
    def consensus(self) -> tuple[str, ...]:
        """Features in every method's top-k."""
        return self.result.comparison.consensus

    @property
    def rows(self) -> pd.DataFrame:
        """The rows chosen with ``rows=``/``where=``: one row per chosen row, method, class and
        feature, with the feature's raw value, its attribution, the method's base value and
        output (``local.csv``); empty when no rows were chosen."""
        import pandas as pd

        from xai_cli.reports.csv import LOCAL_COLUMNS, local_rows

        return pd.DataFrame(local_rows(self.report), columns=list(LOCAL_COLUMNS))

    @property
    def metrics(self) -> dict[str, object] | None:
        """The model's accuracy, ROC AUC and log loss (or R², RMSE, MAE) on the explained rows,
        with the target's base rate; ``None`` without labels."""
        m = self.report.metrics
        return None if m is None else m.model_dump(by_alias=True)

    def local(self, method: str) -> LocalAttribution:
        """Per-row attributions of ``method`` (rows x features x outputs, with base values)."""
        for outcome in self.result.outcomes:
            if outcome.method == method and outcome.local is not None:
                return outcome.local
        have = [o.method for o in self.result.outcomes if o.local is not None]
        raise KeyError(f"no per-row values for {method!r}; methods with them: {have}")

    def attributions(self, method: str, output: int | str = 0) -> pd.DataFrame:
        """Per-row attributions of ``method`` for one output as a rows x features DataFrame."""
        import pandas as pd

        local = self.local(method)
        k = local.outputs.index(output) if isinstance(output, str) else output
        return pd.DataFrame(local.values[:, :, k], columns=list(local.features))

    def save(self, folder: str | Path, formats: str | tuple[str, ...] = "all") -> list[Path]:
        """Write the reports (``json``, ``csv``, ``md``, ``html`` or ``all``, a comma-separated
        string or a tuple) into ``folder``, atomically; returns the written paths."""
        from xai_cli.reports.writer import parse_formats, write_reports

        chosen = parse_formats(formats if isinstance(formats, str) else ",".join(formats))
        return write_reports(self.report, Path(folder), chosen)

    def top(self, k: int | None = None) -> dict[str, list[str]]:
        """Each method's top-``k`` features (pooled over classes), best first."""
        k = k or self.result.comparison.top_k
        tops: dict[str, list[str]] = {}
        for row in self.report.importances:
            if row.output == "all" and row.rank <= k:
                tops.setdefault(row.method, []).append((row.rank, row.feature))
        return {m: [f for _, f in sorted(rows)] for m, rows in tops.items()}

    def __repr__(self) -> str:
        prov = self.result.provenance
        ok = [o.method for o in self.result.outcomes if o.status == "ok"]
        return (
            f"<Explanation of {prov.model_class} ({prov.family}, {prov.task}) on "
            f"{prov.rows_used} rows: {', '.join(ok) or 'no method produced a result'}>"
        )

    def _repr_html_(self) -> str:
        """A compact summary for notebooks: top features per method, agreement, checks."""
        prov = self.result.provenance
        esc = html.escape
        rows = "".join(
            f"<tr><td>{esc(m)}</td><td>{esc(', '.join(features))}</td></tr>"
            for m, features in self.top().items()
        )
        agreement = self.agreement
        agree = ""
        if not agreement.empty:
            pooled = agreement[agreement["class"] == "all"]
            agree = "".join(
                f"<tr><td>{esc(r.method_a)} / {esc(r.method_b)}</td>"
                f"<td>{'' if r.spearman is None else f'{r.spearman:.2f}'}</td>"
                f"<td>{r.topk_jaccard:.2f}</td></tr>"
                for r in pooled.itertuples()
            )
        skipped = "".join(
            f"<li>{esc(o.method)}: {esc(o.status)} ({esc(o.reason or '')})</li>"
            for o in self.result.outcomes
            if o.status != "ok"
        )
        return (
            f"<div><p><b>{esc(prov.model_class)}</b> ({esc(prov.family)}, {esc(prov.task)}) on "
            f"{prov.rows_used} of {prov.rows_total} rows</p>"
            f"<table><tr><th>method</th><th>top features</th></tr>{rows}</table>"
            + (
                "<table><tr><th>methods</th><th>Spearman</th><th>top-k Jaccard</th></tr>"
                f"{agree}</table>"
                if agree
                else ""
            )
            + (f"<p>Consensus: {esc(', '.join(self.consensus))}</p>" if self.consensus else "")
            + (f"<ul>{skipped}</ul>" if skipped else "")
            + "</div>"
        )


def _frame(entries: tuple[BaseModel, ...]) -> pd.DataFrame:
    """Report entries as a DataFrame with their JSON keys as columns (``class``, not ``output``),
    so it matches the CSV files and ``report.json``."""
    import pandas as pd

    return pd.DataFrame([e.model_dump(by_alias=True) for e in entries])
