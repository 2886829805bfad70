"""``safetensors``: header validation for ``.safetensors`` files (the data is never read).

Rules (``safetensors.<rule>``):

- ``malformed-header`` (high): header length, JSON, dtype, shape or offsets invalid; offsets
  outside the data, overlapping, or not matching shape x dtype size (loaders crash or read
  the wrong bytes).
- ``data-gap`` (medium): bytes in the data section no tensor owns (room to smuggle a payload).
- ``metadata-secret`` (high, category secret): a secret in ``__metadata__``.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from typing import Any, ClassVar

from scanner.analyzers.entry import FileEntry
from scanner.analyzers.interface import FileAnalyzer, Output
from scanner.analyzers.ml._common import MODEL_MAX_SIZE, metadata_secret, model_finding
from scanner.models import Severity
from scanner.sources.sniff import ContentKind

__all__ = ["SafetensorsAnalyzer"]

_MAX_HEADER = 100 * 1024**2  # the reference implementation's own limit
# Bits per element, so sub-byte float formats size correctly.
_DTYPE_BITS = {
    "BOOL": 8, "U8": 8, "I8": 8, "F8_E5M2": 8, "F8_E4M3": 8, "F8_E8M0": 8, "I16": 16,
    "U16": 16, "F16": 16, "BF16": 16, "I32": 32, "U32": 32, "F32": 32, "F64": 64, "I64": 64,
    "U64": 64, "C64": 64, "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6,
}  # fmt: skip


class _MalformedError(Exception):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        dup = sorted({k for k in keys if keys.count(k) > 1})[0]
        raise _MalformedError(f"duplicate key {dup!r} in header")
    return dict(pairs)


class SafetensorsAnalyzer(FileAnalyzer):
    """Validates safetensors headers against the file's real size."""

    name: ClassVar[str] = "safetensors"
    parallel: ClassVar[bool] = True  # heavy: runs in a worker beside the walk
    version: ClassVar[int] = 1
    tags: ClassVar[frozenset[str]] = frozenset({"model"})
    patterns: ClassVar[tuple[str, ...]] = ("**/*.safetensors",)
    content_kinds: ClassVar[frozenset[str]] = frozenset({ContentKind.SAFETENSORS.value})
    max_size: ClassVar[int] = MODEL_MAX_SIZE

    def analyze(self, entry: FileEntry) -> Iterator[Output]:
        """Check one file's header."""
        loc = entry.location()
        try:
            header, data_len = self._header(entry)
            gaps = self._check_tensors(header, data_len)
        except _MalformedError as exc:
            yield model_finding(
                self.name,
                "malformed-header",
                Severity.HIGH,
                f"{entry.path} has an invalid safetensors header: {exc}.",
                loc,
                "malformed",
                cwe=20,
                properties={"error": str(exc)},
            )
            return
        if gaps:
            yield model_finding(
                self.name,
                "data-gap",
                Severity.MEDIUM,
                f"{entry.path} holds {gaps} bytes in its data section that belong to no "
                "tensor; such space can carry a hidden payload.",
                loc,
                "gap",
                properties={"unowned_bytes": gaps},
            )
        meta = header.get("__metadata__") or {}
        for key, value in meta.items():
            found = metadata_secret(
                self.name, entry.path, "__metadata__", str(key), str(value), loc,
                evidence_at="metadata",
            )  # fmt: skip
            if found is not None:
                yield found

    def _header(self, entry: FileEntry) -> tuple[dict[str, Any], int]:
        f = entry.open()
        try:
            raw = f.read(8)
            if len(raw) != 8:
                raise _MalformedError("file shorter than the 8-byte header length")
            n = struct.unpack("<Q", raw)[0]
            if n > _MAX_HEADER:
                raise _MalformedError(f"header length {n} is above the {_MAX_HEADER}-byte limit")
            if n > entry.size - 8:
                raise _MalformedError(f"header length {n} runs past the end of the file")
            text = f.read(n)
        finally:
            f.close()
        if not text.startswith(b"{"):
            raise _MalformedError("header does not start with '{'")
        try:
            header = json.loads(text.decode("utf-8"), object_pairs_hook=_no_duplicates)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            raise _MalformedError(f"header is not JSON ({exc})") from exc
        if not isinstance(header, dict):
            raise _MalformedError("header is not a JSON object")
        meta = header.get("__metadata__")
        if meta is not None and not (
            isinstance(meta, dict) and all(isinstance(v, str) for v in meta.values())
        ):
            raise _MalformedError("__metadata__ must map strings to strings")
        return header, entry.size - 8 - n

    def _check_tensors(self, header: dict[str, Any], data_len: int) -> int:
        spans: list[tuple[int, int, str]] = []
        for name, info in header.items():
            if name == "__metadata__":
                continue
            if not isinstance(info, dict):
                raise _MalformedError(f"tensor {name!r} is not an object")
            dtype, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
            if not isinstance(dtype, str) or dtype not in _DTYPE_BITS:
                raise _MalformedError(f"tensor {name!r} has unknown dtype {dtype!r}")
            if not isinstance(shape, list) or not all(
                isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
            ):
                raise _MalformedError(f"tensor {name!r} has an invalid shape {shape!r}")
            if (
                not isinstance(offsets, list)
                or len(offsets) != 2
                or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
            ):
                raise _MalformedError(f"tensor {name!r} has invalid data_offsets {offsets!r}")
            begin, end = offsets
            if not 0 <= begin <= end <= data_len:
                raise _MalformedError(
                    f"tensor {name!r} offsets [{begin}, {end}] fall outside the "
                    f"{data_len}-byte data section"
                )
            numel = 1
            for d in shape:
                numel *= d
            bits = numel * _DTYPE_BITS[dtype]
            if (bits + 7) // 8 != end - begin:
                raise _MalformedError(
                    f"tensor {name!r} spans {end - begin} bytes but {dtype}{shape} needs "
                    f"{(bits + 7) // 8}"
                )
            spans.append((begin, end, name))
        spans.sort()
        covered = 0
        pos = 0
        for begin, end, name in spans:
            if begin < pos:
                raise _MalformedError(f"tensor {name!r} overlaps the previous tensor")
            covered += end - begin
            pos = end
        return data_len - covered
