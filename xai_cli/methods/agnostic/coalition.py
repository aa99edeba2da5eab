"""The coalition engine: the model evaluated on masked rows, the one cost of every method here.

A *player* is one feature or a group of columns (a pipeline's raw column, or the encoded columns
of one categorical): a tuple of column names. A coalition is a boolean mask over the players.
The value of coalition ``S`` for explained row ``x`` is interventional:

    v_x(S) = mean over background rows b of f(x_S, b_rest)

the columns of the players in ``S`` taken from ``x``, every other column from ``b``. The masked
rows are built per column with ``take`` on the column's own array (numbers stay numbers,
categories stay categories, strings stay strings), so a pipeline that takes raw columns gets the
frame it was trained on. They are built in blocks of about :data:`BLOCK_ROWS` rows and predicted
block by block; blocks are fixed by the work, not by the number of workers, and run on joblib
threads (the prediction's BLAS releases the GIL), or as Dask tasks with ``--engine dask`` (the
game's ``task_map``: each task gets one block's rows, coalitions and background indices, the
builder and the model are sent to every worker once), so any ``n_jobs`` and any worker count give
identical numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

Predict = Callable[[pd.DataFrame], np.ndarray]
"""Rows in, raw outputs out: (rows, outputs). Usually ``adapter.predict_raw``."""
Player = tuple[str, ...]
TaskMap = Callable[..., list]
"""``task_map(fn, items, **shared)`` -> ``[fn(item, **shared) for item in items]``, run elsewhere
(Dask: :meth:`xai_cli.run.distributed.DaskSession.map`), in order."""
Reduce = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""(predictions (pairs, background, outputs), row index (pairs,)) -> (pairs, outputs')."""

BLOCK_ROWS = 1 << 17
"""Masked rows built and predicted at once (131,072): large enough that a prediction call's fixed
cost vanishes, small enough to stay within tens of MB per worker."""


def singletons(columns: Sequence[str]) -> tuple[Player, ...]:
    """One player per column."""
    return tuple((c,) for c in columns)


def player_name(player: Player) -> str:
    """How a player is labelled in outputs: its column, or its columns joined by ``+``."""
    return "+".join(player)


def check_players(players: Sequence[Player], columns: Sequence[str]) -> tuple[Player, ...]:
    """``players`` validated against the model's columns: every column in exactly one player.

    Raises ``ValueError`` naming unknown, repeated or uncovered columns.
    """
    players = tuple(tuple(p) for p in players)
    seen: list[str] = [c for p in players for c in p]
    unknown = sorted(set(seen) - set(columns))
    repeated = sorted({c for c in seen if seen.count(c) > 1})
    missing = [c for c in columns if c not in set(seen)]
    problems = []
    if any(len(p) == 0 for p in players):
        problems.append("a group is empty")
    if unknown:
        problems.append(f"unknown columns {unknown}")
    if repeated:
        problems.append(f"columns in more than one group {repeated}")
    if missing:
        problems.append(f"columns in no group {missing}")
    if problems:
        raise ValueError("feature groups: " + "; ".join(problems))
    return players


def _combined(background: pd.DataFrame, X: pd.DataFrame, column: str) -> object:
    """The background's then the explained rows' values of one column as one array, its dtype
    kept (categoricals with different categories are united, not turned into objects)."""
    a, b = background[column], X[column]
    if isinstance(a.dtype, pd.CategoricalDtype) and isinstance(b.dtype, pd.CategoricalDtype):
        from pandas.api.types import union_categoricals

        return union_categoricals([a.array, b.array], ignore_order=True)
    joined = pd.concat([a, b], ignore_index=True)
    if isinstance(joined.dtype, np.dtype) and joined.dtype.kind in "biuf":
        return joined.to_numpy()  # plain numbers: numpy's take is the fastest
    return joined.array


Builder = Callable[[np.ndarray, np.ndarray, np.ndarray], pd.DataFrame]
"""(row of each pair (pairs,), its coalition (pairs, players), its background rows (pairs, k)) ->
the masked frame: for each pair, one row per background row, in pair-major order."""


