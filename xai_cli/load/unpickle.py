"""The safe unpickler: names decided before any import, calls limited, sizes bounded.

A pickle is a program: ``GLOBAL`` names a callable, ``REDUCE`` calls it with arguments from the
file, ``BUILD`` hands the object its state. Restricting *modules* (round 1) was not enough: allowed
packages hold classes whose reconstruction opens files (``numpy.memmap``), deletes folders
(numpy's ``DataSource`` finaliser), runs a second unrestricted loader (joblib's ``NDArrayWrapper``
calls ``numpy.load(allow_pickle=True)``) or frees forged native handles (``xgboost.DMatrix``),
and importing a module to inspect a name can itself run code (``numpy.f2py.__main__``).

So this unpickler:

- resolves a global only when its exact ``module.name`` is in
  :data:`xai_cli.load.allowlist.ALLOWED_GLOBALS` (estimator and value classes, and the few
  functions pickles of them really use), deciding on the string before importing anything;
- lets ``REDUCE`` (and the protocol-0 ``INST``/``OBJ`` calls) call only the names in
  :data:`~xai_cli.load.allowlist.REDUCE_CALLABLES`; estimators are rebuilt only the inert way
  (``cls.__new__`` plus ``__setstate__``), never called with arguments from the file;
- replaces the two allowed callables that could be abused (``copyreg._reconstructor`` with an
  arbitrary base class, ``bytearray(n)`` as a memory bomb) by checked versions;
- reads joblib's array wrappers itself: plain arrays with a size check before allocating, object
  arrays through this same unpickler (never ``numpy.load(allow_pickle=True)``), never memory-mapped;
- counts every byte it reads from the (decompressed) stream and stops at ``max_bytes``.
"""

from __future__ import annotations

import _compat_pickle
import copyreg
import importlib
import pickle
from typing import Any, BinaryIO

from xai_cli.errors import ModelLoadError, RefusedPickleError, printable
from xai_cli.load.allowlist import ALLOWED_GLOBALS, REDUCE_CALLABLES

_BUILTIN_BASES = (object, int, float, complex, str, bytes, tuple, list, dict, set, frozenset)
"""The only base classes :func:`_checked_reconstructor` accepts (what ``copyreg`` really writes)."""


class SizeLimitError(ModelLoadError):
    """The model file holds (or expands to) more bytes than the loader's cap."""

    code = "model-too-large"


def _too_large(limit: int) -> SizeLimitError:
    return SizeLimitError(
        f"the model file expands to more than {limit / 2**20:,.0f} MiB",
        cause="the safe loader stops at this size so that a small compressed file cannot fill "
        "memory (a decompression bomb)",
        hint="if the model really is this large and you trust its size, raise the cap with "
        "--max-model-size (or XAI_MAX_MODEL_SIZE), e.g. --max-model-size 8G",
    )


class BoundedReader:
    """A read-only view of a binary stream that refuses to hand out more than ``limit`` bytes."""

    def __init__(self, raw: BinaryIO, limit: int) -> None:
        self._raw = raw
        self.limit = limit
        self.consumed = 0

    @property
    def remaining(self) -> int:
        """Bytes that may still be read before the cap."""
        return self.limit - self.consumed

    def _count(self, data: bytes) -> bytes:
        self.consumed += len(data)
        if self.consumed > self.limit:
            raise _too_large(self.limit)
        return data

    def read(self, size: int | None = -1) -> bytes:
        """Read ``size`` bytes (all that remain when negative); refuse a read past the cap."""
        if size is None or size < 0:
            return self._count(self._raw.read(self.remaining + 1))
        if size > self.remaining:
            raise _too_large(self.limit)
        return self._count(self._raw.read(size))

    def readline(self, size: int | None = -1) -> bytes:
        """One line, at most the remaining allowance plus one byte (so an endless line stops)."""
        cap = self.remaining + 1 if size is None or size < 0 else min(size, self.remaining + 1)
        return self._count(self._raw.readline(cap))


def _checked_reconstructor(cls: type, base: type, state: Any) -> Any:
    """``copyreg._reconstructor`` that calls only a builtin base's ``__init__``, never a class's
    own constructor with arguments from the file."""
    if base not in _BUILTIN_BASES:
        raise RefusedPickleError(
            f"refused to rebuild '{getattr(cls, '__name__', cls)}' on base "
            f"'{getattr(base, '__name__', base)}' from the pickle",
            cause="copyreg._reconstructor may only use a builtin base class",
        )
    return copyreg._reconstructor(cls, base, state)  # type: ignore[attr-defined]


_CONCRETE = (bytes, bytearray, str, list, tuple, set, frozenset, dict)


def _concrete_only(kind: type) -> Any:
    """``kind(arg)`` only for an argument already materialised in the file: never a number
    (``bytearray(10**12)`` allocates that much) or a lazy iterable (``set(range(10**12))``, a
    ``RangeIndex``) that would make a few bytes of pickle run for hours."""

    def build(*args: Any) -> Any:
        if args and not isinstance(args[0], _CONCRETE):
            raise RefusedPickleError(
                f"refused to call {kind.__name__}({type(args[0]).__name__}) from the pickle",
                cause=f"{kind.__name__} may only be built from values stored in the file",
            )
        return kind(*args)

    return build


