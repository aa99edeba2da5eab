"""Fuzzing the safe model loader: random pickle opcode streams and mutations of real model files.

Property: ``load_model(path)`` returns a :class:`LoadedModel` or raises an :class:`XaiError` whose
message is one printable line (the CLI prints it as ``error[code]: ...``, exit 2); never another
exception, never a hang or a memory blow-up, and never runs a payload (every code-running global
in the streams is called with arguments that would create a marker file).
"""

from __future__ import annotations

import os
import pickle
import pickletools
import subprocess
import sys
import tempfile
from pathlib import Path

import joblib
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import ROOT, Run, run_xai_process
from tests.fuzz_pickles import (
    ALLOWED_GLOBALS,
    DANGEROUS_GLOBALS,
    OP,
    Payloads,
    call,
    global_ref,
    payload_calls,
    push_int,
    push_str,
    streams,
)
from tests.fuzz_support import FileBytes, fuzz_settings, outcome
from xai_cli.errors import XaiError
from xai_cli.load.models import LoadedModel, load_model

POOL = ALLOWED_GLOBALS + DANGEROUS_GLOBALS


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder for the module's examples (hypothesis reruns a test body many times, so a
    function-scoped ``tmp_path`` would be shared by all examples anyway)."""
    return tmp_path_factory.mktemp("fuzz_pickle")


MARKER_NAME = "payload-ran"

# Strategies are built at import, before any fixture exists, so the marker lives in the system
# temp folder, named by this process (parallel runs do not see each other's markers).
PAYLOADS = Payloads(str(Path(tempfile.gettempdir()) / f"xai-fuzz-{os.getpid()}-{MARKER_NAME}"))


def check_load(path: Path, marker: Path) -> LoadedModel | XaiError:
    """The property: a model or a one-line user error, in bounded time and memory, no payload."""
    marker.unlink(missing_ok=True)
    try:
        result = outcome(lambda: load_model(path))
    finally:
        ran = marker.exists()
        marker.unlink(missing_ok=True)
    assert not ran, f"a payload in {path.name} ran: {marker} was created"
    assert isinstance(result, LoadedModel | XaiError)
    return result


# ------------------------------------------------------------------------- random opcode streams


@fuzz_settings(300)
@given(stream=streams(PAYLOADS, POOL), suffix=st.sampled_from([".pkl", ".joblib"]))
def test_random_opcode_streams_load_or_fail_cleanly(
    workdir: Path, stream: bytes, suffix: str
) -> None:
    path = workdir / f"stream{suffix}"
    path.write_bytes(stream)
    check_load(path, Path(PAYLOADS.marker))


@fuzz_settings(40)
@given(gadget=payload_calls(PAYLOADS), proto=st.sampled_from([2, 3, 4, 5]))
def test_payload_gadgets_are_refused(workdir: Path, gadget: bytes, proto: int) -> None:
    """Each bare payload call, alone in a stream, is refused (RefusedPickleError)."""
    path = workdir / "gadget.pkl"
    path.write_bytes(OP["PROTO"] + bytes([proto]) + gadget + OP["STOP"])
    result = check_load(path, Path(PAYLOADS.marker))
    assert isinstance(result, XaiError) and result.code == "refused-pickle", result


@fuzz_settings(15)
@given(gadget=payload_calls(PAYLOADS))
def test_payload_gadgets_really_run_under_a_full_unpickler(gadget: bytes) -> None:
    """The payloads are real: ``pickle.loads`` of the same bytes creates the marker. Without this,
    'the marker never appears' would prove nothing."""
    marker = Path(PAYLOADS.marker)
    marker.unlink(missing_ok=True)
    try:
        pickle.loads(OP["PROTO"] + b"\x04" + gadget + OP["STOP"])  # noqa: S301 - the point
        assert marker.exists(), f"the gadget did not run: {gadget!r}"
    finally:
        marker.unlink(missing_ok=True)


CONTROL_NAMES = st.lists(
    st.sampled_from(["\n", "\r", "\x1b[2J", "\x1b]0;title\x07", "\t", "a", "os", "."]),
    min_size=1,
    max_size=6,
).map("".join)
"""Names with line breaks and terminal escapes (only ``STACK_GLOBAL`` can carry a newline)."""


@fuzz_settings(30)
@given(module=CONTROL_NAMES, name=CONTROL_NAMES)
def test_refusal_of_a_strange_name_is_one_printable_line(
    workdir: Path, module: str, name: str
) -> None:
    path = workdir / "names.pkl"
    path.write_bytes(OP["PROTO"] + b"\x04" + global_ref(module or "os", name or "x", True) + b".")
    check_load(path, Path(PAYLOADS.marker))


# -------------------------------------------------------------------- mutations of real models


REAL_MODELS = ("adult_xgboost", "adult_lightgbm", "adult_catboost", "california_xgboost")


def _opcode_offsets(data: bytes) -> list[int]:
    """Where each opcode of a plain pickle starts (as far as pickletools can walk it), so
    mutations can hit the stream's structure and not only array payload bytes."""
    offsets: list[int] = []
    try:
        for _, _, pos in pickletools.genops(data):
            offsets.append(pos)
    except Exception:  # joblib files carry raw array bytes after each array wrapper
        pass
    return offsets or [0]


