"""Protocol-buffer wire format, read structurally from a seekable stream.

Used to walk ONNX and TensorFlow graphs without their generated classes and without reading
weight blobs: ``strip_message`` copies a message but drops large ``bytes`` fields it is told
about (seeking over them), so a multi-gigabyte model shrinks to its structure in one pass.

Example::

    with open("model.onnx", "rb") as f:
        skeleton, dropped = strip_message(f, size, "Model", ONNX_SCHEMA, threshold=1 << 16)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import BinaryIO

__all__ = [
    "ONNX_SCHEMA",
    "Dropped",
    "WireError",
    "encode_varint",
    "iter_fields",
    "read_varint",
    "strip_message",
]

_MAX_DEPTH = 64


class WireError(Exception):
    """The bytes are not a well-formed protocol buffer."""


def read_varint(f: BinaryIO) -> int:
    """One base-128 varint (at most 10 bytes)."""
    result = 0
    shift = 0
    for _ in range(10):
        b = f.read(1)
        if not b:
            raise WireError("truncated varint")
        byte = b[0]
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result
        shift += 7
    raise WireError("varint longer than 10 bytes")


def encode_varint(value: int) -> bytes:
    """Encode a non-negative integer as a varint."""
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def iter_fields(data: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """Fields of an in-memory message: ``(number, wire_type, int or bytes)``."""
    import io

    f = io.BytesIO(data)
    end = len(data)
    while f.tell() < end:
        key = read_varint(f)
        number, wt = key >> 3, key & 7
        if wt == 0:
            yield number, wt, read_varint(f)
        elif wt == 1:
            yield number, wt, int.from_bytes(_exact(f, 8), "little")
        elif wt == 2:
            n = read_varint(f)
            if f.tell() + n > end:
                raise WireError("length-delimited field runs past its message")
            yield number, wt, _exact(f, n)
        elif wt == 5:
            yield number, wt, int.from_bytes(_exact(f, 4), "little")
        else:
            raise WireError(f"unsupported wire type {wt}")


def _exact(f: BinaryIO, n: int) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise WireError(f"truncated field: needed {n} bytes, got {len(data)}")
    return data


@dataclass(slots=True)
class Dropped:
    """What ``strip_message`` left out: one record per dropped field."""

    fields: list[tuple[str, int, int, int]] = field(default_factory=list)  # (msg, no, off, len)
    total: int = 0


# message name -> {field number: nested message name}; "!drop" marks droppable bytes fields.
Schema = Mapping[str, Mapping[int, str]]

ONNX_SCHEMA: Schema = {
    "Model": {7: "Graph", 25: "Function", 20: "Training"},
    "Training": {1: "Graph", 3: "Graph"},
    "Graph": {1: "Node", 5: "Tensor", 15: "Sparse"},
    "Function": {7: "Node"},
    "Node": {5: "Attr"},
    "Attr": {5: "Tensor", 6: "Graph", 10: "Tensor", 11: "Graph", 22: "Sparse", 23: "Sparse"},
    "Sparse": {1: "Tensor", 2: "Tensor"},
    # raw_data, and the packed numeric fields some exporters use instead of it
    "Tensor": {9: "!drop", 4: "!drop", 5: "!drop", 7: "!drop", 10: "!drop", 11: "!drop"},
}

# Called for each dropped field after it is skipped: (message, field, offset, length) -> the
# encoded field(s) to put in its place, tag included (``None`` drops the field entirely).
Replacer = Callable[[str, int, int, int], bytes | None]


def strip_message(
    f: BinaryIO,
    end: int,
    message: str,
    schema: Schema,
    *,
    threshold: int,
    max_output: int,
    replace: Replacer | None = None,
    dropped: Dropped | None = None,
    _depth: int = 0,
) -> tuple[bytes, Dropped]:
    """Copy the message from ``f``'s position to ``end``, dropping big ``!drop`` fields.

    Droppable fields longer than ``threshold`` are skipped by seeking (their content is never
    read). Everything else is copied, so the result parses with the real generated classes.
    Raises ``WireError`` on malformed input or when the copy would exceed ``max_output``.
    """
    if _depth > _MAX_DEPTH:
        raise WireError(f"messages nested deeper than {_MAX_DEPTH}")
    dropped = dropped if dropped is not None else Dropped()
    nested = schema.get(message, {})
    out = bytearray()
    while True:
        pos = f.tell()
        if pos >= end:
            if pos > end:
                raise WireError(f"{message}: field runs past the end of its message")
            return bytes(out), dropped
        key = read_varint(f)
        number, wt = key >> 3, key & 7
        if number == 0:
            raise WireError(f"{message}: field number 0 at offset {pos}")
        if wt == 0:
            value = read_varint(f)
            out += encode_varint(key) + encode_varint(value)
        elif wt == 1:
            out += encode_varint(key) + _exact(f, 8)
        elif wt == 5:
            out += encode_varint(key) + _exact(f, 4)
        elif wt == 2:
            n = read_varint(f)
            start = f.tell()
            if start + n > end:
                raise WireError(f"{message}: field {number} of {n} bytes runs past its message")
            kind = nested.get(number)
            if kind == "!drop" and n > threshold:
                f.seek(start + n)
                dropped.fields.append((message, number, start, n))
                dropped.total += n
                sub = replace(message, number, start, n) if replace is not None else None
                if sub is not None:
                    out += sub
            elif kind is not None and kind != "!drop":
                body, _ = strip_message(
                    f,
                    start + n,
                    kind,
                    schema,
                    threshold=threshold,
                    max_output=max_output,
                    replace=replace,
                    dropped=dropped,
                    _depth=_depth + 1,
                )
                out += encode_varint(key) + encode_varint(len(body)) + body
            else:
                out += encode_varint(key) + encode_varint(n) + _exact(f, n)
        else:
            raise WireError(f"{message}: unsupported wire type {wt} at offset {pos}")
        if len(out) > max_output:
            raise WireError(f"model structure exceeds {max_output} bytes without weights")
