"""Choosing rows to explain one by one: ``--rows`` (positions or ids), ``--where`` (a pandas
query on the raw data) and ``--id-column`` (a column that names the rows and is not a feature).

The chosen rows are found in the data as read, before the target filter and the sample, so a
position means the same row whatever ``--max-rows`` is; :func:`xai_cli.load.rows.select_from_frame`
then adds them to the sample, so they are always explained.
"""

from __future__ import annotations

import ast
import math
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from xai_cli.errors import DataError, describe, printable
from xai_cli.request import MAX_CHOSEN_ROWS, ExplainRequest


class RowSelectionError(DataError):
    """A row selection names no row: an unknown id or position, an empty or invalid query."""

    code = "rows"


@dataclass(frozen=True)
class ChosenRows:
    """The rows chosen to be explained one by one, located in the explained rows.

    ``positions`` index the run's rows (``Prepared.X``); ``labels`` name them in reports (the id
    column's value, else the 0-based position in the data); ``raw`` holds each row's feature values
    as shown to people (category labels as in the data, numbers as text, ``None`` for missing),
    in model feature order; ``targets`` the raw target value (``None`` without a target).
    """

    positions: tuple[int, ...]
    labels: tuple[str, ...]
    raw: tuple[tuple[str | None, ...], ...]
    targets: tuple[str | None, ...]
    id_column: str | None
    asked: str
    """What was asked, for the report: ``--rows 17,42; --where age > 60``."""


def display(value: object) -> str | None:
    """A raw data value as text for people: ``None`` for missing, numbers short, text as is."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    if isinstance(value, float | np.floating):
        return f"{float(value):.6g}"
    if isinstance(value, np.integer | np.bool_):
        return str(value.item())
    return str(value)


def split_ids(
    frame: pd.DataFrame, request: ExplainRequest
) -> tuple[pd.DataFrame, pd.Series | None]:
    """The frame without the id column (it is not a feature), and the ids as text."""
    if request.id_column is None:
        return frame, None
    if request.id_column not in frame.columns:
        raise RowSelectionError(
            printable(f"--id-column '{request.id_column}' is not a column of the data"),
            hint=printable("columns are: " + ", ".join(map(str, frame.columns[:20]))),
        )
    ids = frame[request.id_column].map(lambda v: display(v) or "")
    repeated = ids[ids.duplicated()].unique()
    if len(repeated):
        raise RowSelectionError(
            printable(f"--id-column '{request.id_column}' repeats ids, e.g. '{repeated[0]}'"),
            hint="an id column names each row once; pass a column with unique values",
        )
    return frame.drop(columns=[request.id_column]), ids.reset_index(drop=True)


_BACKTICKED = re.compile(r"`[^`]*`")
"""A column name quoted in backticks (pandas' way to name a column with spaces)."""

_ALLOWED = (
    ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub, ast.UAdd,
    ast.Invert, ast.BinOp, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow,
    ast.BitAnd, ast.BitOr, ast.Compare, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE,
    ast.In, ast.NotIn, ast.Name, ast.Load, ast.Constant, ast.List, ast.Tuple,
)  # fmt: skip
"""What a ``--where`` may hold: columns, values, arithmetic, comparisons, ``and``/``or``/``not``
and ``in`` lists. No calls, attributes or subscripts: pandas' evaluator would run
``age.to_csv("/path")``, so a query from a shared config could write files."""


def check_query(expression: str) -> None:
    """Refuse a ``--where`` that is not a plain condition over columns (see :data:`_ALLOWED`)."""
    try:
        tree = ast.parse(_BACKTICKED.sub("_column", expression).strip(), mode="eval")
    except SyntaxError as exc:
        raise RowSelectionError(
            printable(f"invalid --where expression: {expression}"),
            cause=printable(f"SyntaxError: {exc.msg}"),
            hint=_QUERY_HINT,
        ) from exc
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED):
            raise RowSelectionError(
                printable(f"invalid --where expression: {expression}"),
                cause=f"{type(node).__name__.lower()} is not allowed: a query compares columns "
                "with values (no calls, attributes or indexing)",
                hint=_QUERY_HINT,
            )


