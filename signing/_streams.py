"""Streams for encryption: a reader that hashes what passes through, a counting writer that
starts writeback as it goes (internal)."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from scanner.fsutil import read_full
from signing._writeback import Writeback
from signing.digest import BackgroundHasher

__all__ = ["CountingWriter", "HashingReader", "ProgressCallback"]

ProgressCallback = Callable[[int], object]


class HashingReader(io.RawIOBase):
    """A read-only stream that hashes and counts what passes through it."""

    def __init__(
        self,
        raw: io.RawIOBase | io.BufferedIOBase,
        hasher: BackgroundHasher,
        progress: ProgressCallback | None,
    ):
        super().__init__()
        self._raw = raw
        self.hash = hasher
        self._progress = progress

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        # The SDK calls read(); returning the bytes object lets the hasher keep a reference
        # instead of copying the chunk.
        data = self._raw.read(size)
        if data:
            self.hash.update(data)
            if self._progress is not None:
                self._progress(len(data))
        return data or b""

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def fill(self, buffer: bytearray) -> memoryview:
        """Read into ``buffer`` until it is full or the source ends; hash and count that.

        A short read is not the end of the file (only an empty read is), so a frame is only
        short at the very end. The buffer must stay untouched until the hasher has read it.
        """
        view = memoryview(buffer)
        got = read_full(self._raw, view)
        chunk = view[:got]
        if got:
            self.hash.update(chunk)
            if self._progress is not None:
                self._progress(got)
        return chunk


class CountingWriter:
    """Writes everything to an unbuffered file, counts the bytes, and starts their writeback
    to disk as it goes (so the final ``fsync`` has little left to do)."""

    def __init__(self, sink: Any) -> None:
        self.sink = sink
        self.size = 0
        try:
            self._writeback: Writeback | None = Writeback(sink.fileno())
        except (AttributeError, OSError, ValueError):  # not a real file (tests: BytesIO)
            self._writeback = None

    def write(self, data: bytes | memoryview) -> None:
        view = memoryview(data)
        while view:  # a raw file may write less than asked
            n = self.sink.write(view)
            view = view[n:]
            self.size += n
        if self._writeback is not None:
            self._writeback.advance(len(data))
