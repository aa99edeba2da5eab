"""Fuzzing the YAML config loader behind ``xai run CONFIG`` and ``xai audit CONFIG``.

Property: :func:`load_plan` / :func:`load_audit` return a plan or raise an :class:`XaiError`
(``ConfigError``: one line per problem, every line printable); never another exception, never a
hang or a memory blow-up. Inputs: random YAML documents (recursive dicts/lists/scalars, keyed
with the schema's own words so validation goes deep), the real configs in ``configs/`` mutated as
data (keys renamed or deleted, values swapped for other types) and as text (YAML punctuation,
tags, tabs, invalid UTF-8), alias bombs ("billion laughs"), cycles and very deep nesting.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import ROOT, SAMPLE_DATA
from tests.fuzz_support import fuzz_settings, outcome
from xai_cli.audit.runner import AuditPlan, load_audit
from xai_cli.config.load import Plan, load_plan
from xai_cli.errors import XaiError

CONFIGS = {p.name: p.read_text(encoding="utf-8") for p in sorted((ROOT / "configs").glob("*.yaml"))}
STARTER = (ROOT / "xai_cli" / "starter.yaml").read_text(encoding="utf-8")


def _keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return {str(k) for k in value} | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


SCHEMA_WORDS = sorted(
    set().union(*(_keys(yaml.safe_load(t)) for t in [*CONFIGS.values(), STARTER]))
    | {"matrix", "models", "datasets", "execution", "engine", "scheduler", "chunk_rows", "sha256"}
    | {"format", "drop", "rules", "type", "defaults", "audit", "<<"}
)
"""Every key the real configs and the starter use, plus schema keys they leave out."""

VALUE_WORDS = (
    "auto", "all", "treeshap", "xgboost.gain", "permutation", "json", "csv", "md", "html",
    "local", "dask", "income", "adult.csv", "${XAI_MODELS}", "${UNSET}", "${", "../x.joblib",
    "agreement", "noise_floor", "stability", "drift", "additivity", "required_features",
)  # fmt: skip


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory, sample_models: Path) -> Path:
    """A copy of the repository's layout: ``configs/`` beside ``sample_data`` and
    ``sample_models`` (links), so the real configs' relative paths resolve."""
    root = tmp_path_factory.mktemp("fuzz_config")
    (root / "configs").mkdir()
    (root / "sample_data").symlink_to(SAMPLE_DATA)
    (root / "sample_models").symlink_to(sample_models)
    return root / "configs"


ENV = {"HOME": "/nonexistent"}
"""No XAI_* variables: the configs' ``${VAR:-default}`` paths take their defaults."""


def check_config(folder: Path, text: str | bytes) -> Plan | AuditPlan | XaiError:
    """The property, for ``xai run`` (and ``xai audit`` when the config has an ``audit:`` key)."""
    path = folder / "fuzzed.yaml"
    if isinstance(text, str):
        text = text.encode("utf-8", "surrogatepass")
    path.write_bytes(text)
    result = outcome(lambda: load_plan(path, env=ENV), one_line=False, seconds=15.0)
    if isinstance(result, Plan) and b"audit" in text:
        result = outcome(lambda: load_audit(path, env=ENV), one_line=False, seconds=15.0)
    assert isinstance(result, Plan | AuditPlan | XaiError)
    return result


def test_real_configs_load(folder: Path) -> None:
    """Unmutated, the real configs give plans: mutations start from valid configs."""
    for name, text in CONFIGS.items():
        result = check_config(folder, text)
        assert isinstance(result, Plan | AuditPlan), (name, result)


# ------------------------------------------------------------------------ random documents

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=16),
    st.sampled_from(VALUE_WORDS),
)
KEYS = st.one_of(st.sampled_from(SCHEMA_WORDS), st.text(max_size=8), st.integers(-3, 3))
DOCUMENTS = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(KEYS, children, max_size=5)
    ),
    max_leaves=40,
)
CONFIG_LIKE = st.fixed_dictionaries(
    {},
    optional={
        "schema_version": st.one_of(st.just(1), SCALARS),
        "output": DOCUMENTS,
        "defaults": DOCUMENTS,
        "execution": DOCUMENTS,
        "jobs": st.one_of(st.lists(DOCUMENTS, max_size=3), DOCUMENTS),
        "audit": st.one_of(st.fixed_dictionaries({"rules": st.lists(DOCUMENTS)}), DOCUMENTS),
    },
)


@fuzz_settings(100)
@given(document=st.one_of(DOCUMENTS, CONFIG_LIKE), flow=st.booleans())
def test_random_documents_load_or_fail_cleanly(folder: Path, document: Any, flow: bool) -> None:
    text = yaml.safe_dump(document, default_flow_style=flow, allow_unicode=True)
    check_config(folder, text)


# -------------------------------------------------------------------- real configs, mutated


def _paths(value: Any, here: tuple = ()) -> list[tuple]:
    """Every key path in a parsed config (the root included)."""
    out = [here]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*here, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*here, i))
    return out


def _parent(doc: Any, path: tuple) -> Any:
    for part in path[:-1]:
        doc = doc[part]
    return doc


