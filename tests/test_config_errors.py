"""Malformed ``xai run`` configs: every problem at once, each at ``file:line key.path``, exit 2,
no traceback, nothing run and no output folder left behind."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import SAMPLE_DATA
from xai_cli.config.load import load_plan


@pytest.fixture
def folder(tmp_path: Path, sample_models: Path) -> Path:
    shutil.copy(sample_models / "adult_xgboost.joblib", tmp_path / "model.joblib")
    shutil.copy(SAMPLE_DATA / "adult.csv", tmp_path / "adult.csv")
    return tmp_path


GOOD = """\
schema_version: 1
output:
  folder: out
  top_k: 5
jobs:
  - name: first
    model: model.joblib
    data:
      path: adult.csv
      target: income
    methods: [treeshap, xgboost.gain]
"""


def run_config(folder: Path, text: str, xai, *args: str, env: dict | None = None):
    path = folder / "a.yaml"
    path.write_text(text, encoding="utf-8")
    return xai("run", str(path), *args, env=env)


def assert_config_error(run, folder: Path, *lines: str) -> None:
    """Exit 2, the ``error[config]`` line, every expected ``a.yaml:N path: message`` line."""
    assert run.code == 2, run.stderr
    assert run.stderr.startswith("error[config]: "), run.stderr
    shown = str(folder / "a.yaml")
    for line in lines:
        assert f"{shown}:{line}" in run.stderr, run.stderr
    assert "Traceback" not in run.stderr
    assert run.stdout == ""
    assert not (folder / "out").exists()


def test_good_config_validates(folder: Path) -> None:
    (folder / "a.yaml").write_text(GOOD, encoding="utf-8")
    plan = load_plan(folder / "a.yaml")
    assert [j.name for j in plan.jobs] == ["first"]
    assert plan.jobs[0].model_path == folder / "model.joblib"
    assert plan.out_dir == folder / "out"


def test_bad_yaml_points_at_line_and_column(folder: Path, xai) -> None:
    run = run_config(folder, GOOD.replace("methods: [treeshap,", "methods: [treeshap,,"), xai)
    assert_config_error(run, folder, "11:")
    assert "invalid YAML" in run.stderr


def test_wrong_types_unknown_keys_and_methods_all_at_once(folder: Path, xai) -> None:
    text = (
        GOOD.replace("  top_k: 5", '  top_k: "5"')
        .replace("    model: model.joblib", "    modle: model.joblib")
        .replace("xgboost.gain]", "xgboost.gian]")
    )
    run = run_config(folder, text, xai)
    assert_config_error(
        run,
        folder,
        "4 output.top_k: expected a valid integer, got text '5'",
        "7 jobs[0].modle: unknown key 'modle' (did you mean 'model'?)",
        "11 jobs[0].methods[1]: unknown method 'xgboost.gian' (did you mean 'xgboost.gain'?)",
        "6 jobs[0]: missing required key 'model'",
    )
    assert run.stderr.startswith("error[config]: 4 problems in ")


def test_missing_files_and_bad_sha256(folder: Path, xai) -> None:
    digest = hashlib.sha256((folder / "model.joblib").read_bytes()).hexdigest()
    text = GOOD.replace("    model: model.joblib", f"    model:\n      path: model.joblib\n"
                        f"      sha256: {'ab' * 32}")  # fmt: skip
    text += "  - model: nope.joblib\n    data: missing.csv\n"
    run = run_config(folder, text, xai)
    assert_config_error(
        run,
        folder,
        "9 jobs[0].model.sha256: SHA-256 mismatch for model.joblib: the file's is " + digest,
        "14 jobs[1].model.path: model file not found: nope.joblib",
        "15 jobs[1].data.path: data file not found: missing.csv",
    )
    right = text.replace("ab" * 32, digest).split("  - model: nope")[0]
    assert run_config(folder, right, xai, "--max-rows", "100", "-q").code == 0


def test_unset_environment_variable(folder: Path, xai) -> None:
    text = GOOD.replace("model: model.joblib", "model: ${MODELS}/model.joblib")
    missing = run_config(folder, text.replace("${MODELS}", "${XAI_NOT_SET_ANYWHERE}"), xai)
    assert_config_error(
        missing,
        folder,
        "7 jobs[0].model.path: environment variable 'XAI_NOT_SET_ANYWHERE' is not set",
    )
    ok = run_config(
        folder, text, xai, "--max-rows", "100", "-q", env={"MODELS": str(folder)}
    )
    assert ok.code == 0, ok.stderr


def test_unquoted_numeric_sha256_gets_a_hint(folder: Path, xai) -> None:
    text = GOOD.replace("    model: model.joblib", "    model:\n      path: model.joblib\n"
                        "      sha256: 1234")  # fmt: skip
    run = run_config(folder, text, xai)
    assert_config_error(run, folder, "9 jobs[0].model.sha256: YAML read this SHA-256 as an integer")


def test_duplicate_keys_and_job_names(folder: Path, xai) -> None:
    text = GOOD.replace("  top_k: 5", "  top_k: 5\n  top_k: 6")
    text += "  - name: first\n    model: model.joblib\n    data: adult.csv\n"
    run = run_config(folder, text, xai)
    assert_config_error(
        run,
        folder,
        "5 output.top_k: duplicate key 'top_k'",
        "13 jobs[1].name: duplicate job name 'first'",
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "1: the config is empty"),
        ("- just\n- a list\n", "1: the config is a list, not a mapping"),
        (GOOD.replace("schema_version: 1", "schema_version: 2"), "1 schema_version: unsupported"),
        (GOOD.replace("model: model.joblib", "model: model.onnx"), "7 jobs[0].model.path: unknown"),
        (GOOD.replace("jobs:\n", "jobs: []\nx:\n"), "5 jobs: "),
        (GOOD + "    params: {xgboost.gain: {a: 1}}\n", "12 jobs[0].params.xgboost.gain: method"),
    ],
)
def test_more_malformed_configs(folder: Path, text: str, expected: str, xai) -> None:
    assert_config_error(run_config(folder, text, xai), folder, expected)


def test_method_params_reach_the_methods_and_typos_are_caught(folder: Path, xai) -> None:
    text = GOOD.replace("methods: [treeshap, xgboost.gain]", "methods: [treeshap]")
    text += "    params:\n      treeshap: {engine: native}\n"
    run = run_config(folder, text, xai, "--max-rows", "100", "-q")
    assert run.code == 0, run.stderr
    report = json.loads((folder / "out" / "first" / "report.json").read_text(encoding="utf-8"))
    (treeshap,) = [m for m in report["methods"] if m["method"] == "treeshap"]
    assert treeshap["library"] == "xgboost"  # the library's own, as asked
    shutil.rmtree(folder / "out")
    typo = text + "      treeshap.interventional: {backgroud_rows: 5}\n      treshap: {}\n"
    assert_config_error(
        run_config(folder, typo, xai),
        folder,
        "14 jobs[0].params.treeshap.interventional.backgroud_rows: unknown key 'backgroud_rows' "
        "(did you mean 'background_rows'?)",
        "15 jobs[0].params.treshap: unknown key 'treshap' (did you mean 'treeshap'?)",
    )
