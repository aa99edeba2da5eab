"""Installs like any Python tool: the built wheel, installed into a fresh virtualenv, runs.

One test, marked ``process`` (about 30-60 s: a build, a virtualenv, an install, two real runs).
The virtualenv sees this environment's packages (a ``.pth`` line to its site-packages), so
nothing is downloaded, but the wheel is installed into the new virtualenv itself and the runs
start outside the checkout, so they import the installed package, not the working tree, and use
its data files (templates, the starter config) and its console script.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT, SAMPLE_DATA


def _run(*command: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run([str(c) for c in command], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env=env)  # fmt: skip
    assert proc.returncode == 0, f"{command}: exit {proc.returncode}\n{proc.stderr[-3000:]}"
    return proc.stdout + proc.stderr


@pytest.mark.process
def test_built_wheel_installs_and_runs(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    # --no-isolation: build with this environment's setuptools (the test extra pins it), offline
    _run(sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", dist, ROOT,
         cwd=tmp_path)  # fmt: skip
    (wheel,) = dist.glob("xai_cli-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "xai_cli/reports/templates/report.html.j2" in names
    assert any(n.endswith("licenses/LICENSE") for n in names)
    assert not any(n.startswith("tests/") for n in names)

    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", "--system-site-packages", venv, cwd=tmp_path)
    bin_dir = venv / "bin"
    # this environment's packages (the dependencies) after the new venv's own: a plain path line,
    # so this environment's own .pth files (an editable xai-cli) are not processed there
    (site,) = (venv / "lib").glob("python3*/site-packages")
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run(bin_dir / "python", "-m", "pip", "install", "--no-deps", "--no-index", "--quiet", wheel,
         cwd=tmp_path)  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(NO_COLOR="1", PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}")
    where = _run(bin_dir / "python", "-c", "import xai_cli; print(xai_cli.__file__)",
                 cwd=tmp_path, env=env)  # fmt: skip
    assert where.strip().startswith(str(venv)), where

    assert _run(bin_dir / "xai", "--version", cwd=tmp_path, env=env).startswith("xai-cli ")
    import joblib
    import pandas as pd
    from sklearn.ensemble import RandomForestClassifier

    frame = pd.read_csv(SAMPLE_DATA / "adult_numeric.csv")
    y = frame.pop("income")
    model = RandomForestClassifier(10, max_depth=5, random_state=0).fit(frame, y)
    joblib.dump(model, tmp_path / "model.joblib")
    # methods the installed package runs without compiling its numba kernels (a fresh install
    # would compile them: `xai warmup`, measured by benchmarks/first_run.py)
    out = _run(bin_dir / "xai", "explain", tmp_path / "model.joblib",
               SAMPLE_DATA / "adult_numeric.csv", "--target", "income", "--methods",
               "sklearn.impurity,permutation", "--max-rows", "1000", "--out", tmp_path / "r",
               cwd=tmp_path, env=env)  # fmt: skip
    assert "reports written to" in out
    assert (tmp_path / "r" / "report.html").read_text().lower().startswith("<!doctype html>")
