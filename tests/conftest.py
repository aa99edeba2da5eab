"""Shared fixtures: the real sample models, trained once per test session, and the CLI runners
(in process for speed, in a real process where only a process will do)."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import subprocess
import sys
import tempfile
import traceback
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pytest
from hypothesis import settings

# Hypothesis (the fuzz tests): by default the same examples on every run, so CI is reproducible;
# XAI_FUZZ_PROFILE=xai-explore draws fresh ones (with XAI_FUZZ_EXAMPLES=N to search harder).
settings.register_profile("xai-ci", derandomize=True, database=None, deadline=None, print_blob=True)
settings.register_profile("xai-explore", deadline=None)
settings.load_profile(os.environ.get("XAI_FUZZ_PROFILE", "xai-ci"))

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_DATA = ROOT / "sample_data"
CHROMIUM = Path("/usr/bin/chromium")
XAI_SCRIPT = Path(sys.executable).parent / "xai"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def sample_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Train the sample models with the same script ``make demo`` uses, into a temp folder."""
    spec = importlib.util.spec_from_file_location("train_models", SAMPLE_DATA / "train_models.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path_factory.mktemp("sample_models")
    assert module.main(["--out", str(out)]) in (0, None)
    return out


@dataclass(frozen=True)
class Run:
    """The outcome of one ``xai`` invocation: exit code and what it wrote to stdout and stderr."""

    code: int
    stdout: str
    stderr: str


CLI_ENV = {"NO_COLOR": "1", "COLUMNS": "200", "XAI_PROGRESS_INTERVAL": "3600"}
"""Set for every invocation, in process or not: plain text, tables wide enough to assert on, and
no progress lines in a slow run's stderr (tests/test_progress.py sets a short interval)."""

PROCESS_WARNING_FILTERS = (
    ("default", DeprecationWarning, "__main__"),
    ("ignore", DeprecationWarning, ""),
    ("ignore", PendingDeprecationWarning, ""),
    ("ignore", ImportWarning, ""),
    ("ignore", ResourceWarning, ""),
)
"""The warning filters a fresh ``python`` process starts with (no ``-W``, no dev mode)."""


def _write_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: IO[str] | None = None,
    line: str | None = None,
) -> None:
    """Print a warning to the current ``sys.stderr``, as the interpreter's default hook does."""
    sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


@contextlib.contextmanager
def _process_like_warnings() -> Iterator[None]:
    """Warnings shown on stderr under a fresh process's filters, not collected by pytest."""
    with warnings.catch_warnings():
        warnings.resetwarnings()  # also forgets which warnings were already shown once
        for action, category, module in PROCESS_WARNING_FILTERS:
            warnings.filterwarnings(action, category=category, module=module, append=True)
        warnings.showwarning = _write_warning
        yield


@contextlib.contextmanager
def _captured_stdio(captured: dict[int, str]) -> Iterator[None]:
    """File descriptors 1 and 2 point at temp files for the duration, and ``sys.stdout`` /
    ``sys.stderr`` write straight through to them; on exit ``captured[1]`` and ``captured[2]``
    hold what was written.

    Capturing the descriptors, not just Python's streams (as click's ``CliRunner`` does with
    in-memory buffers), keeps what C++ libraries print to fd 2 in order with Python's own output,
    and lets code that redirects ``sys.stderr.fileno()`` (the model loader holds back LightGBM's
    ``[Fatal]`` lines that way) behave as it does in a real process.
    """
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    streams = sys.stdout, sys.stderr
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        sinks = {1: out, 2: err}
        saved = {fd: os.dup(fd) for fd in sinks}
        try:
            for fd, sink in sinks.items():
                os.dup2(sink.fileno(), fd)
            sys.stdout = io.TextIOWrapper(
                io.FileIO(1, "w", closefd=False), encoding="utf-8", write_through=True
            )
            sys.stderr = io.TextIOWrapper(
                io.FileIO(2, "w", closefd=False),
                encoding="utf-8",
                errors="backslashreplace",
                write_through=True,
            )
            yield
        finally:
            for stream in (sys.stdout, sys.stderr):
                stream.flush()
            sys.stdout, sys.stderr = streams
            for fd, copy in saved.items():
                os.dup2(copy, fd)
                os.close(copy)
        for fd, sink in sinks.items():
            sink.seek(0)
            captured[fd] = sink.read().decode("utf-8", "replace")


