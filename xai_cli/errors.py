"""One exception tree for every error a user can cause.

Each class carries the exit code, a short machine-readable code and a hint, so the CLI layer can
print ``error[code]: message`` / ``cause:`` / ``hint:`` without knowing where the error came from.
"""

from __future__ import annotations


class XaiError(Exception):
    """Base class: an error the user can fix. Exit code 2 unless a subclass says otherwise."""

    code: str = "error"
    exit_code: int = 2
    default_hint: str | None = None

    def __init__(self, message: str, *, hint: str | None = None, cause: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint if hint is not None else self.default_hint
        self.cause = cause


class UsageError(XaiError):
    """Bad command-line arguments or option values."""

    code = "usage"


class ParamError(UsageError, ValueError):
    """A method parameter is unknown, of the wrong type or out of range (``--param``, the API).

    Also a ``ValueError``, so Python callers can catch it as scikit-learn's invalid parameters.
    """


class MissingFileError(XaiError):
    """A path the user gave does not exist."""

    code = "missing-file"


class ModelLoadError(XaiError):
    """The file exists but is not a model this tool can read."""

    code = "model-load"


class RefusedPickleError(ModelLoadError):
    """The safe unpickler met a global outside the allow-list."""

    code = "refused-pickle"
    default_hint = (
        "only numpy, pandas, scipy, scikit-learn, xgboost, lightgbm and catboost classes load by "
        "default; if you trust this file, pass --trust-model"
    )


class UnsupportedModelError(ModelLoadError):
    """The object loaded but is not a model family this tool explains."""

    code = "unsupported-model"


class DataError(XaiError):
    """The data file is missing, empty, unreadable or has values the model cannot take."""

    code = "data"


class ColumnMismatchError(DataError):
    """The data's columns do not match the model's features."""

    code = "columns"


class MethodError(XaiError):
    """A requested method is unknown or cannot run on this model."""

    code = "method"


class TimeLimitError(MethodError):
    """A method the user named is estimated to take longer than the time limit."""

    code = "time-limit"


class NothingComputedError(XaiError):
    """Every method was skipped or failed, so there is nothing to report."""

    code = "nothing-computed"


class OutputError(XaiError):
    """A report or output file could not be written (no space left, read-only file system,
    permission denied, ...); nothing of the new set was put in place."""

    code = "output"
    default_hint = "free some space or pass another --out"


def printable(text: str) -> str:
    """``text`` with control and line-break characters escaped (``\\x1b``, ``\\n``), for user
    data (column names, YAML keys, library messages quoting file bytes) inside a one-line error,
    where they would split the line or redraw the terminal."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def describe(exc: BaseException, limit: int = 240) -> str:
    """``"TypeName: first line of the message"``, cut to ``limit`` characters, for ``cause:`` lines
    and failure reasons (library messages can run to pages)."""
    text = str(exc).strip()
    first = printable(text.splitlines()[0]) if text else ""
    return f"{type(exc).__name__}: {first}"[:limit] if first else type(exc).__name__
