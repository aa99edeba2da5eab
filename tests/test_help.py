"""Help that teaches: placeholders rather than Python types, examples in every command's help,
shell completion, ``xai methods`` readable at 80 columns, NO_COLOR and FORCE_COLOR honoured."""

from __future__ import annotations

import re
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.tree import DecisionTreeClassifier

from xai_cli.cli import app
from xai_cli.methods import REGISTRY

COMMANDS = sorted(info.name for info in app.registered_commands if info.name)
TYPE_NOISE = re.compile(r"<(?:str|int|float|bool|path|list\[[a-z]+\])>|\{[a-z]+\}|``")


@pytest.mark.parametrize("command", ["", *COMMANDS])
def test_help_has_no_type_noise_and_shows_examples(xai, command: str) -> None:
    run = xai(*([command] if command else []), "--help", env={"COLUMNS": "80"})
    assert run.code == 0, run.stderr
    assert not TYPE_NOISE.findall(run.stdout), run.stdout
    if command:
        assert "Examples:" in run.stdout
        examples = run.stdout.split("Examples:", 1)[1].strip().splitlines()
        assert examples and all(e.strip().startswith("xai ") for e in examples if e.strip())
    else:
        assert "--install-completion" in run.stdout


def test_placeholders_say_what_to_type(xai) -> None:
    out = xai("explain", "--help", env={"COLUMNS": "100"}).stdout
    for shown in ("-t, --target COL", "--max-rows N|all", "--param METHOD:KEY=VALUE",
                  "Usage: xai explain [OPTIONS] MODEL DATA"):  # fmt: skip
        assert shown in out


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(100, 3)), columns=["a", "b", "c"])
    path = tmp_path_factory.mktemp("help") / "tree.joblib"
    joblib.dump(DecisionTreeClassifier(max_depth=2).fit(X, X["a"] > 0), path)
    return path


def test_methods_keeps_every_id_whole_at_80_columns(xai, tiny_model: Path) -> None:
    run = xai("methods", str(tiny_model), env={"COLUMNS": "80"})
    assert run.code == 0, run.stderr
    assert max(len(line) for line in run.stdout.splitlines()) <= 80
    for name in REGISTRY:
        assert re.search(rf"│ {re.escape(name)} +│", run.stdout), name


def test_no_color_and_force_color(xai, tiny_model: Path) -> None:
    forced = xai("methods", str(tiny_model), env={"NO_COLOR": None, "FORCE_COLOR": "1"})
    assert "\x1b[" in forced.stdout  # colour although stdout is not a terminal
    plain = xai("methods", str(tiny_model), env={"NO_COLOR": "1", "FORCE_COLOR": None})
    assert "\x1b[" not in plain.stdout
