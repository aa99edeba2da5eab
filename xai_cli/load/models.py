"""Model loading: safe by default.

A pickle runs code when it is loaded, so ``.pkl``/``.pickle``/``.joblib`` files go through a
restricted unpickler that admits only *classes* from the libraries a tabular model is made of (plus
a few named reconstruction helpers and standard-library value types). Anything else is refused,
naming the global, before it is called. ``trust=True`` does a full ``joblib.load``.

Native formats go through the owning library's own loader: XGBoost ``.json``/``.ubj``, LightGBM
``.txt``, CatBoost ``.cbm``.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import os
import sys
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xai_cli.errors import MissingFileError, ModelLoadError, RefusedPickleError, describe

PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib")
NATIVE_SUFFIXES = {".json": "xgboost", ".ubj": "xgboost", ".txt": "lightgbm", ".cbm": "catboost"}

ALLOWED_PACKAGES = (
    "numpy",
    "pandas",
    "scipy",
    "sklearn",
    "xgboost",
    "lightgbm",
    "catboost",
    "joblib.numpy_pickle",
)
"""Top-level packages whose classes may be reconstructed."""

DENIED_NAMES = frozenset({"numpy.memmap", "numpy.core.memmap.memmap", "numpy._core.memmap.memmap"})
"""Classes inside the allowed packages that touch the file system when constructed."""

DENIED_SUBPACKAGES = (".io.", ".testing", "._testing", ".tests")

ALLOWED_FUNCTIONS = frozenset(
    {
        "numpy.core.multiarray._reconstruct",
        "numpy._core.multiarray._reconstruct",
        "numpy.core.multiarray.scalar",
        "numpy._core.multiarray.scalar",
        "numpy.core.numeric._frombuffer",
        "numpy._core.numeric._frombuffer",
        "numpy.random._pickle.__randomstate_ctor",
        "numpy.random._pickle.__generator_ctor",
        "numpy.random._pickle.__bit_generator_ctor",
        "numpy.random.bit_generator.__pyx_unpickle_SeedSequence",
        "pandas._libs.internals._unpickle_block",
        "pandas.core.internals.blocks.new_block",
        "pandas._libs.arrays.__pyx_unpickle_NDArrayBacked",
        "pandas._libs.tslibs.timestamps._unpickle_timestamp",
        "pandas._libs.tslibs.timedeltas._timedelta_unpickle",
        "pandas.core.arrays.arrow.array._from_pickle",
        "scipy.sparse._csr._csr_base",
        "copyreg._reconstructor",
        "copyreg.__newobj__",
    }
)
"""Named non-class callables that numpy/pandas/scikit-learn pickles need to rebuild values."""

ALLOWED_STDLIB = frozenset(
    {
        "builtins.object",
        "builtins.set",
        "builtins.frozenset",
        "builtins.slice",
        "builtins.complex",
        "builtins.bytearray",
        "builtins.range",
        "builtins.dict",
        "builtins.list",
        "builtins.tuple",
        "builtins.int",
        "builtins.float",
        "builtins.bool",
        "builtins.str",
        "builtins.bytes",
        "collections.OrderedDict",
        "collections.defaultdict",
        "datetime.datetime",
        "datetime.date",
        "datetime.timedelta",
        "datetime.timezone",
        "decimal.Decimal",
        "_codecs.encode",
    }
)
"""Standard-library value types the allowed libraries pickle into their models."""


@dataclass(frozen=True)
class LoadedModel:
    """A model object with where it came from and the file's SHA-256."""

    obj: Any
    path: Path
    format: str
    sha256: str
    trusted: bool


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, read in chunks so large files do not load into memory."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def is_allowed_global(module: str, name: str) -> bool:
    """Whether the restricted unpickler may resolve ``module.name``.

    Classes from :data:`ALLOWED_PACKAGES` are allowed (except those in :data:`DENIED_NAMES` and
    test or I/O subpackages); functions only when listed in :data:`ALLOWED_FUNCTIONS`. The object is
    looked up to check that it is a class, but never called.
    """
    qualified = f"{module}.{name}"
    if qualified in ALLOWED_STDLIB or qualified in ALLOWED_FUNCTIONS:
        return True
    if qualified in DENIED_NAMES or any(part in f".{module}." for part in DENIED_SUBPACKAGES):
        return False
    if name.startswith("__pyx_unpickle_") and module.split(".")[0] in (
        "numpy",
        "sklearn",
        "pandas",
    ):
        return True  # Cython's generated state restorers for extension types (e.g. loss objects)
    if module.split(".")[0] not in {p.split(".")[0] for p in ALLOWED_PACKAGES}:
        return False
    if not any(module == p or module.startswith(p + ".") for p in ALLOWED_PACKAGES):
        return False
    try:
        obj = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return False
    return isinstance(obj, type)


