"""Compressed pickle-family files (joblib's zlib/gzip/bz2/xz/lzma, ``ZF``) as seekable streams.

The view is forward-only (seeking back restarts the decompressor) and capped in output size,
so a compression bomb ends as a ``PickleFormatError``, never as memory or disk exhaustion.
"""

from __future__ import annotations

import bz2
import io
import lzma
import zlib
from typing import BinaryIO, ClassVar

from scanner.analyzers.ml._pickle_ctx import PickleFormatError

__all__ = ["DecompressError", "decompressor_for"]


class DecompressError(PickleFormatError):
    """Compressed data that does not decompress."""


class _ForwardDecompressor(io.RawIOBase):
    """Forward-only decompressed view (seeking back restarts), capped in output size."""

    def __init__(self, f: BinaryIO, limit: int, kind: str) -> None:
        self._src = f
        self._start = f.tell()
        self._kind = kind
        self._limit = limit
        self._reset()

    def _reset(self) -> None:
        self._src.seek(self._start)
        self._pos = 0
        self._buf = b""
        if self._kind == "zlib":
            self._d: zlib._Decompress | bz2.BZ2Decompressor | lzma.LZMADecompressor | None = (
                zlib.decompressobj()
            )
        elif self._kind == "gzip":
            self._d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif self._kind == "bz2":
            self._d = bz2.BZ2Decompressor()
        else:
            self._d = lzma.LZMADecompressor()
        self._eof = False

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def _fill(self, want: int) -> None:
        while len(self._buf) < want and not self._eof:
            chunk = self._src.read(1 << 20)
            assert self._d is not None
            if not chunk:
                self._eof = True
                break
            try:
                self._buf += self._d.decompress(chunk)
            except (zlib.error, lzma.LZMAError, OSError, EOFError, ValueError) as exc:
                raise DecompressError(f"{self._kind} data does not decompress: {exc}") from exc
            if self._pos + len(self._buf) > self._limit:
                raise PickleFormatError(
                    f"decompressed data exceeds the {self._limit}-byte limit (zip bomb?)"
                )

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        self._fill(len(b))
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        self._pos += n
        return n

    def seek(self, offset: int, whence: int = 0) -> int:
        if whence == 1:
            offset += self._pos
        elif whence == 2:
            raise OSError("cannot seek from the end of a compressed stream")
        if offset < self._pos:
            self._reset()
        while self._pos < offset:
            step = min(offset - self._pos, 1 << 20)
            self._fill(step)
            if not self._buf:
                break
            n = min(step, len(self._buf))
            self._buf = self._buf[n:]
            self._pos += n
        return self._pos


def decompressor_for(head: bytes) -> type[_Decompressed] | None:
    """The decompressing view class for a stream that starts with ``head`` (None: not one)."""
    if head.startswith(b"\x1f\x8b"):
        return _decompressed("gzip")
    if head.startswith(b"BZh"):
        return _decompressed("bz2")
    if head.startswith(b"\xfd7zXZ\x00") or head.startswith(b"\x5d\x00\x00"):
        return _decompressed("xz")
    if len(head) >= 2 and head[0] == 0x78 and (head[0] * 256 + head[1]) % 31 == 0:
        return _decompressed("zlib")
    if head.startswith(b"ZF"):  # joblib < 0.10: "ZF" + 16-byte size, then zlib
        return _decompressed("zf")
    return None


class _Decompressed:
    """Context manager giving a buffered, capped decompressed view of ``f``."""

    kind: ClassVar[str] = "zlib"

    def __init__(self, f: BinaryIO, limit: int) -> None:
        kind = self.kind
        if kind == "zf":
            f.seek(f.tell() + 18)
            kind = "zlib"
        self._reader = io.BufferedReader(_ForwardDecompressor(f, limit, kind), 1 << 16)

    def __enter__(self) -> BinaryIO:
        return self._reader

    def __exit__(self, *exc: object) -> None:
        self._reader.close()


def _decompressed(kind: str) -> type[_Decompressed]:
    return type(f"_Decompressed_{kind}", (_Decompressed,), {"kind": kind})
