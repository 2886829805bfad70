"""Decompression in a thread of its own, ahead of the walk.

isal, zlib, zstandard and lzma release the GIL while they decompress, so a thread that keeps a
few blocks decompressed ahead takes decompression off the walk's thread (the walk's critical
path: tar headers, digests, dispatch). The reader hands out the blocks in order; an error in
the thread is raised by the read that reaches it, as the plain reader would raise it.

At most ``QUEUE_BLOCKS`` blocks wait, so the size and ratio limits counted on the consumer's
side (``safe_archive._BoundedReader``) lag the decompressor by a few MiB at most.

Example::

    with ReadAhead(igzip.IGzipFile(fileobj=raw)) as stream:
        header = stream.read(512)
"""

from __future__ import annotations

import io
import queue
import threading
from typing import IO, Any

__all__ = ["BLOCK", "ReadAhead"]

BLOCK = 1024 * 1024
QUEUE_BLOCKS = 4


class ReadAhead(io.RawIOBase):
    """A reader whose bytes a background thread decompresses ``BLOCK`` at a time."""

    def __init__(self, inner: IO[bytes]) -> None:
        self._inner = inner
        self._queue: queue.Queue[bytes | BaseException] = queue.Queue(QUEUE_BLOCKS)
        self._stop = threading.Event()
        self._block = memoryview(b"")
        self._eof = False
        self._thread = threading.Thread(target=self._run, name="pg-decompress", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data: bytes | BaseException = self._inner.read(BLOCK)
            except BaseException as exc:  # noqa: BLE001 - handed to the reader, raised there
                data = exc
            while not self._stop.is_set():
                try:
                    self._queue.put(data, timeout=0.1)
                    break
                except queue.Full:
                    continue
            if not isinstance(data, bytes) or not data:
                return

    def readable(self) -> bool:
        return True

    def _next_block(self) -> bool:
        got = self._queue.get()
        if isinstance(got, BaseException):
            self._eof = True
            raise got
        if not got:
            self._eof = True
            return False
        self._block = memoryview(got)
        return True

    def readinto(self, b: Any) -> int:
        if not self._block and (self._eof or not self._next_block()):
            return 0
        n = min(len(b), len(self._block))
        b[:n] = self._block[:n]
        self._block = self._block[n:]
        return n

    def read(self, size: int = -1) -> bytes:
        if size < 0:
            return self.readall()
        if not self._block and (self._eof or not self._next_block()):
            return b""
        if len(self._block) >= size:
            out = self._block[:size].tobytes()
            self._block = self._block[size:]
            return out
        parts = [self._block.tobytes()]
        got = len(parts[0])
        self._block = memoryview(b"")
        while got < size and not self._eof and self._next_block():
            take = self._block[: size - got]
            parts.append(take.tobytes())
            got += len(take)
            self._block = self._block[len(take) :]
        return b"".join(parts)

    def close(self) -> None:
        """Stop the thread (without waiting for the rest of the stream) and close."""
        if not self.closed:
            self._stop.set()
            while self._thread.is_alive():
                try:  # unblock a producer waiting on a full queue
                    self._queue.get_nowait()
                except queue.Empty:
                    self._thread.join(timeout=0.05)
        super().close()
