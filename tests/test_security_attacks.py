"""Each attack on the default loader from issue 9, built for real and run through ``xai explain``.

Every test builds the payload, runs the CLI in a fresh process (a crash or ``sys.exit`` must show
as what it is), and asserts exit code 2, a one-line ``error[...]`` and that the payload's effect
(a marker file, a victim folder, a written file) never happened. Routes: the payload alone, nested
inside a real RandomForest, inside an object array, and through joblib compression.
"""

from __future__ import annotations

import io
import os
import pickle
import subprocess
import sys
import zlib
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier

from tests.conftest import ROOT
from xai_cli.errors import ModelLoadError, RefusedPickleError
from xai_cli.load.models import load_model

DATA = "a,b\n1,2\n3,4\n"


def run_cli(model: Path, tmp_path: Path, env: dict[str, str] | None = None) -> tuple[int, str]:
    """``python -m xai_cli explain MODEL DATA`` in a fresh process: (exit code, stderr)."""
    data = tmp_path / "d.csv"
    data.write_text(DATA)
    proc = subprocess.run(
        [sys.executable, "-m", "xai_cli", "explain", str(model), str(data), "--out",
         str(tmp_path / "out")],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
        env={**os.environ, "NO_COLOR": "1", **(env or {})},
    )  # fmt: skip
    return proc.returncode, proc.stderr


def assert_refused(code: int, stderr: str, tmp_path: Path) -> None:
    assert code == 2, (code, stderr)
    assert stderr.startswith("error["), stderr
    assert "Traceback" not in stderr
    assert not (tmp_path / "out").exists()


def call_pickle(module: str, name: str, args: tuple) -> bytes:
    """A protocol-2 pickle that resolves ``module.name`` and calls it with ``args``."""
    return (
        b"\x80\x02c" + f"{module}\n{name}\n".encode() + pickle.dumps(args, protocol=2)[2:-1]
        + b"R."
    )  # fmt: skip


def rebuild_pickle(module: str, name: str, state: dict) -> bytes:
    """A protocol-2 pickle: ``copyreg._reconstructor(module.name, object, None)`` then BUILD."""
    head = b"\x80\x02ccopyreg\n_reconstructor\n" + f"c{module}\n{name}\n".encode()
    head += b"cbuiltins\nobject\nN\x87R"  # TUPLE3 of (cls, object, None), REDUCE
    return head + pickle.dumps(state, protocol=2)[2:-1] + b"b."


class _RunsCommand:
    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):  # noqa: ANN204 - pickle protocol
        return (os.system, (self.command,))


def _forest() -> RandomForestClassifier:
    x = np.random.default_rng(0).normal(size=(40, 2))
    return RandomForestClassifier(n_estimators=2, random_state=0).fit(x, x[:, 0] > 0)


ROUTES = ["direct", "in_forest", "in_object_array", "compressed"]


def write_route(payload: object, route: str, path: Path) -> None:
    """Save ``payload`` the way the route says (all but ``direct`` through joblib)."""
    if route == "direct":
        path.write_bytes(pickle.dumps(payload))
    elif route == "in_forest":
        forest = _forest()
        forest.extra_ = payload
        joblib.dump(forest, path)
    elif route == "in_object_array":
        forest = _forest()
        holder = np.empty(2, dtype=object)
        holder[0], holder[1] = "x", payload
        forest.extra_ = holder
        joblib.dump(forest, path)
    else:
        joblib.dump({"model": _forest(), "extra": payload}, path, compress=3)


@pytest.mark.parametrize("route", ROUTES)
def test_os_system_refused_on_every_route(tmp_path: Path, route: str) -> None:
    marker = tmp_path / "pwned"
    model = tmp_path / "evil.joblib"
    write_route(_RunsCommand(f"touch {marker}"), route, model)
    with pytest.raises(RefusedPickleError, match="system"):
        load_model(model)
    if route == "compressed":  # one route through the whole CLI; the others share the loader
        assert_refused(*run_cli(model, tmp_path), tmp_path)
    assert not marker.exists()


def _ndarray_wrapper(sidecar: Path, module: str) -> bytes:
    """joblib's pre-0.10 ``NDArrayWrapper`` pointing at a sidecar ``.npy`` whose object array
    unpickles a command (``numpy.load(allow_pickle=True)`` in its ``read``)."""
    from joblib.numpy_pickle_compat import NDArrayWrapper

    payload = np.empty(1, dtype=object)
    payload[0] = _RunsCommand(f"touch {sidecar.parent / 'pwned'}")
    np.save(sidecar, payload, allow_pickle=True)
    raw = pickle.dumps(NDArrayWrapper(sidecar.name, np.ndarray), protocol=2)
    return raw.replace(b"joblib.numpy_pickle_compat\n", f"{module}\n".encode())


