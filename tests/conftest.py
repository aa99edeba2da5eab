"""Shared fixtures: the real sample models, trained once per test session, and a CLI runner."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    """The outcome of one real ``xai`` process."""

    code: int
    stdout: str
    stderr: str


def run_xai(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> Run:
    """Run ``python -m xai_cli ARGS`` in a subprocess, as a user would run ``xai``."""
    full_env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-m", "xai_cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        env=full_env,
        timeout=600,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def xai():
    """The CLI runner as a fixture."""
    return run_xai


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