def run_xai(
    *args: str, cwd: Path | None = None, env: dict[str, str | None] | None = None
) -> Run:
    """Run ``xai ARGS`` in this process, as the console script would in its own.

    The same entry point (``xai_cli.cli.app``, exit code through ``SystemExit``), working
    directory ``cwd`` (default: the repository root), ``env`` on top of this environment (``None``
    removes a variable), stdout and stderr captured at the file descriptors, warnings shown on
    stderr under a fresh process's filters, and an exception that escapes printed as the
    interpreter would with exit code 1. Nothing is imported again, so each call costs only what
    the command does. Tests that need a real process use :func:`run_xai_process`.
    """
    from xai_cli.cli import app

    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(cwd or ROOT)
        for key, value in {**CLI_ENV, **(env or {})}.items():
            if value is None:
                patch.delenv(key, raising=False)
            else:
                patch.setenv(key, value)
        captured: dict[int, str] = {}
        with _captured_stdio(captured), _process_like_warnings():
            try:
                app(args=list(args), prog_name="xai")
                code = 0
            except SystemExit as exc:
                if exc.code is None or isinstance(exc.code, int):
                    code = exc.code or 0
                else:  # sys.exit("message"): printed to stderr, exit status 1
                    sys.stderr.write(f"{exc.code}\n")
                    code = 1
            except Exception:  # what the interpreter does with an uncaught exception
                traceback.print_exc(file=sys.stderr)
                code = 1
    return Run(code, captured[1], captured[2])


def run_xai_process(
    *args: str,
    cwd: Path | None = None,
    env: dict[str, str | None] | None = None,
    script: bool = False,
) -> Run:
    """Run ``python -m xai_cli ARGS`` (or, with ``script``, the installed ``xai`` console script)
    in a subprocess: for what only a real process shows (its exit status through the entry
    point, signals, start-up). Slower than :func:`run_xai` by the interpreter's start-up."""
    full_env = {**os.environ, **CLI_ENV}
    # the console script imports this checkout's package even where it was installed from another
    paths = [str(ROOT), os.environ.get("PYTHONPATH", "")]
    full_env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    for key, value in (env or {}).items():
        if value is None:
            full_env.pop(key, None)
        else:
            full_env[key] = value
    if script:
        assert XAI_SCRIPT.exists(), "install the package (make setup) so the `xai` script exists"
        command = [str(XAI_SCRIPT), *args]
    else:
        command = [sys.executable, "-m", "xai_cli", *args]
    proc = subprocess.run(
        command, capture_output=True, text=True, cwd=cwd or ROOT, env=full_env, timeout=600
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def xai():
    """Run ``xai ARGS`` in process (:func:`run_xai`)."""
    return run_xai


@pytest.fixture
def xai_process():
    """Run ``xai ARGS`` in a real process (:func:`run_xai_process`)."""
    return run_xai_process


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "process: starts a real xai process, for what only a process shows (the console "
        "script's exit status, signals, a killed worker, start-up imports)",
    )


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's chromium driven by Playwright (``make test`` installs it)."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found: the browser tests need Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture(scope="session")
def audit_models(sample_models: Path, tmp_path_factory: pytest.TempPathFactory):
    """The audit tests' models (clean, leaky, pure-noise column, retrained, shuffled labels)."""
    from tests.audit_models import train_audit_models

    return train_audit_models(sample_models, tmp_path_factory.mktemp("audit_models"))
