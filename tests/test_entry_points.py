"""The two real entry points (the ``xai`` console script and ``python -m xai_cli``) in processes of
their own, and the guard that keeps the CLI quick to start: importing it, or asking any command
for ``--help``, loads none of the heavy libraries. Every other CLI test runs in process
(``tests/conftest.py``: ``run_xai``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, SAMPLE_DATA, run_xai_process
from xai_cli import __version__

pytestmark = pytest.mark.process

HEAVY = (
    "numpy",
    "pandas",
    "pyarrow",
    "scipy",
    "sklearn",
    "joblib",
    "xgboost",
    "lightgbm",
    "catboost",
    "shap",
    "numba",
    "dask",
    "distributed",
)
"""Libraries that take tenths of a second to seconds to import: only a command that runs them
loads them. (pydantic is not among them: typer itself builds its parameter types with it.)"""

COMMANDS = ("explain", "methods", "run", "init", "schema", "audit", "diff")


def imported_after(code: str) -> set[str]:
    """The top-level packages in ``sys.modules`` after a fresh interpreter runs ``code``."""
    probe = (
        f"import json, sys\n{code}\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    return set(json.loads(proc.stdout.splitlines()[-1]))


def test_importing_the_cli_loads_no_heavy_library() -> None:
    loaded = imported_after("import xai_cli, xai_cli.cli, xai_cli.__main__")
    assert not loaded & set(HEAVY), f"imported at start-up: {sorted(loaded & set(HEAVY))}"
    assert not loaded & {"rich"}, "rich is imported by the commands that print with it"


def test_help_of_every_command_loads_no_heavy_library() -> None:
    every = [["--help"], *([c, "--help"] for c in COMMANDS)]
    loaded = imported_after(
        "import contextlib, io\n"
        "from xai_cli.cli import app\n"
        f"for args in {every!r}:\n"
        "    with contextlib.redirect_stdout(io.StringIO()) as shown:\n"
        "        try:\n"
        "            app(args, prog_name='xai')\n"
        "        except SystemExit as exc:\n"
        "            assert exc.code == 0, (args, exc.code)\n"
        "    assert 'Usage: xai' in shown.getvalue(), args\n"
    )
    assert not loaded & set(HEAVY), f"imported for --help: {sorted(loaded & set(HEAVY))}"


def test_console_script_and_module_print_the_version() -> None:
    for run in (run_xai_process("--version", script=True), run_xai_process("--version")):
        assert run.code == 0, run.stderr
        assert run.stdout == f"xai-cli {__version__}\n"


def test_error_exit_status_through_both_entry_points(tmp_path: Path) -> None:
    args = ("explain", str(tmp_path / "nope.pkl"), str(SAMPLE_DATA / "adult.csv"))
    for run in (run_xai_process(*args, script=True), run_xai_process(*args)):
        assert run.code == 2
        assert run.stderr.startswith("error[missing-file]:")
        assert "Traceback" not in run.stderr
