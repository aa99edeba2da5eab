"""Model loading: safe by default.

A pickle runs code when it is loaded, so ``.pkl``/``.pickle``/``.joblib`` files go through
:mod:`xai_cli.load.unpickle`: exact names from an allow-list, decided before any import; only value
constructors may be called; joblib arrays read without a second loader; every byte counted against
a size cap. ``trust=True`` does a full ``joblib.load``.

Native formats go through the owning library's own loader (XGBoost ``.json``/``.ubj``, LightGBM
``.txt``, CatBoost ``.cbm``) after :mod:`xai_cli.load.native_checks` has bounded their size and,
for XGBoost, their nesting depth.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import sys
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xai_cli.errors import MissingFileError, ModelLoadError, UsageError, XaiError, describe
from xai_cli.load.allowlist import ALLOWED_GLOBALS
from xai_cli.load.native_checks import check_native_file
from xai_cli.load.unpickle import BoundedReader, safe_load

PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib")
NATIVE_SUFFIXES = {".json": "xgboost", ".ubj": "xgboost", ".txt": "lightgbm", ".cbm": "catboost"}

DEFAULT_MAX_MODEL_BYTES = 1 << 30
"""Default cap (1 GiB) on a model's size: the file for native formats, the decompressed stream
for pickles. ``--max-model-size`` or the ``XAI_MAX_MODEL_SIZE`` environment variable raise it."""

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?\s*$", re.IGNORECASE)


def parse_size(text: str | int) -> int:
    """``"8G"``, ``"512M"``, ``"1.5GiB"`` or a byte count -> bytes (powers of 1024)."""
    if isinstance(text, int):
        return text
    match = _SIZE.match(text)
    if not match or float(match.group(1)) <= 0:
        raise UsageError(f"not a size: {text!r}", hint="use a number of bytes or e.g. 512M, 2G, 8G")
    power = " KMGT".index(match.group(2).upper() or " ")
    return int(float(match.group(1)) * 1024**power)


def max_model_bytes(value: str | int | None = None) -> int:
    """The cap: ``value`` if given, else ``XAI_MAX_MODEL_SIZE``, else 1 GiB."""
    if value is None:
        value = os.environ.get("XAI_MAX_MODEL_SIZE") or DEFAULT_MAX_MODEL_BYTES
    return parse_size(value)


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
    """Whether the safe unpickler resolves ``module.name``: the exact string is on the list."""
    return "." not in name and f"{module}.{name}" in ALLOWED_GLOBALS


def _safe_load_pickle(path: Path, max_bytes: int) -> Any:
    """joblib files (any compression) and plain pickles through :class:`SafeUnpickler`.

    joblib's own helper recognises the compression from the file's magic bytes and hands back a
    decompressing stream; every byte read from it is counted against ``max_bytes``.
    """
    from joblib.numpy_pickle import _validate_fileobject_and_memmap

    with (
        path.open("rb") as handle,
        _validate_fileobject_and_memmap(handle, str(path), None) as (fobj, _),
    ):
        if isinstance(fobj, str):
            raise ModelLoadError(
                f"{path} was written by joblib older than 0.10 and cannot be loaded safely",
                hint="re-save the model with a current joblib, or pass --trust-model",
            )
        return safe_load(BoundedReader(fobj, max_bytes))


def _load_pickle(path: Path, trust: bool, max_bytes: int) -> Any:
    if trust:
        import joblib

        warnings.warn(
            f"--trust-model: loading {path} with a full unpickler; it can run any code",
            stacklevel=2,
        )
        return joblib.load(path)
    return _safe_load_pickle(path, max_bytes)


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


def load_model(
    path: str | Path, *, trust: bool = False, max_bytes: int | str | None = None
) -> LoadedModel:
    """Load a model file by its extension, safely unless ``trust`` is set.

    ``max_bytes`` caps the model's size (see :func:`max_model_bytes`). Raises
    :class:`MissingFileError`, :class:`RefusedPickleError` or :class:`ModelLoadError`.
    """
    limit = max_model_bytes(max_bytes)
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
            return _load_pickle(path, trust, limit)
    elif suffix in NATIVE_SUFFIXES:
        fmt = NATIVE_SUFFIXES[suffix]

        def loader() -> Any:
            check_native_file(path, fmt, limit)
            with _silenced_native_stderr():
                return _load_native(path, fmt)
    else:
        known = ", ".join((*PICKLE_SUFFIXES, *NATIVE_SUFFIXES))
        raise ModelLoadError(
            f"unknown model file type '{suffix or path.name}'", hint=f"use one of: {known}"
        )
    try:
        obj = loader()
    except XaiError:
        raise
    except RecursionError as exc:  # a pickle nested deeper than Python's stack
        raise ModelLoadError(
            f"{path} nests its objects too deeply to load",
            cause=describe(exc),
            hint="check that the file is a saved model and not altered",
        ) from exc
    except Exception as exc:  # library loaders raise many types; all mean "not a model"
        raise ModelLoadError(
            f"{path} is not a readable {fmt} model file",
            cause=describe(exc),
            hint="check that the file is a saved model and not truncated",
        ) from exc
    return LoadedModel(obj=obj, path=path, format=fmt, sha256=file_sha256(path), trusted=trust)