def _restricted_unpickler_class() -> type:
    from joblib.numpy_pickle import NumpyUnpickler

    class RestrictedUnpickler(NumpyUnpickler):
        """joblib's unpickler (which also reads plain pickles) with an allow-list on globals."""

        def find_class(self, module: str, name: str) -> Any:
            if not is_allowed_global(module, name):
                raise RefusedPickleError(
                    f"refused to load global '{module}.{name}' from the pickle",
                    cause="it is not a class of numpy, pandas, scipy, scikit-learn, xgboost, "
                    "lightgbm or catboost",
                )
            return super().find_class(module, name)

    return RestrictedUnpickler


def _safe_load_pickle(path: Path) -> Any:
    from joblib.numpy_pickle import _validate_fileobject_and_memmap

    unpickler_class = _restricted_unpickler_class()
    with (
        path.open("rb") as handle,
        _validate_fileobject_and_memmap(handle, str(path), None) as (
            fobj,
            _,
        ),
    ):
        if isinstance(fobj, str):
            raise ModelLoadError(
                f"{path} was written by joblib older than 0.10 and cannot be loaded safely",
                hint="re-save the model with a current joblib, or pass --trust-model",
            )
        return unpickler_class(str(path), fobj, True).load()


def _load_pickle(path: Path, trust: bool) -> Any:
    if trust:
        import joblib

        warnings.warn(
            f"--trust-model: loading {path} with a full unpickler; it can run any code",
            stacklevel=2,
        )
        return joblib.load(path)
    return _safe_load_pickle(path)


@contextlib.contextmanager
def _silenced_native_stderr() -> Any:
    """Hold back what C++ libraries print straight to file descriptor 2 while loading (LightGBM
    prints ``[Fatal]`` lines before raising); the exception carries the same message."""
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # no real stderr (e.g. captured in tests)
        yield
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), fd)
        try:
            yield
        finally:
            os.dup2(saved, fd)
            os.close(saved)


def _load_native(path: Path, library: str) -> Any:
    if library == "xgboost":
        import xgboost as xgb

        booster = xgb.Booster()
        booster.load_model(str(path))
        return booster
    if library == "lightgbm":
        import lightgbm as lgb

        return lgb.Booster(model_file=str(path))
    from catboost import CatBoost

    model = CatBoost()
    model.load_model(str(path))
    return model


def load_model(path: str | Path, *, trust: bool = False) -> LoadedModel:
    """Load a model file by its extension, safely unless ``trust`` is set.

    Raises :class:`MissingFileError`, :class:`RefusedPickleError` or :class:`ModelLoadError`.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(
            f"model file not found: {path}",
            hint="check the path; it is relative to the current directory",
        )
    suffix = path.suffix.lower()
    if suffix in PICKLE_SUFFIXES:
        fmt = "pickle"

        def loader() -> Any:
            return _load_pickle(path, trust)
    elif suffix in NATIVE_SUFFIXES:
        fmt = NATIVE_SUFFIXES[suffix]

        def loader() -> Any:
            with _silenced_native_stderr():
                return _load_native(path, fmt)
    else:
        known = ", ".join((*PICKLE_SUFFIXES, *NATIVE_SUFFIXES))
        raise ModelLoadError(
            f"unknown model file type '{suffix or path.name}'", hint=f"use one of: {known}"
        )
    try:
        obj = loader()
    except RefusedPickleError:
        raise
    except Exception as exc:  # library loaders raise many types; all mean "not a model"
        raise ModelLoadError(
            f"{path} is not a readable {fmt} model file",
            cause=describe(exc),
            hint="check that the file is a saved model and not truncated",
        ) from exc
    return LoadedModel(obj=obj, path=path, format=fmt, sha256=file_sha256(path), trusted=trust)