def _masked_builder(background: pd.DataFrame, X: pd.DataFrame, owner: np.ndarray) -> Builder:
    """How masked frames are built for these rows: one vectorised ``where`` over a 2-D array
    when every column has one numeric dtype (the common case, and the fastest), else a ``take``
    per column on each column's own array (categories, strings, mixed types keep their dtype)."""
    m, columns = len(background), list(background.columns)
    dtypes = set(background.dtypes) | set(X.dtypes)
    if len(dtypes) == 1 and isinstance(first := next(iter(dtypes)), np.dtype) and (
        first.kind in "biuf"
    ):
        bg, rows = background.to_numpy().T, X.to_numpy().T  # columns first, as pandas keeps them

        def numeric(row: np.ndarray, chosen: np.ndarray, sub: np.ndarray) -> pd.DataFrame:
            keep = chosen[:, owner].T[:, :, None]  # columns x pairs x 1
            out = np.where(keep, rows[:, row][:, :, None], bg[:, sub])  # columns x pairs x k
            return pd.DataFrame(out.reshape(len(columns), -1).T, columns=columns, copy=False)

        return numeric
    arrays = {col: _combined(background, X, col) for col in columns}

    def mixed(row: np.ndarray, chosen: np.ndarray, sub: np.ndarray) -> pd.DataFrame:
        index = [np.where(chosen[:, p, None], m + row[:, None], sub).ravel()
                 for p in range(chosen.shape[1])]  # fmt: skip
        return pd.DataFrame({col: arrays[col].take(index[owner[j]])  # type: ignore[attr-defined]
                             for j, col in enumerate(columns)})  # fmt: skip

    return mixed


def _masked_block(
    item: tuple[np.ndarray, np.ndarray, np.ndarray],
    *,
    build: Builder,
    predict: Predict,
    reduce: Reduce | None = None,
) -> np.ndarray:
    """One block of masked rows built and predicted (a Dask task, or a thread's share): ``item``
    is (row of each pair, its coalition, its background rows); returns (pairs, outputs'), the
    mean over the background rows or ``reduce`` of them."""
    row, chosen, sub = item
    pred = np.asarray(predict(build(row, chosen, sub)), dtype=float)
    pred = pred.reshape(len(row), sub.shape[1], -1)
    return pred.mean(axis=1) if reduce is None else reduce(pred, row)


def _predict_rows(frame: pd.DataFrame, *, predict: Predict) -> np.ndarray:
    """``predict`` on one block of rows as floats (rows, outputs): a Dask task."""
    out = np.asarray(predict(frame), dtype=float)
    return out.reshape(len(frame), -1)


