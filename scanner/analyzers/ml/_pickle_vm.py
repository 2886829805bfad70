"""A symbolic pickle machine: walks opcodes, never imports or calls anything.

It keeps a stack and a memo of *symbolic* values so that tricks which defeat simple opcode
scanners still resolve: ``STACK_GLOBAL`` whose names come from the memo or from string
concatenation gadgets, ``DUP``/``PUT``/``GET`` shuffles, protocol 0 ``INST``, nested pickles
hidden in bytes constants. What it reports is every global the real unpickler would import,
with the byte offset of the opcode that names it.

The file is about 500 lines because two thirds of it is one function, the opcode loop
``_walk``, kept whole on purpose (its docstring says why); the rest is the few helpers that
loop calls. Sniffing a prefix ("is this a pickle?") is in ``_pickle_sniff``.

Example::

    with open("model.pkl", "rb") as f:
        result = scan_pickle(f)
    for g in result.globals:
        print(g.module, g.name, g.offset)
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import BinaryIO

from scanner.analyzers.ml._pickle_values import (
    AttributeWrite,
    BlobRef,
    Call,
    GlobalRef,
    PickleError,
    PickleGlobal,
    PickleScan,
    SymDict,
    Unknown,
)

__all__ = [
    "AttributeWrite",
    "BlobRef",
    "Call",
    "GlobalRef",
    "PickleError",
    "PickleGlobal",
    "PickleScan",
    "SymDict",
    "Unknown",
    "scan_pickle",
]

# Largest string/bytes constant kept in memory; longer ones become a BlobRef (offset, length).
_INLINE_LIMIT = 64 * 1024
# Hard cap on one pickle's opcode count: a legitimate checkpoint pickle is far below this.
DEFAULT_MAX_OPS = 10_000_000
# Cap on memo entries: each costs about 70 bytes here, and a pickle of MEMOIZE opcodes adds one
# per byte; real checkpoints memoise a few entries per tensor, far below this.
DEFAULT_MAX_MEMO = 1_000_000
# No real constant is larger than this (256 TiB); bigger claims would overflow seek().
_MAX_LENGTH = 1 << 48


class _Mark:
    __slots__ = ()


_MARK = _Mark()

# A hook called on BUILD: (obj, state, stream) -> None. The joblib reader uses it to skip the raw
# array bytes joblib writes inline right after a NumpyArrayWrapper is built.
BuildHook = Callable[[Call, object, BinaryIO, "PickleScan"], None]


def _read_exact(f: BinaryIO, n: int, what: str) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise PickleError(f"truncated pickle: {what} needs {n} bytes, got {len(data)}")
    return data


def _readline(f: BinaryIO) -> bytes:
    line = f.readline(1 << 16)
    if not line.endswith(b"\n"):
        raise PickleError("truncated pickle: unterminated text argument")
    return line[:-1]


def _decode_string_arg(raw: bytes) -> str:
    """Decode protocol 0 ``STRING`` (a quoted Python literal), leniently as pickle does."""
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[:1] in (b"'", b'"'):
        body = raw[1:-1]
    else:
        raise PickleError("protocol 0 STRING argument is not quoted")
    return body.decode("unicode_escape", "replace")


def _text(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return None


def scan_pickle(
    f: BinaryIO,
    *,
    max_ops: int = DEFAULT_MAX_OPS,
    max_memo: int = DEFAULT_MAX_MEMO,
    build_hook: BuildHook | None = None,
) -> PickleScan:
    """Walk one pickle from the current position of ``f`` up to and including ``STOP``.

    Raises ``PickleError`` when the stream is not a well-formed pickle. ``f`` is left just after
    ``STOP``. Never imports, never calls, never allocates more than the opcodes ask for within
    the caps (long constants are referenced, not copied).
    """
    out = PickleScan(start=f.tell())
    try:
        return _walk(f, out, max_ops, max_memo, build_hook)
    except PickleError as exc:
        if exc.partial is None:
            exc.partial = out
        raise


def _walk(
    f: BinaryIO, out: PickleScan, max_ops: int, max_memo: int, build_hook: BuildHook | None
) -> PickleScan:
    """The opcode loop. One function on purpose, well over the house's 80 lines: it is the hot
    path of every checkpoint scan, and a function call per opcode (a dispatch table of
    handlers) would add to every one of millions of opcodes; the branches are ordered by how
    often real checkpoints use each opcode."""
    stack: list[object] = []
    metastack: list[list[object]] = []
    memo: dict[int, object] = {}
    ops = 0

    def store(key: int) -> None:
        # New keys past the cap stop the walk; overwriting a key never grows the memo.
        if len(memo) >= max_memo and key not in memo:
            raise PickleError(f"more than {max_memo} memo entries: refusing to continue")
        memo[key] = _top(stack, pos)

    def push(value: object) -> None:
        # Looks ``stack`` up after the value is computed: pop_mark() rebinds it.
        stack.append(value)

    def pop() -> object:
        if not stack:
            raise PickleError(f"stack underflow at offset {pos}")
        return stack.pop()

    def pop_mark() -> list[object]:
        nonlocal stack
        if not metastack:
            raise PickleError(f"MARK missing at offset {pos}")
        items = stack
        stack = metastack.pop()
        return items

    def add_global(module: object, name: object, how: str) -> GlobalRef | Unknown:
        mod_s, name_s = _text(module), _text(name)
        if isinstance(module, str) and isinstance(name, str):
            out.globals.append(PickleGlobal(module, name, pos, how))
            return GlobalRef(module, name)
        # Names computed at load time (a call result, a persistent id...): cannot be proven safe.
        out.globals.append(
            PickleGlobal(
                mod_s if mod_s is not None else f"<{_describe(module)}>",
                name_s if name_s is not None else f"<{_describe(name)}>",
                pos,
                how,
                resolved=False,
            )
        )
        return Unknown("computed global")

    def blob(length: int, what: str, as_text: bool) -> object:
        start = f.tell()
        if length < 0 or length > _MAX_LENGTH:
            raise PickleError(f"{what} claims {length} bytes")
        if length <= _INLINE_LIMIT:
            data = _read_exact(f, length, what)
            if not as_text:
                out.small_bytes.append((start, data))
                return data
            try:
                return data.decode("utf-8", "surrogatepass")
            except UnicodeDecodeError as exc:
                raise PickleError(f"{what} at offset {start} is not valid UTF-8") from exc
        prefix = _read_exact(f, 64, what)
        end = start + length
        # Seeking past the end does not fail on its own: check the stream really holds the bytes
        # (seek forward only: compressed streams rewind on a backward seek).
        f.seek(end - 1)
        if len(f.read(1)) != 1:
            raise PickleError(f"truncated pickle: {what} of {length} bytes runs past the end")
        ref = BlobRef(start, length, prefix)
        if not as_text:
            out.blobs.append(ref)
        return ref

    while True:
        pos = f.tell()
        code = f.read(1)
        if not code:
            raise PickleError(f"truncated pickle: no STOP before end of data (offset {pos})")
        ops += 1
        if ops > max_ops:
            raise PickleError(f"more than {max_ops} opcodes: refusing to continue")
        op = code[0]

        # Ordered by how often real checkpoints use each opcode (state_dict pickles).
        if op == 0x72:  # LONG_BINPUT
            store(struct.unpack("<I", _read_exact(f, 4, "LONG_BINPUT"))[0])
        elif op in (0x67, 0x68, 0x6A):  # GET, BINGET, LONG_BINGET
            if op == 0x67:
                try:
                    idx = int(_readline(f))
                except ValueError as exc:
                    raise PickleError(f"bad GET argument at offset {pos}") from exc
            elif op == 0x68:
                idx = _read_exact(f, 1, "BINGET")[0]
            else:
                idx = struct.unpack("<I", _read_exact(f, 4, "LONG_BINGET"))[0]
            if idx not in memo:
                raise PickleError(f"memo key {idx} not found at offset {pos}")
            stack.append(memo[idx])
        elif op == 0x28:  # MARK
            metastack.append(stack)
            stack = []
        elif op == 0x58:  # BINUNICODE
            n = struct.unpack("<I", _read_exact(f, 4, "BINUNICODE"))[0]
            stack.append(blob(n, "BINUNICODE", as_text=True))
        elif op == 0x4D:  # BININT2
            stack.append(struct.unpack("<H", _read_exact(f, 2, "BININT2"))[0])
        elif op == 0x74:  # TUPLE
            push(tuple(pop_mark()))
        elif op == 0x4B:  # BININT1
            stack.append(_read_exact(f, 1, "BININT1")[0])
        elif op == 0x85:  # TUPLE1
            stack.append((pop(),))
        elif op == 0x52:  # REDUCE
            args = pop()
            func = pop()
            stack.append(Call(func, args))
        elif op == 0x51:  # BINPERSID
            pid = pop()
            out.persistent_ids += 1
            stack.append(Call(Unknown("persistent_load"), pid))

        elif op == 0x89:
            stack.append(False)
        elif op == 0x29:  # EMPTY_TUPLE
            stack.append(())
        elif op == 0x71:  # BINPUT
            store(_read_exact(f, 1, "BINPUT")[0])
        elif op == 0x8C:  # SHORT_BINUNICODE
            n = _read_exact(f, 1, "SHORT_BINUNICODE")[0]
            stack.append(blob(n, "SHORT_BINUNICODE", as_text=True))
        elif op == 0x94:  # MEMOIZE
            store(len(memo))
        elif op == 0x70:  # PUT
            raw = _readline(f)
            try:
                index = int(raw)
            except ValueError as exc:
                raise PickleError(f"bad PUT argument at offset {pos}") from exc
            store(index)
        elif op == 0x80:  # PROTO
            out.protocol = _read_exact(f, 1, "PROTO")[0]
            if out.protocol > 5:
                raise PickleError(f"unsupported pickle protocol {out.protocol}")
        elif op == 0x95:  # FRAME
            _read_exact(f, 8, "FRAME")
        elif op == 0x2E:  # STOP
            out.result = pop() if stack else None
            out.end = f.tell()
            out.opcodes = ops
            return out
        elif op == 0x30:  # POP
            if stack:
                stack.pop()
            else:
                pop_mark()
        elif op == 0x31:  # POP_MARK
            pop_mark()
        elif op == 0x32:  # DUP
            if not stack:
                raise PickleError(f"DUP on empty stack at offset {pos}")
            stack.append(stack[-1])
        elif op == 0x4E:  # NONE
            stack.append(None)
        elif op == 0x88:
            stack.append(True)
        elif op == 0x49:  # INT
            raw = _readline(f)
            if raw == b"00":
                stack.append(False)
            elif raw == b"01":
                stack.append(True)
            else:
                try:
                    stack.append(int(raw, 0) if raw[:2] in (b"0x", b"0o") else int(raw))
                except ValueError as exc:
                    raise PickleError(f"bad INT argument at offset {pos}") from exc
        elif op == 0x4A:  # BININT
            stack.append(struct.unpack("<i", _read_exact(f, 4, "BININT"))[0])
        elif op == 0x4C:  # LONG
            raw = _readline(f).rstrip(b"L")
            try:
                stack.append(int(raw))
            except ValueError as exc:
                raise PickleError(f"bad LONG argument at offset {pos}") from exc
        elif op == 0x8A:  # LONG1
            n = _read_exact(f, 1, "LONG1")[0]
            stack.append(int.from_bytes(_read_exact(f, n, "LONG1"), "little", signed=True))
        elif op == 0x8B:  # LONG4
            n = struct.unpack("<i", _read_exact(f, 4, "LONG4"))[0]
            if n < 0 or n > (1 << 20):
                raise PickleError(f"LONG4 length {n} out of range")
            stack.append(int.from_bytes(_read_exact(f, n, "LONG4"), "little", signed=True))
        elif op == 0x46:  # FLOAT
            raw = _readline(f)
            try:
                stack.append(float(raw))
            except ValueError as exc:
                raise PickleError(f"bad FLOAT argument at offset {pos}") from exc
        elif op == 0x47:  # BINFLOAT
            stack.append(struct.unpack(">d", _read_exact(f, 8, "BINFLOAT"))[0])
        elif op == 0x53:  # STRING
            stack.append(_decode_string_arg(_readline(f)))
        elif op == 0x54:  # BINSTRING
            n = struct.unpack("<i", _read_exact(f, 4, "BINSTRING"))[0]
            stack.append(_latin(blob(n, "BINSTRING", as_text=False)))
        elif op == 0x55:  # SHORT_BINSTRING
            n = _read_exact(f, 1, "SHORT_BINSTRING")[0]
            stack.append(_latin(blob(n, "SHORT_BINSTRING", as_text=False)))
        elif op == 0x56:  # UNICODE
            stack.append(_readline(f).decode("raw_unicode_escape", "replace"))
        elif op == 0x8D:  # BINUNICODE8
            n = struct.unpack("<Q", _read_exact(f, 8, "BINUNICODE8"))[0]
            stack.append(blob(n, "BINUNICODE8", as_text=True))
        elif op == 0x42:  # BINBYTES
            n = struct.unpack("<I", _read_exact(f, 4, "BINBYTES"))[0]
            stack.append(blob(n, "BINBYTES", as_text=False))
        elif op == 0x43:  # SHORT_BINBYTES
            n = _read_exact(f, 1, "SHORT_BINBYTES")[0]
            stack.append(blob(n, "SHORT_BINBYTES", as_text=False))
        elif op == 0x8E:  # BINBYTES8
            n = struct.unpack("<Q", _read_exact(f, 8, "BINBYTES8"))[0]
            stack.append(blob(n, "BINBYTES8", as_text=False))
        elif op == 0x96:  # BYTEARRAY8
            n = struct.unpack("<Q", _read_exact(f, 8, "BYTEARRAY8"))[0]
            stack.append(blob(n, "BYTEARRAY8", as_text=False))
        elif op == 0x97:  # NEXT_BUFFER (out-of-band buffer supplied by the loader)
            stack.append(Unknown("out-of-band buffer"))
        elif op == 0x98:  # READONLY_BUFFER
            if not stack:
                raise PickleError(f"READONLY_BUFFER on empty stack at offset {pos}")
        elif op == 0x86:  # TUPLE2
            b = pop()
            a = pop()
            stack.append((a, b))
        elif op == 0x87:  # TUPLE3
            c = pop()
            b = pop()
            a = pop()
            stack.append((a, b, c))
        elif op == 0x5D:  # EMPTY_LIST
            stack.append([])
        elif op == 0x6C:  # LIST
            push(list(pop_mark()))
        elif op == 0x61:  # APPEND
            item = pop()
            target = pop()
            if isinstance(target, list):
                target.append(item)
            stack.append(target)
        elif op == 0x65:  # APPENDS
            items = pop_mark()
            target = pop()
            if isinstance(target, list):
                target.extend(items)
            stack.append(target)
        elif op == 0x7D:  # EMPTY_DICT
            stack.append(SymDict())
        elif op == 0x64:  # DICT
            items = pop_mark()
            d = SymDict()
            d.pairs.extend(zip(items[0::2], items[1::2], strict=False))
            stack.append(d)
        elif op == 0x73:  # SETITEM
            value = pop()
            key = pop()
            target = pop()
            if isinstance(target, SymDict):
                target.pairs.append((key, value))
            stack.append(target)
        elif op == 0x75:  # SETITEMS
            items = pop_mark()
            target = pop()
            if isinstance(target, SymDict):
                target.pairs.extend(zip(items[0::2], items[1::2], strict=False))
            stack.append(target)
        elif op == 0x8F:  # EMPTY_SET
            stack.append([])
        elif op == 0x90:  # ADDITEMS
            items = pop_mark()
            target = pop()
            if isinstance(target, list):
                target.extend(items)
            stack.append(target)
        elif op == 0x91:  # FROZENSET
            push(tuple(pop_mark()))
        elif op == 0x63:  # GLOBAL
            module = _readline(f).decode("utf-8", "replace")
            name = _readline(f).decode("utf-8", "replace")
            stack.append(add_global(module, name, "GLOBAL"))
        elif op == 0x93:  # STACK_GLOBAL
            name_v = pop()
            module_v = pop()
            stack.append(add_global(module_v, name_v, "STACK_GLOBAL"))
        elif op == 0x69:  # INST
            module = _readline(f).decode("utf-8", "replace")
            name = _readline(f).decode("utf-8", "replace")
            cls = add_global(module, name, "INST")
            push(Call(cls, tuple(pop_mark())))
        elif op == 0x6F:  # OBJ
            items = pop_mark()
            if not items:
                raise PickleError(f"OBJ without a class at offset {pos}")
            stack.append(Call(items[0], tuple(items[1:])))
        elif op == 0x81:  # NEWOBJ
            args = pop()
            cls_v = pop()
            stack.append(Call(cls_v, args))
        elif op == 0x92:  # NEWOBJ_EX
            kwargs = pop()
            args = pop()
            cls_v = pop()
            stack.append(Call(cls_v, (args, kwargs)))
        elif op == 0x62:  # BUILD
            state = pop()
            obj = pop()
            attrs = _state_attrs(state)
            if isinstance(obj, GlobalRef):
                # setattr on a class, function or module: rewrites code the process runs
                out.attribute_writes.append(AttributeWrite(pos, obj, attrs))
            elif any(a.startswith("__") and a.endswith("__") for a in attrs):
                out.attribute_writes.append(AttributeWrite(pos, None, attrs))
            if isinstance(obj, Call):
                obj.state = state
                if build_hook is not None:
                    build_hook(obj, state, f, out)
            stack.append(obj)
        elif op in (0x82, 0x83, 0x84):  # EXT1, EXT2, EXT4
            width = {0x82: 1, 0x83: 2, 0x84: 4}[op]
            ext = int.from_bytes(_read_exact(f, width, "EXT"), "little")
            out.extensions.append((pos, ext))
            out.globals.append(PickleGlobal("<copyreg extension>", str(ext), pos, "EXT", False))
            stack.append(Unknown("extension"))
        elif op == 0x50:  # PERSID
            _readline(f)
            out.persistent_ids += 1
            stack.append(Unknown("persistent id"))
        else:
            raise PickleError(f"unknown opcode 0x{op:02x} at offset {pos}")


def _state_attrs(state: object) -> tuple[str, ...]:
    """Attribute names a BUILD state sets: a dict, or ``(dict, slotstate)``."""
    parts = state if isinstance(state, tuple) and len(state) == 2 else (state,)
    names: list[str] = []
    for part in parts:
        if isinstance(part, SymDict):
            names.extend(k for k, _ in part.pairs if isinstance(k, str))
    return tuple(names)


def _top(stack: list[object], pos: int) -> object:
    if not stack:
        raise PickleError(f"memo store from an empty stack at offset {pos}")
    return stack[-1]


def _latin(value: object) -> object:
    # Protocol <3 BINSTRING is a Python 2 str: pickle decodes it as ASCII by default; latin-1 keeps
    # every byte and is what names written by a hostile tool would need.
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return value


def _describe(value: object) -> str:
    if isinstance(value, Call):
        func = value.func
        if isinstance(func, GlobalRef):
            return f"result of {func.dotted}()"
        return "result of a call"
    if isinstance(value, Unknown):
        return value.what
    if isinstance(value, GlobalRef):
        return value.dotted
    return type(value).__name__