_QUERY_HINT = (
    "use a pandas query over the data's columns, e.g. \"age > 60 and sex == 'F'\" or "
    "\"job in ['exec', 'clerk']\"; quote column names with spaces in backticks"
)


def _query(frame: pd.DataFrame, expression: str) -> np.ndarray:
    """Positions of the rows of ``frame`` matching the pandas query ``expression``.

    Checked first (:func:`check_query`: no calls, attributes or subscripts), then evaluated with
    no local or global names (only the columns), so ``@name`` cannot reach Python objects; any
    error of pandas' parser or evaluator is one :class:`RowSelectionError`.
    """
    check_query(expression)
    data = frame.reset_index(drop=True)
    try:
        mask = data.eval(expression, local_dict={}, global_dict={})
    except Exception as exc:  # pandas raises SyntaxError, NameError, TypeError, ValueError...
        raise RowSelectionError(
            printable(f"invalid --where expression: {expression}"),
            cause=printable(describe(exc)),
            hint=_QUERY_HINT,
        ) from exc
    if not isinstance(mask, pd.Series) or not pd.api.types.is_bool_dtype(mask.dtype):
        raise RowSelectionError(
            printable(f"--where expression is not a condition: {expression}"),
            hint="compare columns with values (==, <, >, in) and join them with and / or",
        )
    matched = np.flatnonzero(mask.fillna(False).to_numpy(dtype=bool))
    if matched.size == 0:
        raise RowSelectionError(
            printable(f"--where matched no rows: {expression}"),
            hint="check the column values (category labels are case-sensitive text)",
        )
    return matched


def wanted(frame: pd.DataFrame, ids: pd.Series | None, request: ExplainRequest) -> tuple[
    np.ndarray, list[str]
]:
    """The positions (in ``frame``, file order, no repeats) of the rows asked for, and notes.

    ``frame`` is the data as read (with the target; the id column already split off); the query
    runs on it with the id column put back, so it can name ids too.
    """
    notes: list[str] = []
    picked: list[int] = []
    if request.rows:
        if ids is None:
            over = [p for p in request.rows if int(p) >= len(frame)]
            if over:
                raise RowSelectionError(
                    f"--rows position {over[0]} is past the data's last row ({len(frame) - 1})",
                    hint="positions are 0-based: the first data row (after the header) is 0",
                )
            picked.extend(int(p) for p in request.rows)
        else:
            where = {v: i for i, v in enumerate(ids)}
            unknown = [str(r) for r in request.rows if str(r) not in where]
            if unknown:
                raise RowSelectionError(
                    printable(
                        f"--rows names ids not in column '{request.id_column}': "
                        + ", ".join(unknown[:5])
                    ),
                    hint=printable(f"ids look like: {', '.join(ids.iloc[:3])}"),
                )
            picked.extend(where[str(r)] for r in request.rows)
    if request.where is not None:
        data = frame if ids is None else frame.assign(**{request.id_column or "": ids.to_numpy()})
        matched = _query(data, request.where)
        room = MAX_CHOSEN_ROWS - len(picked)
        if len(matched) > room:
            notes.append(
                f"--where matched {len(matched)} rows; the first {room} are explained one by one"
            )
            matched = matched[:room]
        picked.extend(int(p) for p in matched)
    return np.array(list(dict.fromkeys(picked)), dtype=int), notes


def describe_request(request: ExplainRequest) -> str:
    """What the selection asked for, as the command line would say it."""
    parts = []
    if request.rows:
        parts.append("--rows " + ",".join(map(str, request.rows)))
    if request.where is not None:
        parts.append(f"--where {request.where}")
    if request.id_column is not None:
        parts.append(f"--id-column {request.id_column}")
    return "; ".join(parts)
