"""How errors reach the terminal: ``error[code]: message``, ``cause:``, ``hint:``, exit code.

No traceback unless ``--debug``. Unexpected exceptions are internal errors (exit 2) with a hint to
rerun with ``--debug``.
"""

from __future__ import annotations

import contextlib
import sys
import traceback
from collections.abc import Iterator

import typer

from xai_cli.errors import UsageError, XaiError, describe


def print_error(code: str, message: str, cause: str | None, hint: str | None) -> None:
    """Write one error in the CLI's format to stderr."""
    lines = [f"error[{code}]: {message}"]
    if cause:
        lines.append(f"  cause: {cause}")
    if hint:
        lines.append(f"  hint: {hint}")
    sys.stderr.write("\n".join(lines) + "\n")


@contextlib.contextmanager
def error_boundary(debug: bool) -> Iterator[None]:
    """Turn :class:`XaiError` and unexpected exceptions into a message and an exit code."""
    try:
        yield
    except typer.Exit:
        raise
    except XaiError as exc:
        if debug:
            traceback.print_exc(file=sys.stderr)
        print_error(exc.code, exc.message, exc.cause, exc.hint)
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        raise typer.Exit(130) from None
    except Exception as exc:  # anything else is a bug: say so, keep the trace for --debug
        if debug:
            traceback.print_exc(file=sys.stderr)
        print_error(
            "internal",
            f"unexpected {describe(exc, 300)}",
            None,
            "rerun with --debug for the traceback, and report it if the input looks right",
        )
        raise typer.Exit(2) from None


def check_choice(value: str, option: str, choices: tuple[str, ...]) -> None:
    """A :class:`UsageError` naming the choices when ``value`` is not one of them."""
    if value not in choices:
        raise UsageError(f"unknown {option} '{value}'", hint=f"use one of: {', '.join(choices)}")
