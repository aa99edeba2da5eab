"""The README works exactly as written: every shell command in its fenced ``bash`` blocks is run,
in order, in a copy of the repository's layout (``sample_data/``, ``sample_models/``,
``configs/``), as a user following it from the repository root would.

``xai`` commands run in process (the ``xai`` fixture's runner), on the sample data cut to its
first :data:`ROWS` rows so the whole README runs in seconds; the sample models are the session's
(``sample_models`` fixture). What is not run here is listed in :data:`NOT_RUN` with the reason
(installs, make targets, a remote scheduler), and the heavy commands in :data:`HEAVY` run only with
``XAI_README_HEAVY=1``; both show as skipped lines in the test output. A command that is in none
of these and fails (exit code, or a missing file) fails the test, naming it:
``test_a_broken_example_fails`` shows it on a README copy with the ``--target`` the second example
once lacked removed again.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import ROOT, run_xai

README = ROOT / "README.md"
ROWS = 300
"""Rows of each sample data file the README's commands run on (the first ones)."""

FENCE = re.compile(
    r"^(?P<indent> *)```(?:bash|sh|shell)\n(?P<body>.*?)^(?P=indent)```", re.S | re.M
)

NOT_RUN: dict[str, str] = {
    "make ": "a make target sets up its own virtualenv and runs for minutes; CI runs "
    "`make test` and `make lint`, `make bench` is run by hand",
    "pipx install": "installs from the package index; tests/test_wheel.py installs the built wheel",
    "uv tool install": "installs from the package index; tests/test_wheel.py installs the built "
    "wheel",
    "pip install": "installs from the package index; tests/test_wheel.py installs the built wheel",
    "--scheduler tcp://": "needs a Dask scheduler running at that address",
}
"""Commands (by a piece of their text) that this test does not run, with why."""

HEAVY: dict[str, str] = {
    "xai audit": "each audit explains, then reruns permutation 30 times (noise floor) and every "
    "method on 20 resamples (stability): about 35 s each on 2 shared cores",
    "xai run configs/batch.yaml": "14 jobs in worker processes",
    "--engine dask": "starts a Dask LocalCluster of worker processes",
}
"""Commands run only with ``XAI_README_HEAVY=1`` (they start processes), with why."""


@dataclass(frozen=True)
class Command:
    """One shell command line of the README, without its comment."""

    line: str
    argv: tuple[str, ...]
    stdout_to: str | None


def commands(text: str) -> list[Command]:
    """Every command of the README's bash blocks, in order (comments dropped, ``> FILE`` kept)."""
    found = []
    for block in FENCE.finditer(text):
        body = re.sub(r"\\\n\s*", " ", block.group("body"))  # join continued lines
        for raw in body.splitlines():
            argv = shlex.split(raw, comments=True)
            if not argv:
                continue
            stdout_to = None
            if ">" in argv:
                at = argv.index(">")
                argv, stdout_to = argv[:at], argv[at + 1]
            found.append(Command(" ".join(argv), tuple(argv), stdout_to))
    return found


def why_not_run(command: Command, heavy: bool) -> str | None:
    """The reason ``command`` is not run here, or ``None`` when it is."""
    for piece, reason in NOT_RUN.items():
        if piece in command.line:
            return f"not run: {reason}"
    for piece, reason in HEAVY.items():
        if piece in command.line and not heavy:
            return f"heavy, run with XAI_README_HEAVY=1: {reason}"
    return None


def workspace(root: Path, models: Path) -> Path:
    """The repository layout the README's commands expect, with cut-down sample data."""
    (root / "sample_data").mkdir(parents=True)
    for path in (ROOT / "sample_data").iterdir():
        if path.suffix == ".csv":
            pd.read_csv(path, nrows=ROWS).to_csv(root / "sample_data" / path.name, index=False)
        elif path.suffix == ".parquet":
            pd.read_parquet(path).head(ROWS).to_parquet(root / "sample_data" / path.name)
    shutil.copytree(ROOT / "configs", root / "configs")
    (root / "sample_models").symlink_to(models, target_is_directory=True)
    return root


def run_command(command: Command, cwd: Path, runner: Callable[..., object]) -> str | None:
    """Run one command; ``None`` when it worked, else what went wrong."""
    argv = list(command.argv)
    if argv[:3] == ["python", "-m", "xai_cli"]:
        argv = ["xai", *argv[3:]]
    if argv[0] != "xai":
        return f"no runner for '{argv[0]}' (add it to NOT_RUN with the reason, or run it here)"
    result = runner(*argv[1:], cwd=cwd, env={"XAI_PROGRESS_INTERVAL": "600"})
    if result.code != 0:  # type: ignore[attr-defined]
        tail = result.stderr.strip().splitlines()[-3:]  # type: ignore[attr-defined]
        return f"exit {result.code}: " + " | ".join(tail)  # type: ignore[attr-defined]
    if command.stdout_to:
        (cwd / command.stdout_to).write_text(result.stdout)  # type: ignore[attr-defined]
    return None


def run_readme(text: str, cwd: Path, heavy: bool = False) -> tuple[list[str], list[str], list[str]]:
    """Run every command of ``text``: (the ones run, the ones not run with why, failures)."""
    ran, skipped, failed = [], [], []
    for command in commands(text):
        reason = why_not_run(command, heavy)
        if reason:
            skipped.append(f"{command.line}  ({reason})")
            continue
        start = time.perf_counter()
        problem = run_command(command, cwd, run_xai)
        ran.append(f"{command.line}  ({time.perf_counter() - start:.1f} s)")
        if problem:
            failed.append(f"{command.line}\n    {problem}")
    return ran, skipped, failed


@pytest.fixture(scope="module")
def layout(sample_models: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return workspace(tmp_path_factory.mktemp("readme"), sample_models)


def test_every_readme_command_runs(layout: Path, capsys: pytest.CaptureFixture[str]) -> None:
    heavy = os.environ.get("XAI_README_HEAVY") == "1"
    ran, skipped, failed = run_readme(README.read_text(), layout, heavy)
    with capsys.disabled():  # a reviewer sees which ran (pytest -s shows it; -rA too)
        print(f"\nREADME: {len(ran)} commands run, {len(skipped)} not run:")
        for line in ran:
            print(f"  + {line}")
        for line in skipped:
            print(f"  - {line}")
    assert not failed, "README commands that fail:\n" + "\n".join(failed)
    assert len(ran) >= 10 and len(ran) + len(skipped) >= 25  # the README's commands were found
    assert (layout / "reports" / "adult" / "report.html").exists()
    assert (layout / "configs" / "my-model.yaml").read_text().startswith("# xai run config")


def test_a_broken_example_fails(layout: Path) -> None:
    text = README.read_text()
    line = next(c.line for c in commands(text) if "--format json,html" in c.line)
    broken = f"```bash\n{line.replace('--target income ', '')}\n```\n"
    ran, _, failed = run_readme(broken, layout)
    assert ran and failed and "unexpected 'income'" in failed[0]


def test_unknown_commands_are_not_silently_passed() -> None:
    (command,) = commands("```bash\ncurl -fsSL example.invalid | sh   # not ours\n```\n")
    assert why_not_run(command, heavy=True) is None
    assert "no runner for 'curl'" in (run_command(command, Path("."), run_xai) or "")