@dataclass(frozen=True)
class Game:
    """The cooperative game of one model over a background sample: who plays, and how to score
    a coalition. ``columns`` are the model's input columns in its order."""

    predict: Predict
    columns: tuple[str, ...]
    players: tuple[Player, ...]
    background: pd.DataFrame
    n_jobs: int = 1
    block_rows: int = BLOCK_ROWS
    task_map: TaskMap | None = field(default=None, repr=False, compare=False)
    """Where blocks run: ``None`` in this process (``n_jobs`` threads), else as tasks on Dask."""
    _base: list[np.ndarray] = field(default_factory=list, repr=False, compare=False)

    @property
    def n_players(self) -> int:
        return len(self.players)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(player_name(p) for p in self.players)

    def base_value(self) -> np.ndarray:
        """The mean prediction over the background (outputs,): ``v(empty)`` for every row."""
        if not self._base:
            self._base.append(self.predict(self.background.loc[:, list(self.columns)]).mean(0))
        return self._base[0]

    def full_value(self, X: pd.DataFrame) -> np.ndarray:
        """``f(x)`` for every explained row (rows, outputs): ``v(all players)``."""
        return np.asarray(self.predict(X.loc[:, list(self.columns)]), dtype=float)

    def predict_rows(self, frame: pd.DataFrame) -> np.ndarray:
        """The model's raw outputs on ``frame`` (rows, outputs), predicted in blocks of
        ``block_rows`` rows: as Dask tasks when the game has a ``task_map``, else at once."""
        if self.task_map is None:
            return _predict_rows(frame, predict=self.predict)
        step = self.block_rows
        parts = [frame.iloc[i : i + step] for i in range(0, len(frame), step)]
        return np.concatenate(self.task_map(_predict_rows, parts, predict=self.predict), axis=0)

    def predictions_needed(self, rows: int, coalitions: int) -> int:
        """Model predictions (masked rows) that ``coalitions`` coalitions cost on ``rows`` rows."""
        return rows * coalitions * len(self.background)

    def values(
        self,
        X: pd.DataFrame,
        masks: np.ndarray,
        reduce: Reduce | None = None,
        background_index: np.ndarray | None = None,
    ) -> np.ndarray:
        """``v_x(S)`` for every explained row and coalition: (rows, coalitions, outputs).

        ``masks`` is (coalitions, players), shared by every row, or (rows, coalitions, players),
        one set per row. The empty and the full coalition are not predicted on masked rows:
        they are the base value and ``f(x)``. ``reduce`` replaces the mean over the background:
        it gets the predictions (pairs, background, outputs) and each pair's row index and
        returns (pairs, outputs'), e.g. a mean loss against each row's target; then every
        coalition is predicted on masked rows. ``background_index`` (coalitions, k): each
        coalition's value is averaged over these k background rows only (shared masks only), an
        unbiased estimate at k/background of the cost, for the sampling estimators.
        """
        masks = np.asarray(masks, dtype=bool)
        n, m = len(X), len(self.background)
        shared = masks.ndim == 2
        c = masks.shape[-2]
        if masks.shape[-1] != self.n_players or (not shared and masks.shape[0] != n):
            raise ValueError(f"masks of shape {masks.shape} for {n} rows, {self.n_players} players")
        per_row = masks if not shared else np.broadcast_to(masks, (n, *masks.shape))
        full, empty = per_row.all(axis=2), ~per_row.any(axis=2)  # rows x coalitions
        if reduce is not None:
            full, empty = np.zeros_like(full), np.zeros_like(empty)
        todo = np.flatnonzero(~(full | empty).ravel())  # (row, coalition) pairs, row-major
        X = X.loc[:, list(self.columns)].reset_index(drop=True)
        owner = np.array([next(i for i, p in enumerate(self.players) if col in p)
                          for col in self.columns])  # fmt: skip
        build = _masked_builder(self.background.loc[:, list(self.columns)], X, owner)
        if background_index is None:
            background_index = np.broadcast_to(np.arange(m), (c, m))
        elif not shared:
            raise ValueError("background_index needs one set of masks shared by every row")
        k = background_index.shape[1]
        step = max(1, self.block_rows // max(k, 1))
        blocks = [todo[i : i + step] for i in range(0, len(todo), step)]

        def item(pairs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            row, coal = np.divmod(pairs, c)
            return row, np.ascontiguousarray(per_row[row, coal]), background_index[coal]

        # the model (``self.predict``, one object per game) is sent to Dask workers once per run;
        # the builder, which holds this call's rows, once per call
        shared = {"build": build, "predict": self.predict,
                  **({} if reduce is None else {"reduce": reduce})}  # fmt: skip
        if self.task_map is not None and blocks:
            parts = self.task_map(_masked_block, [item(b) for b in blocks], **shared)
        elif self.n_jobs > 1 and len(blocks) > 1:
            from joblib import Parallel, delayed

            parts = Parallel(n_jobs=self.n_jobs, prefer="threads")(
                delayed(_masked_block)(item(b), **shared) for b in blocks
            )
        else:
            parts = [_masked_block(item(b), **shared) for b in blocks]
        if reduce is not None:
            return np.concatenate(parts, axis=0).reshape(n, c, -1)
        base = self.base_value()
        k = len(base)
        out = np.empty((n * c, k))
        if len(todo):
            out[todo] = np.concatenate(parts, axis=0)
        if empty.any():
            out[np.flatnonzero(empty.ravel())] = base
        if full.any():
            fx = self.full_value(X)
            rows_full = np.flatnonzero(full.ravel())
            out[rows_full] = fx[rows_full // c]
        return out.reshape(n, c, k)


def coalition_matrix(n_players: int) -> np.ndarray:
    """All ``2**M`` coalitions as a boolean (2**M, M) matrix; row ``code`` has bit ``j`` set when
    player ``j`` is in it."""
    codes = np.arange(1 << n_players)
    return ((codes[:, None] >> np.arange(n_players)[None, :]) & 1).astype(bool)
