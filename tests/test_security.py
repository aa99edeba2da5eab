"""A pickle runs code when loaded: the default loader must refuse anything but model classes."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import joblib
import pytest

from xai_cli.errors import RefusedPickleError
from xai_cli.load.models import is_allowed_global, load_model


class _RunsCommand:
    """Unpickling this calls os.system(command): the classic malicious pickle."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):  # noqa: ANN204 - pickle protocol
        return (os.system, (self.command,))


@pytest.mark.parametrize("suffix", [".pkl", ".joblib"])
def test_malicious_pickle_is_refused_and_does_not_run(tmp_path: Path, suffix: str, xai) -> None:
    marker = tmp_path / "pwned"
    model = tmp_path / f"evil{suffix}"
    payload = _RunsCommand(f"touch {marker}")
    if suffix == ".pkl":
        model.write_bytes(pickle.dumps(payload))
    else:
        joblib.dump(payload, model)
    data = tmp_path / "d.csv"
    data.write_text("a,b\n1,2\n")

    with pytest.raises(RefusedPickleError) as info:
        load_model(model)
    assert "posix.system" in str(info.value) or "os.system" in str(info.value)
    assert not marker.exists()

    run = xai("explain", str(model), str(data), "--out", str(tmp_path / "out"))
    assert run.code == 2
    assert run.stderr.startswith("error[refused-pickle]: refused to load global")
    assert "system" in run.stderr and "--trust-model" in run.stderr
    assert "Traceback" not in run.stderr
    assert not marker.exists()
    assert not (tmp_path / "out").exists()


def test_trust_model_really_does_a_full_load(tmp_path: Path) -> None:
    """The opt-in exists and works: with trust the payload runs (which is why it is opt-in)."""
    marker = tmp_path / "ran"
    model = tmp_path / "evil.pkl"
    model.write_bytes(pickle.dumps(_RunsCommand(f"touch {marker}")))
    with pytest.warns(UserWarning, match="trust-model"):
        load_model(model, trust=True)
    assert marker.exists()


@pytest.mark.parametrize(
    ("module", "name", "allowed"),
    [
        ("sklearn.ensemble._forest", "RandomForestClassifier", True),
        ("numpy", "ndarray", True),
        ("numpy._core.multiarray", "_reconstruct", True),
        ("builtins", "eval", False),
        ("builtins", "getattr", False),
        ("os", "system", False),
        ("subprocess", "Popen", False),
        ("numpy", "load", False),  # a function, not a class
        ("pandas", "read_pickle", False),  # would load another, unchecked pickle
        ("numpy", "memmap", False),  # a class that writes files
        ("xgboost.sklearn", "XGBClassifier", True),
        ("sklearnx", "Anything", False),
    ],
)
def test_allow_list(module: str, name: str, allowed: bool) -> None:
    assert is_allowed_global(module, name) is allowed


def test_sample_models_load_safely(sample_models: Path) -> None:
    """Every sample model (pickled with joblib by the real libraries) passes the safe loader."""
    paths = sorted(sample_models.glob("*.joblib"))
    assert len(paths) == 8
    for path in paths:
        loaded = load_model(path)
        assert loaded.trusted is False
        assert len(loaded.sha256) == 64
