"""Checks on native model files before a library's C++ parser sees them.

XGBoost's JSON and UBJSON parsers recurse once per nesting level: a file nested 200,000 levels
deep crashes the process with a segmentation fault, which no ``try`` can catch. A real XGBoost
model is nested about ten levels deep, so files deeper than :data:`MAX_NESTING` are refused here,
where the answer is a readable error. The scans are linear and need no recursion: JSON through
one regular expression (strings blanked) and a cumulative sum; UBJSON by walking its markers with
an explicit stack, skipping typed numeric arrays (most of a model's bytes) in one step.
"""

from __future__ import annotations

import re
import struct
from pathlib import Path

from xai_cli.errors import ModelLoadError

MAX_NESTING = 64
"""Deepest container nesting accepted in a native model file (XGBoost writes about 10)."""

_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)

_UBJ_FIXED = {
    b"Z": 0, b"N": 0, b"T": 0, b"F": 0, b"i": 1, b"U": 1, b"C": 1,
    b"I": 2, b"l": 4, b"d": 4, b"L": 8, b"D": 8,
}  # fmt: skip
_UBJ_INT = {b"i": ">b", b"U": ">B", b"I": ">h", b"l": ">i", b"L": ">q"}


def _too_deep(path: Path, depth: int | str) -> ModelLoadError:
    return ModelLoadError(
        f"{path} nests its data more than {MAX_NESTING} levels deep ({depth})",
        cause="a real model file is nested about ten levels deep; one this deep would crash the "
        "model library's parser instead of loading",
        hint="check that the file is a model saved by XGBoost and not altered",
    )


def check_json_nesting(path: Path, data: bytes) -> None:
    """Refuse JSON nested deeper than :data:`MAX_NESTING` (brackets inside strings ignored)."""
    import numpy as np

    blanked = _JSON_STRING.sub(b'""', data)
    codes = np.frombuffer(blanked, dtype=np.uint8)
    steps = np.zeros(codes.shape, dtype=np.int32)
    steps[(codes == ord("{")) | (codes == ord("["))] = 1
    steps[(codes == ord("}")) | (codes == ord("]"))] = -1
    if steps.size and int(np.cumsum(steps).max()) > MAX_NESTING:
        raise _too_deep(path, "JSON")


class _UbjReader:
    """Cursor over UBJSON bytes; every read is bounds-checked."""

    def __init__(self, path: Path, data: bytes) -> None:
        self.path, self.data, self.pos = path, data, 0

    def bad(self) -> ModelLoadError:
        return ModelLoadError(
            f"{self.path} is not a readable xgboost model file",
            cause=f"malformed UBJSON at byte {self.pos}",
            hint="check that the file is a model saved by XGBoost and not truncated",
        )

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise self.bad()
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def peek(self) -> bytes:
        if self.pos >= len(self.data):
            raise self.bad()
        return self.data[self.pos : self.pos + 1]

    def integer(self, marker: bytes | None = None) -> int:
        marker = marker or self.take(1)
        if marker not in _UBJ_INT:
            raise self.bad()
        fmt = _UBJ_INT[marker]
        return int(struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0])

    def scalar(self, marker: bytes) -> None:
        if marker in _UBJ_FIXED:
            self.take(_UBJ_FIXED[marker])
        elif marker in (b"S", b"H"):
            self.take(self.integer())
        else:
            raise self.bad()


def check_ubjson_nesting(path: Path, data: bytes) -> None:
    """Walk UBJSON markers without recursion; refuse nesting deeper than :data:`MAX_NESTING`."""
    r = _UbjReader(path, data)
    # Each frame: [closing marker, items left (-1 = until closer), element type or None, is_object]
    stack: list[list] = []
    marker: bytes | None = r.take(1)
    while True:
        if marker is not None:
            if marker in (b"[", b"{"):
                if len(stack) >= MAX_NESTING:
                    raise _too_deep(path, "UBJSON")
                elem_type, count = None, -1
                if r.pos < len(data) and r.peek() == b"$":
                    r.take(1)
                    elem_type = r.take(1)
                    if r.take(1) != b"#":
                        raise r.bad()
                    count = r.integer()
                elif r.pos < len(data) and r.peek() == b"#":
                    r.take(1)
                    count = r.integer()
                if count < -1:
                    raise r.bad()
                is_object = marker == b"{"
                if elem_type in _UBJ_FIXED and not is_object:
                    r.take(count * _UBJ_FIXED[elem_type])  # a typed numeric array: skip it whole
                else:
                    stack.append([b"]" if marker == b"[" else b"}", count, elem_type, is_object])
            else:
                r.scalar(marker)
        if not stack:
            if r.pos != len(data):
                raise r.bad()
            return
        frame = stack[-1]
        if frame[1] == 0 or (frame[1] == -1 and r.peek() == frame[0]):
            if frame[1] == -1:
                r.take(1)
            stack.pop()
            marker = None
            continue
        if frame[1] > 0:
            frame[1] -= 1
        if frame[3]:
            r.take(r.integer())  # an object key: a length-prefixed string without its marker
        marker = frame[2] if frame[2] is not None else r.take(1)


def check_native_file(path: Path, library: str, max_bytes: int) -> None:
    """Size cap for every native format; nesting depth for XGBoost's JSON and UBJSON."""
    size = path.stat().st_size
    if size > max_bytes:
        raise ModelLoadError(
            f"{path} is {size / 2**20:,.0f} MiB, above the loader's cap of "
            f"{max_bytes / 2**20:,.0f} MiB",
            hint="if the model really is this large, raise the cap with --max-model-size (or "
            "XAI_MAX_MODEL_SIZE), e.g. --max-model-size 8G",
        )
    if library != "xgboost":
        return
    data = path.read_bytes()
    if path.suffix.lower() == ".json":
        check_json_nesting(path, data)
    else:
        check_ubjson_nesting(path, data)