_REPLACEMENTS: dict[str, Any] = {
    "copyreg._reconstructor": _checked_reconstructor,
    "builtins.bytearray": _concrete_only(bytearray),
    "builtins.bytes": _concrete_only(bytes),
    "builtins.set": _concrete_only(set),
    "builtins.frozenset": _concrete_only(frozenset),
}


def _canonical(module: str, name: str, proto: int) -> str:
    """``module.name`` after Python 2 compatibility renames (``__builtin__`` -> ``builtins``)."""
    if proto < 3:
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        elif module in _compat_pickle.IMPORT_MAPPING:
            module = _compat_pickle.IMPORT_MAPPING[module]
    return f"{module}.{name}"


class SafeUnpickler(pickle._Unpickler):  # type: ignore[name-defined,misc]
    """Pure-Python unpickler with the allow-list, the call restriction and joblib's arrays."""

    dispatch = pickle._Unpickler.dispatch.copy()  # type: ignore[attr-defined]

    def __init__(self, reader: BoundedReader) -> None:
        super().__init__(reader)
        self.reader = reader
        self._names: dict[int, str] = {}

    def find_class(self, module: str, name: str) -> Any:
        """Resolve ``module.name`` only when the exact string is allowed; import nothing else."""
        key = _canonical(module, name, self.proto)
        if "." in name or key not in ALLOWED_GLOBALS:
            raise RefusedPickleError(
                f"refused to load global '{printable(f'{module}.{name}')}' from the pickle",
                cause="it is not one of the estimator, value or helper classes the safe loader "
                "admits (xai_cli/load/allowlist.py); nothing of it was imported or run",
            )
        if key in _REPLACEMENTS:
            obj = _REPLACEMENTS[key]
        else:
            mod_name, attr = key.rsplit(".", 1)
            obj = getattr(importlib.import_module(mod_name), attr)
        self._names[id(obj)] = key
        return obj

    def _check_call(self, func: Any, has_args: bool = True) -> None:
        key = self._names.get(id(func))
        if key is None or (has_args and key not in REDUCE_CALLABLES):
            shown = printable(key or getattr(func, "__qualname__", type(func).__name__))
            raise RefusedPickleError(
                f"refused to call '{shown}' with arguments from the pickle",
                cause="the safe loader rebuilds estimators from their saved state only; this "
                "name is not one of the value constructors it may call",
            )

    def load_reduce(self) -> None:
        """``REDUCE``: call ``stack[-2](*stack[-1])`` only for an allowed value constructor."""
        self._check_call(self.stack[-2])
        super().load_reduce()

    dispatch[pickle.REDUCE[0]] = load_reduce

    def _instantiate(self, klass: Any, args: list[Any]) -> None:
        """``INST``/``OBJ`` (protocol 0/1): ``klass.__new__`` when bare, else a checked call."""
        self._check_call(klass, has_args=bool(args) or not isinstance(klass, type))
        super()._instantiate(klass, args)

    def load_build(self) -> None:
        """``BUILD``, then joblib's array wrappers replaced by arrays read safely."""
        super().load_build()
        from joblib.numpy_pickle import NumpyArrayWrapper

        if type(self.stack[-1]) is NumpyArrayWrapper:
            self.stack[-1] = self._read_wrapped_array(self.stack[-1])

    dispatch[pickle.BUILD[0]] = load_build

    def _read_wrapped_array(self, wrapper: Any) -> Any:
        """Read the array that follows a joblib ``NumpyArrayWrapper`` in the stream.

        Mirrors joblib's ``read_array`` but never memory-maps, never calls ``pickle.load`` or
        ``numpy.load``, and checks the declared size against the remaining allowance before
        allocating anything.
        """
        import numpy as np
        from joblib.numpy_pickle_utils import _ensure_native_byte_order

        dtype, shape, order = wrapper.dtype, wrapper.shape, getattr(wrapper, "order", "C")
        if (
            wrapper.subclass is not np.ndarray
            or not isinstance(dtype, np.dtype)
            or not isinstance(shape, tuple)
            or not all(isinstance(n, int) and n >= 0 for n in shape)
            or order not in ("C", "F")
        ):
            raise ModelLoadError(
                "the model file holds a malformed joblib array header",
                hint="check that the file is a model saved with joblib and not altered",
            )
        count = 1
        for n in shape:
            count *= n
        if dtype.hasobject:
            nested = SafeUnpickler(self.reader)
            nested._names = self._names
            array = nested.load()
            if not isinstance(array, np.ndarray):
                raise ModelLoadError("the model file holds a malformed joblib object array")
        else:
            if getattr(wrapper, "numpy_array_alignment_bytes", None) is not None:
                padding = self.reader.read(1)
                if padding and padding[0]:
                    self.reader.read(padding[0])
            nbytes = count * dtype.itemsize
            if nbytes > self.reader.remaining:
                raise _too_large(self.reader.limit)
            data = self.reader.read(nbytes)
            if len(data) != nbytes:
                raise ModelLoadError("the model file ends in the middle of an array")
            array = np.frombuffer(data, dtype=dtype, count=count).copy()
            array = array.reshape(shape[::-1]).transpose() if order == "F" else array.reshape(shape)
        return _ensure_native_byte_order(array)


def safe_load(reader: BoundedReader) -> Any:
    """Unpickle one object from ``reader`` with :class:`SafeUnpickler`."""
    return SafeUnpickler(reader).load()
