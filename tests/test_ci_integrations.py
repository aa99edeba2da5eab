"""The CI integrations do what they say: the GitHub Action (action.yml and its script), the GitLab
template, the pre-commit hook and the container image.

Each is run for its own logic with a stand-in ``xai`` that records its arguments and writes the
files a real audit writes (the audit itself is tested in tests/test_audit_*.py): which arguments
reach ``xai audit``, what the step publishes, which exit code comes out.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, run_xai

SCRIPT = ROOT / "ci" / "xai-audit.sh"
STUB = """#!/usr/bin/env bash
printf '%s\\n' "$@" > "$STUB_ARGV"
out=xai-audit
while [ $# -gt 0 ]; do [ "$1" = --out ] && out=$2; shift; done
if [ "${STUB_WRITE:-1}" = 1 ]; then
  mkdir -p "$out"; echo '<testsuites/>' > "$out/audit.junit.xml"; echo '# audit' > "$out/audit.md"
fi
exit "${STUB_CODE:-0}"
"""


@pytest.fixture
def stub(tmp_path: Path) -> dict[str, str]:
    """A stand-in ``xai`` (``XAI_BIN``) that records its arguments in ``STUB_ARGV``."""
    path = tmp_path / "xai"
    path.write_text(STUB)
    path.chmod(0o755)
    return {"XAI_BIN": str(path), "STUB_ARGV": str(tmp_path / "argv"), "PATH": "/usr/bin:/bin"}


def _bash(script: str | Path, env: dict[str, str], cwd: Path) -> tuple[int, str]:
    command = ["bash", str(script)] if isinstance(script, Path) else ["bash", "-c", script]
    proc = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=30)
    return proc.returncode, proc.stderr


def _argv(env: dict[str, str]) -> list[str]:
    return Path(env["STUB_ARGV"]).read_text().splitlines()


def test_action_script_passes_inputs_and_publishes_outputs(stub, tmp_path: Path) -> None:
    (tmp_path / "base").mkdir()
    outputs = tmp_path / "github_output"
    env = {**stub, "XAI_CONFIG": "audit.yaml", "XAI_BASELINE": "base", "XAI_EXIT_ZERO": "true",
           "XAI_EXTRA_ARGS": "--jobs 2 --resume", "GITHUB_OUTPUT": str(outputs)}  # fmt: skip
    code, _ = _bash(SCRIPT, env, tmp_path)
    assert code == 0
    assert _argv(env) == ["audit", "audit.yaml", "--out", "xai-audit", "--baseline", "base",
                          "--exit-zero", "--jobs", "2", "--resume"]  # fmt: skip
    assert outputs.read_text().splitlines() == [
        "junit=xai-audit/audit.junit.xml", "summary=xai-audit/audit.md",
        "report-dir=xai-audit", "exit-code=0"]  # fmt: skip


def test_action_script_skips_a_missing_baseline_and_keeps_the_exit_code(stub, tmp_path) -> None:
    outputs = tmp_path / "github_output"
    env = {**stub, "XAI_CONFIG": "a.yaml", "XAI_BASELINE": "nowhere", "XAI_OUT": "out",
           "STUB_CODE": "1", "GITHUB_OUTPUT": str(outputs)}  # fmt: skip
    code, err = _bash(SCRIPT, env, tmp_path)
    assert code == 1 and "no baseline at nowhere" in err
    assert _argv(env) == ["audit", "a.yaml", "--out", "out"]
    assert "exit-code=1" in outputs.read_text().splitlines()
    shutil.rmtree(tmp_path / "out")
    env.update(STUB_CODE="0", STUB_WRITE="0")  # a pass without its JUnit file is not a pass
    assert _bash(SCRIPT, env, tmp_path)[0] == 2
    del env["XAI_CONFIG"]
    assert _bash(SCRIPT, env, tmp_path)[0] != 0


def test_action_yml_wires_its_inputs_to_the_script() -> None:
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    assert action["inputs"]["config"]["required"] is True
    assert {"config", "baseline"} <= set(action["inputs"])
    assert {"junit", "summary"} <= set(action["outputs"])
    steps = action["runs"]["steps"]
    audit = next(s for s in steps if s.get("id") == "audit")
    for name, output in action["outputs"].items():
        assert output["value"] == f"${{{{ steps.audit.outputs.{name} }}}}"
    assert "ci/xai-audit.sh" in audit["run"]
    read = set(re.findall(r"\$\{?(XAI_[A-Z_]+)", SCRIPT.read_text())) - {"XAI_BIN"}
    assert read == set(audit["env"]), "every variable the script reads comes from an input"
    for value in audit["env"].values():
        name = re.fullmatch(r"\$\{\{ inputs\.([\w-]+) \}\}", value)
        assert name and name.group(1) in action["inputs"]


def test_gitlab_template_builds_the_same_command(stub, tmp_path: Path) -> None:
    template = yaml.safe_load((ROOT / "ci" / "gitlab-ci.yml").read_text())
    job = template[".xai-audit"]
    assert template["xai-audit"]["extends"] == ".xai-audit"
    assert job["artifacts"]["reports"]["junit"] == "$XAI_OUT/audit.junit.xml"
    script = "\n".join(job["script"])
    env = {**stub, **job["variables"], "XAI_INSTALL": "none", "XAI_CONFIG": "configs/a.yaml",
           "XAI_EXTRA_ARGS": "--jobs 2"}  # fmt: skip
    code, err = _bash(script, env, tmp_path)
    assert code == 0, err
    assert _argv(env) == ["audit", "configs/a.yaml", "--out", "xai-audit", "--jobs", "2"]
    (tmp_path / "baseline" / "xai-audit").mkdir(parents=True)  # main's artifacts, unzipped
    env.update(XAI_EXIT_ZERO="true", STUB_CODE="1")
    assert _bash(script, env, tmp_path)[0] == 1
    assert _argv(env) == ["audit", "configs/a.yaml", "--out", "xai-audit", "--baseline",
                          "baseline/xai-audit", "--exit-zero", "--jobs", "2"]  # fmt: skip


def test_pre_commit_hook_runs_the_installed_console_script() -> None:
    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "xai-audit" and hook["language"] == "python"
    assert hook["pass_filenames"] is False  # the config names the files, not git
    program, *args = hook["entry"].split()
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert program in scripts
    assert re.search(hook["files"], "models/model.joblib")
    assert not re.search(hook["files"], "src/train.py")
    run = run_xai(*args, "--help")
    assert run.code == 0 and "CONFIG" in run.stdout


def _docker_reason() -> str | None:
    if shutil.which("docker") is None:
        return "docker is not installed"
    probe = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        return "docker daemon not reachable: " + (probe.stderr.strip().splitlines() or ["?"])[-1]
    return None


@pytest.mark.process
def test_container_image_builds_and_runs() -> None:
    reason = _docker_reason()
    if reason:
        pytest.skip(reason)
    tag = "xai-cli:test"
    build = subprocess.run(["docker", "build", "-t", tag, str(ROOT)], capture_output=True,
                           text=True, timeout=1800)  # fmt: skip
    assert build.returncode == 0, build.stderr[-2000:]
    run = subprocess.run(["docker", "run", "--rm", tag, "--version"], capture_output=True,
                         text=True, timeout=120)  # fmt: skip
    assert run.returncode == 0 and run.stdout.startswith("xai-cli ")
