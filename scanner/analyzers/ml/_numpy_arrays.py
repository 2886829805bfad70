"""NumPy inside pickle-family files: ``.npy`` object arrays and joblib's inline arrays.

``np.save`` of an object array writes a pickle after the ``.npy`` header (``np.load`` runs it
with ``allow_pickle=True``); joblib writes array bytes, or a whole nested pickle for object
arrays, right after each ``NumpyArrayWrapper``. Array bytes are skipped by seeking; nested
pickles are walked like any other.
"""

from __future__ import annotations

import ast
import io
import re
import struct
from typing import BinaryIO

from scanner.analyzers.ml._common import model_finding
from scanner.analyzers.ml._pickle_ctx import (
    MAX_BLOB,
    PickleFormatError,
    ScanCtx,
    Walker,
    label,
)
from scanner.analyzers.ml._pickle_vm import Call, GlobalRef, PickleError, SymDict
from scanner.models import Severity

__all__ = ["NPY_MAGIC", "scan_npy", "skip_joblib_array"]

NPY_MAGIC = b"\x93NUMPY"


def scan_npy(walker: Walker, f: BinaryIO, ctx: ScanCtx, *, member: str, depth: int) -> None:
    """A ``.npy`` file: an object array is a finding, and its pickle is walked."""
    start = f.tell()
    head = f.read(10)
    if len(head) < 10 or not head.startswith(NPY_MAGIC):
        raise PickleFormatError(f"{label(member)}: truncated .npy header")
    major = head[6]
    if major == 1:
        hlen = struct.unpack("<H", head[8:10])[0]
        hstart = start + 10
    elif major in (2, 3):
        hlen = struct.unpack("<I", head[8:10] + f.read(2))[0]
        hstart = start + 12
    else:
        raise PickleFormatError(f"{label(member)}: unknown .npy version {major}")
    if hlen > 1 << 20:
        raise PickleFormatError(f"{label(member)}: .npy header of {hlen} bytes")
    f.seek(hstart)
    raw = f.read(hlen)
    text = raw.decode("latin-1").strip()
    # Python 2 wrote long integers as "2L" in headers; numpy reads those files too.
    text = re.sub(r"\b(\d+)L\b", r"\1", text)
    try:
        header = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError) as exc:
        raise PickleFormatError(f"{label(member)}: .npy header is not a literal") from exc
    if not isinstance(header, dict) or "descr" not in header:
        raise PickleFormatError(f"{label(member)}: .npy header lacks 'descr'")
    if not _descr_has_object(header["descr"]):
        return
    ctx.out.append(
        model_finding(
            walker.name,
            "numpy-object-array",
            Severity.MEDIUM,
            f"{ctx.entry.path}!{label(member)} holds a NumPy object array: loading it "
            "needs allow_pickle=True, which runs the pickle inside.",
            ctx.location(),
            f"{member}:object-array",
            cwe=502,
            properties={"member": member},
        )
    )
    f.seek(hstart + hlen)
    walker.scan_pickle_stream(f, ctx, member=f"{member}#object-array", depth=depth + 1)


def skip_joblib_array(
    walker: Walker, obj: Call, state: object, f: BinaryIO, ctx: ScanCtx, member: str, depth: int
) -> None:
    """joblib writes array bytes (or a nested pickle for object arrays) right after BUILD."""
    func = obj.func
    if not (isinstance(func, GlobalRef) and func.name == "NumpyArrayWrapper"):
        return
    if not isinstance(state, SymDict):
        raise PickleError("joblib NumpyArrayWrapper without a state dict")
    shape = state.get("shape")
    dtype = state.get("dtype")
    if not isinstance(shape, tuple) or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise PickleError("joblib array with an unreadable shape")
    descr = _dtype_descr(dtype)
    if descr is None:
        raise PickleError("joblib array with an unreadable dtype")
    if "O" in descr:
        # Object arrays are a whole pickle written inline: the classic hiding place.
        walker.scan_one(f, ctx, member=f"{member}#joblib-object-array", depth=depth + 1)
        return
    itemsize = _itemsize(descr)
    if "numpy_array_alignment_bytes" in [k for k, _ in state.pairs]:
        pad = f.read(1)
        if len(pad) != 1:
            raise PickleError("truncated joblib array padding")
        f.seek(pad[0], io.SEEK_CUR)
    count = 1
    for d in shape:
        count *= d
    if count * itemsize > MAX_BLOB:
        raise PickleError(f"joblib array of {count * itemsize} bytes")
    end = f.tell() + count * itemsize
    if count * itemsize:
        f.seek(end - 1)
        if len(f.read(1)) != 1:
            raise PickleError("truncated joblib array data")
    f.seek(end)


def _dtype_descr(dtype: object) -> str | None:
    """The type string of a symbolic ``numpy.dtype(...)`` call."""
    if isinstance(dtype, Call) and isinstance(dtype.args, tuple) and dtype.args:
        first = dtype.args[0]
        if isinstance(first, str):
            state = dtype.state
            # Structured dtypes carry their fields in the BUILD state; any object field counts.
            if isinstance(state, tuple) and len(state) > 3 and state[3] is not None:
                return first + "|O" if _state_has_object(state[3]) else first + "|V"
            return first
    if isinstance(dtype, str):
        return dtype
    return None


def _state_has_object(fields: object) -> bool:
    if isinstance(fields, SymDict):
        return any(_state_has_object(v) for _, v in fields.pairs)
    if isinstance(fields, tuple):
        return any(_state_has_object(v) for v in fields)
    if isinstance(fields, Call):
        return _dtype_descr(fields) in (None, "O", "O8", "|O")
    return False


def _itemsize(descr: str) -> int:
    """Bytes per element of a simple NumPy type string (``<f8``, ``i4``, ``U10``...)."""
    if "|V" in descr[1:]:
        raise PickleError(f"joblib structured array of type {descr!r} cannot be sized safely")
    m = re.fullmatch(r"[<>|=]?([a-zA-Z])(\d*)(?:\[[a-z]+\])?", descr)
    if not m:
        raise PickleError(f"joblib array of unknown type {descr!r}")
    kind, digits = m.group(1), m.group(2)
    n = int(digits) if digits else 0
    if kind in "SaVc" or kind == "b" and n:
        return n if kind != "c" else (n or 1)
    if kind == "U":
        return 4 * n
    if kind == "?":
        return 1
    if kind in "fiuMmb":
        return n or {"f": 8, "i": 8, "u": 8, "b": 1, "M": 8, "m": 8}[kind]
    simple = {"e": 2, "d": 8, "g": 16, "h": 2, "H": 2, "l": 8, "L": 8, "q": 8, "Q": 8,
              "B": 1, "F": 8, "D": 16, "G": 32, "I": 4}  # fmt: skip
    if kind in simple:
        return simple[kind]
    raise PickleError(f"joblib array of unknown type {descr!r}")


def _descr_has_object(descr: object) -> bool:
    if isinstance(descr, str):
        return descr.lstrip("<>|=").startswith("O")
    if isinstance(descr, list | tuple):
        return any(_descr_has_object(d) for d in descr)
    return False