@st.composite
def mutated_configs(draw: st.DrawFn) -> str:
    """A real config parsed, changed 1-4 times as data, dumped back."""
    doc = yaml.safe_load(draw(st.sampled_from(sorted(CONFIGS.values()))))
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(_paths(doc)))
        if not path:
            doc = draw(st.sampled_from([[doc], None, "text", {"jobs": doc}]))
            break
        parent, key = _parent(doc, path), path[-1]
        kind = draw(st.sampled_from(["delete", "rename", "retype", "wrap", "duplicate"]))
        if kind == "delete":
            del parent[key]
        elif kind == "rename" and isinstance(parent, dict):
            new = draw(st.one_of(st.sampled_from(SCHEMA_WORDS), st.text(max_size=8)))
            parent[new] = parent.pop(key)
        elif kind == "retype":
            parent[key] = draw(st.one_of(SCALARS, DOCUMENTS))
        elif kind == "wrap":
            parent[key] = draw(st.sampled_from([[parent[key]], {"x": parent[key]}]))
        elif isinstance(parent, list):
            parent.append(parent[key])
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)


@fuzz_settings(100)
@given(text=mutated_configs())
def test_mutated_real_configs_load_or_fail_cleanly(folder: Path, text: str) -> None:
    check_config(folder, text)


YAML_BITS = st.sampled_from(
    [":", ": ", "-", "- ", "[", "]", "{", "}", ",", "&a ", "*a", "*b", "!!binary ", "!!str ",
     "!!python/object/apply:os.system ", "!!int ", "!!timestamp ", "!!set ", "<<: *a", "? ",
     "|", ">-", "'", '"', "#", "\n", "  ", "\t", "%YAML 1.1\n", "---\n", "...\n", "@", "`",
     "\\x00", "\x1b[2J", "\ufeff", "9" * 5000, "2001-13-45", "0x", "1e999", ".nan", "~", "null"]
)  # fmt: skip


@st.composite
def mangled_texts(draw: st.DrawFn) -> bytes:
    """A real config's text with YAML punctuation, tags and odd bytes spliced in or cut out."""
    text = bytearray(draw(st.sampled_from(sorted(CONFIGS.values()))).encode("utf-8"))
    for _ in range(draw(st.integers(1, 5))):
        where = draw(st.integers(0, len(text)))
        kind = draw(st.sampled_from(["insert", "insert", "delete", "bytes", "truncate"]))
        if kind == "insert":
            text[where:where] = draw(YAML_BITS).encode("utf-8")
        elif kind == "delete":
            del text[where : where + draw(st.integers(1, 40))]
        elif kind == "bytes":
            text[where:where] = draw(st.binary(min_size=1, max_size=4))
        else:
            del text[where:]
    return bytes(text)


@fuzz_settings(120)
@given(text=mangled_texts())
def test_mangled_config_text_loads_or_fails_cleanly(folder: Path, text: bytes) -> None:
    check_config(folder, text)


# ------------------------------------------------------------- bombs, cycles, deep nesting


def alias_bomb(levels: int, width: int, inside: str) -> str:
    """ "Billion laughs": each anchor is a list of ``width`` aliases to the one before, so the
    document is a few lines but expands to ``width ** levels`` values."""
    lines = ["a0: &a0 [lol, lol]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]")
    top = f"*a{levels - 1}"
    body = {
        "jobs": f"jobs: {top}",
        "output": f"output: {top}",
        "methods": f"jobs: [{{model: m.joblib, data: d.csv, methods: {top}}}]",
        "key": f"{top}: 1",
    }[inside]
    return "\n".join(lines) + "\n" + body + "\n"


@fuzz_settings(30)
@given(
    levels=st.integers(2, 12),
    width=st.integers(2, 12),
    inside=st.sampled_from(["jobs", "output", "methods", "key"]),
)
def test_alias_bombs_end_quickly(folder: Path, levels: int, width: int, inside: str) -> None:
    result = check_config(folder, alias_bomb(levels, width, inside))
    if width**levels > 10**6:
        assert isinstance(result, XaiError) and "anchors and aliases" in result.message, result


@fuzz_settings(10)  # PyYAML's scanner needs up to ~3 s for one pathological document
@given(
    depth=st.integers(1, 3000),
    style=st.sampled_from(["flow-list", "flow-map", "block", "mixed"]),
    where=st.sampled_from(["jobs", "output", "audit"]),
)
def test_deep_nesting_ends_quickly(folder: Path, depth: int, style: str, where: str) -> None:
    if style == "flow-list":
        value = "[" * depth + "1" + "]" * depth
    elif style == "flow-map":
        value = "{a: " * depth + "1" + "}" * depth
    elif style == "block":
        value = "\n" + "".join("  " * (i + 1) + "a:\n" for i in range(min(depth, 400)))
        value += "  " * (min(depth, 400) + 1) + "1"
    else:
        value = "[{a: " * (depth // 2) + "1" + "}]" * (depth // 2)
    check_config(folder, f"schema_version: 1\n{where}: {value}\n")


@pytest.mark.parametrize(
    "text",
    [
        "jobs: &a [*a]\n",
        "output: &o {folder: x, top_k: *o}\n",
        "defaults: &d {data: {path: *d}}\njobs: []\noutput: {folder: o}\nschema_version: 1\n",
        "jobs: &j [{matrix: {models: *j, datasets: *j}}]\n",
    ],
    ids=["list", "mapping", "defaults", "matrix"],
)
def test_alias_cycles_are_one_error(folder: Path, text: str) -> None:
    result = check_config(folder, text)
    assert isinstance(result, XaiError) and "contains it" in result.message, result


def test_oversized_config_is_refused_before_parsing(folder: Path) -> None:
    result = check_config(folder, "# padding\n" * 200_000 + "schema_version: 1\n")
    assert isinstance(result, XaiError) and "larger than" in result.message, result