@pytest.fixture(scope="module")
def real_pickles(sample_models: Path, workdir: Path) -> dict[str, tuple[bytes, list[int]]]:
    """The sample models in every pickle form the loader reads: joblib as trained (zlib level 3),
    joblib uncompressed, gzip and bz2; plain pickle protocols 3 and 5. Name -> (bytes, offsets)."""
    variants: dict[str, tuple[bytes, list[int]]] = {}
    for stem in REAL_MODELS:
        source = sample_models / f"{stem}.joblib"
        model = load_model(source).obj
        variants[f"{stem}-zlib.joblib"] = (FileBytes(source.read_bytes()), [0])
        raw = workdir / f"{stem}-raw.joblib"
        joblib.dump(model, raw)
        variants[raw.name] = (FileBytes(raw.read_bytes()), _opcode_offsets(raw.read_bytes()))
        for compress in ("gzip", "bz2"):
            packed = workdir / f"{stem}-{compress}.joblib"
            joblib.dump(model, packed, compress=(compress, 1))
            variants[packed.name] = (FileBytes(packed.read_bytes()), [0])
        for protocol in (3, 5):
            data = pickle.dumps(model, protocol=protocol)
            variants[f"{stem}-p{protocol}.pkl"] = (FileBytes(data), _opcode_offsets(data))
    return variants


@st.composite
def mutations(draw: st.DrawFn, data: bytes, offsets: list[int]) -> bytes:
    """1-3 byte-level mutations: flip, insert, delete, overwrite with an opcode, truncate."""
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 3))):
        if not out:
            break
        where = draw(
            st.one_of(
                st.integers(0, len(out) - 1),
                st.sampled_from(offsets).map(lambda o: min(o, len(out) - 1)),
                st.integers(0, min(63, len(out) - 1)),  # headers: magic, compressor, PROTO
            )
        )
        kind = draw(st.sampled_from(["flip", "insert", "delete", "opcode", "truncate"]))
        if kind == "flip":
            out[where] ^= draw(st.integers(1, 255))
        elif kind == "insert":
            out[where:where] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "delete":
            del out[where : where + draw(st.integers(1, 16))]
        elif kind == "opcode":
            out[where : where + 1] = draw(st.sampled_from(sorted(OP.values())))
        else:
            del out[where:]
    return bytes(out)


@fuzz_settings(200)
@given(data=st.data())
def test_mutated_real_model_pickles_load_or_fail_cleanly(
    workdir: Path, real_pickles: dict[str, tuple[bytes, list[int]]], data: st.DataObject
) -> None:
    name = data.draw(st.sampled_from(sorted(real_pickles)), label="variant")
    original, offsets = real_pickles[name]
    mutated = data.draw(mutations(original, offsets), label="mutated")
    path = workdir / f"mutated{Path(name).suffix}"
    path.write_bytes(mutated)
    check_load(path, Path(PAYLOADS.marker))


def test_real_model_variants_load(
    workdir: Path, real_pickles: dict[str, tuple[bytes, list[int]]]
) -> None:
    """Unmutated, every variant loads: the mutations start from files the loader accepts."""
    for name, (data, _) in real_pickles.items():
        path = workdir / name
        path.write_bytes(data)
        assert isinstance(load_model(path), LoadedModel), name


def test_protocol_2_pickle_of_a_real_model_loads(workdir: Path, sample_models: Path) -> None:
    model = load_model(sample_models / "adult_xgboost.joblib").obj
    path = workdir / "protocol2.pkl"
    path.write_bytes(pickle.dumps(model, protocol=2))
    assert isinstance(load_model(path), LoadedModel)


# ----------------------------------------------------------------------- known gadgets, in full


def ndarray_wrapper_gadget(file_name: str, after: bytes) -> bytes:
    """joblib's legacy ``NDArrayWrapper`` (re-exported by ``joblib.numpy_pickle``) whose state
    names a file: joblib's unpickler then calls ``np.load(that file, allow_pickle=True)``, a full
    unpickler, on a path the pickle chose. Naming the model file itself needs no second file."""
    state = (
        OP["EMPTY_DICT"]
        + OP["MARK"]
        + push_str("filename")
        + push_str(file_name)
        + push_str("subclass")
        + global_ref("numpy", "ndarray", False)
        + push_str("allow_mmap")
        + OP["NEWFALSE"]
        + OP["SETITEMS"]
    )
    wrapper = global_ref("joblib.numpy_pickle", "NDArrayWrapper", False) + b")" + OP["NEWOBJ"]
    return OP["PROTO"] + b"\x02" + wrapper + state + OP["BUILD"] + OP["POP"] + after + OP["STOP"]