@pytest.mark.parametrize("module", ["joblib.numpy_pickle_compat", "joblib.numpy_pickle"])
@pytest.mark.parametrize("route", ["direct", "in_forest", "compressed"])
def test_ndarray_wrapper_second_loader_refused(tmp_path: Path, module: str, route: str) -> None:
    raw = _ndarray_wrapper(tmp_path / "side.npy", module)
    model = tmp_path / "evil.joblib"
    if route == "direct":
        model.write_bytes(raw)
    else:
        wrapper = pickle.loads(raw)
        write_route(wrapper, route, model)
    with pytest.raises(RefusedPickleError, match="NDArrayWrapper"):
        load_model(model)
    if route == "in_forest" and module == "joblib.numpy_pickle":
        assert_refused(*run_cli(model, tmp_path), tmp_path)
    assert not (tmp_path / "pwned").exists()


MEMMAP_ALIASES = [
    ("numpy", "memmap"),
    ("numpy._core.memmap", "memmap"),
    ("numpy.core.memmap", "memmap"),
    ("numpy.matlib", "memmap"),
    ("numpy._core", "memmap"),
]


@pytest.mark.parametrize(("module", "name"), MEMMAP_ALIASES)
def test_memmap_under_every_alias_writes_nothing(tmp_path: Path, module: str, name: str) -> None:
    victim = tmp_path / "written.bin"
    model = tmp_path / "evil.pkl"
    model.write_bytes(call_pickle(module, name, (str(victim), "uint8", "w+", 0, (64,))))
    with pytest.raises(RefusedPickleError, match="memmap"):
        load_model(model)
    if module == "numpy._core.memmap":
        assert_refused(*run_cli(model, tmp_path), tmp_path)
    assert not victim.exists()


@pytest.mark.parametrize("module", ["numpy.lib._datasource", "numpy.lib.npyio"])
def test_datasource_finaliser_deletes_nothing(tmp_path: Path, module: str) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("precious")
    model = tmp_path / "evil.pkl"
    model.write_bytes(rebuild_pickle(module, "DataSource", {
        "_destpath": str(victim), "_istmpdest": True}))  # fmt: skip
    with pytest.raises(RefusedPickleError, match="DataSource"):
        load_model(model)
    if module == "numpy.lib.npyio":
        assert_refused(*run_cli(model, tmp_path), tmp_path)
    assert (victim / "keep.txt").read_text() == "precious"


def test_reconstructor_with_a_class_base_is_refused(tmp_path: Path) -> None:
    """Even with allowed names, ``_reconstructor`` may not call a model class's constructor."""
    model = tmp_path / "evil.pkl"
    raw = (
        b"\x80\x02ccopyreg\n_reconstructor\nc" + b"xgboost.core\nBooster\n"
        + b"cxgboost.core\nBooster\n}\x87R."
    )  # fmt: skip
    model.write_bytes(raw)
    with pytest.raises(RefusedPickleError, match="refused to rebuild 'Booster'"):
        load_model(model)


def test_module_is_never_imported_before_the_decision(tmp_path: Path) -> None:
    """``numpy.f2py.__main__`` runs f2py and calls ``sys.exit(0)`` when imported."""
    model = tmp_path / "evil.pkl"
    model.write_bytes(call_pickle("numpy.f2py.__main__", "main", ()))
    assert "numpy.f2py.__main__" not in sys.modules
    with pytest.raises(RefusedPickleError):
        load_model(model)
    assert "numpy.f2py.__main__" not in sys.modules
    assert_refused(*run_cli(model, tmp_path), tmp_path)


@pytest.mark.parametrize(
    ("module", "name", "state"),
    [
        ("xgboost.core", "DMatrix", {"handle": 0xDEADBEEF}),
        ("lightgbm.basic", "Dataset", {"_handle": 0xDEADBEEF, "handle": 0xDEADBEEF}),
    ],
)
def test_forged_native_handles_are_refused_by_name(
    tmp_path: Path, module: str, name: str, state: dict
) -> None:
    model = tmp_path / "evil.pkl"
    model.write_bytes(rebuild_pickle(module, name, state))
    assert_refused(*run_cli(model, tmp_path), tmp_path)  # exit 2, not a segfault (-11)


def test_estimators_are_never_called_with_file_arguments(tmp_path: Path) -> None:
    """An allowed class may be rebuilt from state, not called: ``Booster(model_file=...)``
    would read any file the attacker names."""
    model = tmp_path / "evil.pkl"
    model.write_bytes(call_pickle("xgboost.core", "Booster", ({}, [], "/etc/passwd")))
    with pytest.raises(RefusedPickleError, match="refused to call 'xgboost.core.Booster'"):
        load_model(model)


@pytest.mark.parametrize("suffix", [".json", ".ubj"])
def test_deeply_nested_xgboost_file_is_refused_not_crashed(tmp_path: Path, suffix: str) -> None:
    model = tmp_path / f"deep{suffix}"
    depth = 200_000
    if suffix == ".json":
        model.write_text('{"learner": ' + "[" * depth + "]" * depth + "}")
    else:
        model.write_bytes(b"{" + b"i\x07learner" + b"[" * depth + b"]" * depth + b"}")
    code, stderr = run_cli(model, tmp_path)
    assert_refused(code, stderr, tmp_path)
    assert "levels deep" in stderr


