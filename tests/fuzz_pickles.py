"""Hypothesis strategies for pickle streams: structurally plausible opcode sequences, not noise.

A stream is ``PROTO`` (+ ``FRAME``), then items that push values, call globals (``GLOBAL`` or
``STACK_GLOBAL`` + arguments + ``REDUCE``/``NEWOBJ``/``OBJ``/``INST``), set state (``BUILD``), move
the memo and stack, or are raw opcodes with random argument bytes; then (usually) ``STOP``. Opcode
bytes come from :mod:`pickletools`, so the streams follow the real protocol.

Globals mix names the safe loader admits (numpy, scikit-learn, ...) with names that run code
(``os.system``, ``builtins.exec``, ...). Every code-running global is called with a payload that
creates the marker file, so a test can assert that no payload ever ran.
"""

from __future__ import annotations

import pickletools
import struct
from dataclasses import dataclass
from pickle import encode_long  # type: ignore[attr-defined]

from hypothesis import strategies as st

OP: dict[str, bytes] = {op.name: op.code.encode("latin-1") for op in pickletools.opcodes}
"""Each opcode's byte, by its pickletools name."""

ALLOWED_GLOBALS = (
    ("sklearn.tree._classes", "DecisionTreeClassifier"),
    ("sklearn.ensemble._forest", "RandomForestClassifier"),
    ("xgboost.sklearn", "XGBClassifier"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("pandas.core.frame", "DataFrame"),
    ("pandas.core.indexes.base", "Index"),
    ("scipy.sparse._csr", "csr_matrix"),
    ("collections", "OrderedDict"),
    ("copyreg", "_reconstructor"),
    ("copyreg", "__newobj__"),
    ("_codecs", "encode"),
    ("builtins", "set"),
    ("builtins", "frozenset"),
    ("builtins", "bytearray"),
    ("builtins", "range"),
    ("builtins", "slice"),
    ("builtins", "object"),
    ("datetime", "datetime"),
    ("decimal", "Decimal"),
    ("joblib.numpy_pickle", "NumpyArrayWrapper"),
    ("sklearnx", "Anything"),  # unknown: refused
    ("numpy", "no_such_name"),  # unknown attribute: refused
)

DANGEROUS_GLOBALS = (
    ("os", "system"),
    ("posix", "system"),
    ("builtins", "exec"),
    ("builtins", "eval"),
    ("builtins", "getattr"),
    ("builtins", "__import__"),
    ("subprocess", "Popen"),
    ("subprocess", "getoutput"),
    ("subprocess", "call"),
    ("pathlib", "Path"),
    ("numpy", "load"),
    ("pandas", "read_pickle"),
    ("numpy.testing", "measure"),
)
"""Globals that run code or touch files; the safe loader must refuse every one."""


@dataclass(frozen=True)
class Payloads:
    """Arguments that make each dangerous global create ``marker`` (a path) if it ever runs."""

    marker: str

    @property
    def shell(self) -> str:
        """A shell command for ``os.system``, ``subprocess.getoutput``."""
        return f"touch {self.marker}"

    @property
    def python(self) -> str:
        """Python source for ``exec``/``eval``."""
        return f"__import__('pathlib').Path({self.marker!r}).touch()"

    def strings(self) -> st.SearchStrategy[str]:
        """Payload strings mixed with names and random text."""
        return st.one_of(
            st.sampled_from([self.shell, self.python, "os", "system", "touch", self.marker]),
            st.text(max_size=12),
        )


# --------------------------------------------------------------------------------- encoders


def push_str(text: str) -> bytes:
    """``SHORT_BINUNICODE`` or ``BINUNICODE``, as pickle writes a ``str``."""
    data = text.encode("utf-8", "surrogatepass")
    if len(data) < 256:
        return OP["SHORT_BINUNICODE"] + bytes([len(data)]) + data
    return OP["BINUNICODE"] + struct.pack("<I", len(data)) + data


def push_bytes(data: bytes) -> bytes:
    """``SHORT_BINBYTES`` or ``BINBYTES``."""
    if len(data) < 256:
        return OP["SHORT_BINBYTES"] + bytes([len(data)]) + data
    return OP["BINBYTES"] + struct.pack("<I", len(data)) + data


def push_int(value: int) -> bytes:
    """The opcode pickle would use for ``value`` (``BININT1``/``BININT2``/``BININT``/``LONG1``)."""
    if 0 <= value < 256:
        return OP["BININT1"] + bytes([value])
    if 0 <= value < 65536:
        return OP["BININT2"] + struct.pack("<H", value)
    if -(2**31) <= value < 2**31:
        return OP["BININT"] + struct.pack("<i", value)
    encoded = encode_long(value)
    return OP["LONG1"] + bytes([len(encoded)]) + encoded


def global_ref(module: str, name: str, stack: bool) -> bytes:
    """A reference to ``module.name``: text ``GLOBAL`` or two strings + ``STACK_GLOBAL``."""
    if stack or "\n" in module + name:
        return push_str(module) + push_str(name) + OP["STACK_GLOBAL"]
    return OP["GLOBAL"] + f"{module}\n{name}\n".encode("utf-8", "surrogatepass")


def call(callee: bytes, args: list[bytes], how: str) -> bytes:
    """Call the object that ``callee`` pushes with ``args``, the way ``how`` names."""
    if how == "OBJ":
        return OP["MARK"] + callee + b"".join(args) + OP["OBJ"]
    packed = OP["MARK"] + b"".join(args) + OP["TUPLE"]
    if len(args) == 0:
        packed = OP["EMPTY_TUPLE"]
    elif len(args) <= 3:
        packed = b"".join(args) + OP[("TUPLE1", "TUPLE2", "TUPLE3")[len(args) - 1]]
    if how == "NEWOBJ":
        return callee + packed + OP["NEWOBJ"]
    return callee + packed + OP["REDUCE"]


def inst(module: str, name: str, args: list[bytes]) -> bytes:
    """Protocol 0's ``INST``: the global and the call in one opcode."""
    ref = f"{module}\n{name}\n".encode("utf-8", "surrogatepass")
    return OP["MARK"] + b"".join(args) + OP["INST"] + ref


def as_list(items: list[bytes]) -> bytes:
    """``EMPTY_LIST`` then ``APPENDS`` (or nothing to append)."""
    return OP["EMPTY_LIST"] + (OP["MARK"] + b"".join(items) + OP["APPENDS"] if items else b"")


def as_dict(pairs: list[tuple[bytes, bytes]]) -> bytes:
    """``EMPTY_DICT`` then ``SETITEMS``."""
    body = b"".join(k + v for k, v in pairs)
    return OP["EMPTY_DICT"] + (OP["MARK"] + body + OP["SETITEMS"] if pairs else b"")


# ------------------------------------------------------------------------------- strategies

INTS = st.one_of(
    st.integers(-5, 300),
    st.integers(-(2**20), 2**20),
    # Large enough to be refused by any allocation at once (a terabyte or more), never sizes a
    # machine could actually fill: bytearray(n) zero-fills, so a few gigabytes would be touched.
    st.sampled_from([2**40, 2**63 - 1, 2**64, -(2**63), 10**30]),
)


def scalars(payloads: Payloads) -> st.SearchStrategy[bytes]:
    """Pushes of one scalar: ints, floats, payload strings, bytes, ``None``, booleans."""
    return st.one_of(
        INTS.map(push_int),
        st.floats(allow_nan=True).map(lambda f: OP["BINFLOAT"] + struct.pack(">d", f)),
        payloads.strings().map(push_str),
        st.binary(max_size=16).map(push_bytes),
        st.sampled_from([OP["NONE"], OP["NEWTRUE"], OP["NEWFALSE"], OP["EMPTY_TUPLE"]]),
    )


NAME_TEXT = st.text(st.characters(exclude_categories=("C", "Z")), min_size=1, max_size=10)
"""Random module or attribute names: printable, no spaces or control characters."""


def globals_(pool: tuple[tuple[str, str], ...]) -> st.SearchStrategy[tuple[str, str]]:
    """A name from ``pool``, or a random one now and then."""
    return st.one_of(st.sampled_from(pool), st.sampled_from(pool), st.tuples(NAME_TEXT, NAME_TEXT))


def values(payloads: Payloads, pool: tuple[tuple[str, str], ...]) -> st.SearchStrategy[bytes]:
    """Pushes of one value, nested: containers of values, calls of globals with values, and
    ``BUILD`` of a value with a state dict."""

    def extend(children: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
        args = st.lists(children, max_size=4)
        callee = st.tuples(globals_(pool), st.booleans()).map(lambda t: global_ref(*t[0], t[1]))
        return st.one_of(
            args.map(as_list),
            st.lists(st.tuples(children, children), max_size=3).map(as_dict),
            st.builds(call, callee, args, st.sampled_from(["REDUCE", "REDUCE", "NEWOBJ", "OBJ"])),
            st.builds(lambda g, a: inst(*g, a), globals_(pool), args),
            st.builds(
                lambda obj, state: obj + state + OP["BUILD"],
                children,
                st.lists(st.tuples(payloads.strings().map(push_str), children), max_size=3).map(
                    as_dict
                ),
            ),
        )

    return st.recursive(scalars(payloads), extend, max_leaves=12)


def payload_calls(payloads: Payloads) -> st.SearchStrategy[bytes]:
    """Complete calls of the dangerous globals with arguments that would create the marker."""
    shell, python, marker = push_str(payloads.shell), push_str(payloads.python), payloads.marker
    stack = st.booleans()
    how = st.sampled_from(["REDUCE", "OBJ"])
    import_os = call(global_ref("builtins", "__import__", False), [push_str("os")], "REDUCE")
    getattr_system = call(
        global_ref("builtins", "getattr", True), [import_os, push_str("system")], "REDUCE"
    )
    return st.one_of(
        st.builds(lambda s, h: call(global_ref("os", "system", s), [shell], h), stack, how),
        st.builds(lambda s, h: call(global_ref("posix", "system", s), [shell], h), stack, how),
        st.builds(lambda s: call(global_ref("builtins", "exec", s), [python], "REDUCE"), stack),
        st.builds(lambda s: call(global_ref("builtins", "eval", s), [python], "REDUCE"), stack),
        st.builds(
            lambda s: call(global_ref("subprocess", "getoutput", s), [shell], "REDUCE"), stack
        ),
        st.builds(
            lambda s: call(
                global_ref("subprocess", "call", s),  # Popen would not wait for the marker
                [as_list([push_str("touch"), push_str(marker)])],
                "REDUCE",
            ),
            stack,
        ),
        st.just(call(getattr_system, [shell], "REDUCE")),
        st.just(inst("os", "system", [shell])),
        st.just(inst("builtins", "exec", [python])),
    )


RAW_OPCODES = tuple(
    op.name for op in pickletools.opcodes if op.name not in ("PERSID", "BINPERSID")
) + ("PERSID", "BINPERSID")


def raw_ops() -> st.SearchStrategy[bytes]:
    """Any opcode followed by a few random argument bytes (often malformed on purpose)."""
    return st.builds(lambda name, arg: OP[name] + arg, st.sampled_from(RAW_OPCODES),
                     st.binary(max_size=9))  # fmt: skip


def stack_ops() -> st.SearchStrategy[bytes]:
    """Opcodes that move values between the stack and the memo."""
    return st.one_of(
        st.sampled_from([OP["POP"], OP["DUP"], OP["MEMOIZE"], OP["MARK"], OP["POP_MARK"]]),
        st.integers(0, 8).map(lambda i: OP["BINGET"] + bytes([i])),
        st.integers(0, 8).map(lambda i: OP["BINPUT"] + bytes([i])),
    )


def streams(payloads: Payloads, pool: tuple[tuple[str, str], ...]) -> st.SearchStrategy[bytes]:
    """Whole pickle streams: header, a list of items, ``STOP`` (usually), maybe trailing bytes."""
    callee = st.tuples(globals_(pool), st.booleans()).map(lambda t: global_ref(*t[0], t[1]))
    calls = st.builds(
        call, callee, st.lists(scalars(payloads), max_size=3), st.sampled_from(["REDUCE", "OBJ"])
    )
    item = st.one_of(
        values(payloads, pool),
        calls,
        payload_calls(payloads),
        stack_ops(),
        raw_ops(),
    )

    @st.composite
    def build(draw: st.DrawFn) -> bytes:
        proto = draw(st.sampled_from([b"", *(OP["PROTO"] + bytes([p]) for p in (2, 3, 4, 5))]))
        items = draw(st.lists(item, max_size=6))
        items.insert(draw(st.integers(0, len(items))), draw(calls))  # at least one global
        body = b"".join(items)
        if proto and proto[1] >= 4 and draw(st.booleans()):
            length = draw(st.sampled_from([len(body) + 1, len(body), 0, 2**40]))
            body = OP["FRAME"] + struct.pack("<Q", length) + body
        end = draw(st.sampled_from([OP["STOP"], OP["STOP"], OP["STOP"], b""]))
        return proto + body + end + draw(st.binary(max_size=4))

    return build()