def test_legacy_array_wrapper_cannot_reach_a_full_unpickler(workdir: Path) -> None:
    marker = workdir / MARKER_NAME
    payload = call(global_ref("posix", "system", False), [push_str(f"touch {marker}")], "REDUCE")
    path = workdir / "self-referencing.joblib"
    path.write_bytes(ndarray_wrapper_gadget(path.name, payload))
    check_load(path, marker)


# --------------------------------------------------------------- whole CLI, in a bounded process


def _cli_with_memory_cap(model: Path, workdir: Path, cap: int = 4 << 30) -> Run:
    """``xai explain MODEL DATA`` in a subprocess with a 4 GiB address-space cap (the CLI itself
    maps about 2.5 GiB), so a memory bomb fails fast instead of exhausting the machine."""
    data = workdir / "d.csv"
    data.write_text("a,b\n1,2\n", encoding="utf-8")
    code = (
        "import resource, runpy, sys;"
        f"resource.setrlimit(resource.RLIMIT_AS, ({cap}, {cap}));"
        "sys.argv = ['xai', 'explain', sys.argv[1], sys.argv[2], '--out', sys.argv[3]];"
        "runpy.run_module('xai_cli', run_name='__main__')"
    )
    return run_xai_code(code, str(model), str(data), str(workdir / "out"))


def run_xai_code(code: str, *args: str) -> Run:
    """Like :func:`tests.conftest.run_xai_process`, but ``python -c CODE ARGS`` (30 s timeout)."""
    proc = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200"},
        timeout=30,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


def assert_one_line_exit_2(run: Run, marker: Path) -> None:
    """The CLI's contract for a bad model file."""
    assert run.code == 2, (run.code, run.stdout, run.stderr)
    assert run.stderr.startswith("error["), run.stderr
    assert "Traceback" not in run.stderr and run.stdout == "", run.stderr
    assert not marker.exists()


@pytest.mark.parametrize(
    "gadget",
    [
        pytest.param(
            call(
                global_ref("os", "system", True), [push_str(f"touch {PAYLOADS.marker}")], "REDUCE"
            ),
            id="os.system",
        ),
        pytest.param(
            call(global_ref("numpy.f2py.__main__", "x", False), [], "REDUCE"),
            id="import-runs-f2py-main",
        ),
        pytest.param(
            # set(range(2**62)): 40 bytes that iterate forever and fill memory
            call(
                global_ref("builtins", "set", False),
                [call(global_ref("builtins", "range", False), [push_int(2**62)], "REDUCE")],
                "REDUCE",
            ),
            id="set-of-huge-range",
        ),
    ],
)
def test_cli_on_hostile_pickles_prints_one_error_and_exits_2(workdir: Path, gadget: bytes) -> None:
    marker = Path(PAYLOADS.marker)
    marker.unlink(missing_ok=True)
    model = workdir / "hostile.pkl"
    model.write_bytes(OP["PROTO"] + b"\x04" + gadget + OP["STOP"])
    run = _cli_with_memory_cap(model, workdir)
    assert_one_line_exit_2(run, marker)
    assert "MemoryError" not in run.stderr, "stopped only by the test's memory cap"
    assert not (workdir / "out").exists()


def test_cli_on_truncated_real_model(workdir: Path, sample_models: Path) -> None:
    data = (sample_models / "adult_xgboost.joblib").read_bytes()
    model = workdir / "truncated.joblib"
    model.write_bytes(data[: len(data) // 2])
    csv = workdir / "d.csv"
    csv.write_text("a,b\n1,2\n", encoding="utf-8")
    run = run_xai_process("explain", str(model), str(csv), "--out", str(workdir / "out"))
    assert_one_line_exit_2(run, Path(PAYLOADS.marker))
    assert run.stderr.startswith("error[model-load]: "), run.stderr


@pytest.mark.xfail(
    strict=False,
    reason="LightGBM calls std::terminate (the process aborts, exit 134) on a model file with a "
    "malformed number in a tree; xai loads it in the CLI's own process, so no error line is "
    "printed (a known limit of the loader, see the README's security section). Found by the "
    "mutation fuzzing (the same abort happens in LGBMClassifier's "
    "__setstate__ for a mutated pickle)",
)
def test_cli_on_a_corrupted_lightgbm_text_model(workdir: Path, sample_models: Path) -> None:
    text = (sample_models / "adult_lightgbm.txt").read_text(encoding="utf-8")
    at = text.index("leaf_value=") + len("leaf_value=")
    model = workdir / "corrupted.txt"
    model.write_text(text[:at] + "k" + text[at + 1 :], encoding="utf-8")
    csv = workdir / "d.csv"
    csv.write_text("a,b\n1,2\n", encoding="utf-8")
    run = run_xai_process("explain", str(model), str(csv), "--out", str(workdir / "out"))
    assert_one_line_exit_2(run, Path(PAYLOADS.marker))