def test_bracket_inside_json_strings_does_not_count(tmp_path: Path) -> None:
    from xai_cli.load.native_checks import check_json_nesting

    check_json_nesting(tmp_path, b'{"name": "' + b"[" * 500 + b'", "x": [1, 2]}')
    with pytest.raises(ModelLoadError, match="levels deep"):
        check_json_nesting(tmp_path, b"[" * 65 + b"]" * 65)


def _zlib_joblib_bomb(path: Path, n_bytes: int) -> None:
    """A joblib zlib file whose array header declares ``n_bytes`` zeros, streamed (never held)."""
    from joblib.numpy_pickle import NumpyArrayWrapper

    head = pickle.dumps(NumpyArrayWrapper(np.ndarray, (n_bytes,), "C", np.dtype("uint8")), 2)
    compressor = zlib.compressobj(1)
    chunk = bytes(1 << 24)
    with path.open("wb") as out:
        out.write(compressor.compress(head[:-1] + b"\x00"))  # strip STOP; no alignment padding
        for start in range(0, n_bytes, len(chunk)):
            out.write(compressor.compress(chunk[: min(len(chunk), n_bytes - start)]))
        out.write(compressor.compress(b"."))
        out.write(compressor.flush())


def test_decompression_bomb_is_refused_by_default(tmp_path: Path) -> None:
    model = tmp_path / "bomb.joblib"
    _zlib_joblib_bomb(model, 2 * 10**9)
    assert model.stat().st_size < 2 * 10**9 / 200  # a few MB on disk, 2 GB inflated
    code, stderr = run_cli(model, tmp_path)
    assert_refused(code, stderr, tmp_path)
    assert "error[model-too-large]" in stderr and "--max-model-size" in stderr


def test_size_cap_counts_decompressed_pickle_bytes(tmp_path: Path) -> None:
    """A bomb of plain pickle bytes (no array header) stops at the cap, and raising it loads."""
    model = tmp_path / "blob.joblib"
    joblib.dump({"blob": bytes(8 * 2**20)}, model, compress=3)
    assert model.stat().st_size < 2**20
    with pytest.raises(ModelLoadError, match="more than 4 MiB"):
        load_model(model, max_bytes="4M")
    assert len(load_model(model, max_bytes="16M").obj["blob"]) == 8 * 2**20
    code, stderr = run_cli(model, tmp_path, env={"XAI_MAX_MODEL_SIZE": "4M"})
    assert_refused(code, stderr, tmp_path)


def test_bytearray_of_a_number_is_refused(tmp_path: Path) -> None:
    model = tmp_path / "evil.pkl"
    model.write_bytes(call_pickle("builtins", "bytearray", (10**12,)))
    with pytest.raises(RefusedPickleError, match="bytearray"):
        load_model(model)


def test_unframed_protocol_zero_instantiation_is_checked(tmp_path: Path) -> None:
    """Protocol 0's ``INST`` calls a class with arguments: the same rule as ``REDUCE``."""
    model = tmp_path / "evil.pkl"
    model.write_bytes(b"(S'/etc/passwd'\nixgboost.core\nBooster\n.")
    with pytest.raises(RefusedPickleError):
        load_model(model)


def test_object_arrays_use_the_restricted_loader(tmp_path: Path) -> None:
    """A real joblib object array (strings) loads; the same array holding a payload does not."""
    ok = tmp_path / "ok.joblib"
    joblib.dump({"names": np.array(["a", "b"], dtype=object)}, ok)
    assert list(load_model(ok).obj["names"]) == ["a", "b"]
    assert io  # keep the import list honest for the helpers above


def test_max_model_size_option_raises_and_lowers_the_cap(tmp_path: Path, xai) -> None:
    model = tmp_path / "blob.joblib"
    joblib.dump({"blob": bytes(8 * 2**20)}, model, compress=3)
    data = tmp_path / "d.csv"
    data.write_text(DATA)
    run = xai("explain", str(model), str(data), "--max-model-size", "4M", "--out",
              str(tmp_path / "out"))  # fmt: skip
    assert run.code == 2 and "error[model-too-large]" in run.stderr
    run = xai("explain", str(model), str(data), "--max-model-size", "lots", "--out",
              str(tmp_path / "out"))  # fmt: skip
    assert run.code == 2 and "error[usage]: not a size: 'lots'" in run.stderr
    run = xai("methods", str(model), "--max-model-size", "16M")
    assert run.code == 2 and "model-too-large" not in run.stderr  # loads; a dict is no model


@pytest.mark.parametrize(
    "raw",
    [
        b"\x80\x02cbuiltins\nset\ncbuiltins\nrange\nK\x00J\x00\xca\x9a;\x86R\x85R.",
        b"\x80\x02cbuiltins\nfrozenset\n]\x85R.",  # a concrete list is fine: see below
    ],
)
def test_containers_only_from_stored_values(tmp_path: Path, raw: bytes) -> None:
    """``set(range(10**9))`` is a few bytes of pickle and hours of work: refused by name."""
    model = tmp_path / "evil.pkl"
    model.write_bytes(raw)
    if b"range" in raw:
        with pytest.raises(RefusedPickleError, match="builtins.range"):
            load_model(model)
    else:
        assert load_model(model).obj == frozenset()
