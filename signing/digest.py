"""Streaming SHA-256: every file is read exactly once, 1 MiB at a time.

Example::

    from signing.digest import sha256_file
    d = sha256_file(Path("assets/abc.tar.gz"))
    print(d.hex, d.size)
"""

from __future__ import annotations

import hashlib
import queue
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from scanner.models import Digest
from signing.errors import SigningError

__all__ = [
    "CHUNK_SIZE",
    "BackgroundHasher",
    "FileDigest",
    "sha256_bytes",
    "sha256_file",
    "sha256_stream",
]

CHUNK_SIZE = 1024 * 1024
"""Read size: large enough that hashing, not syscalls, dominates; small enough to stay in cache."""


@dataclass(frozen=True, slots=True)
class FileDigest:
    """The SHA-256 of a file's bytes together with how many bytes were read."""

    digest: Digest
    size: int

    @property
    def hex(self) -> str:
        """Lower-case hexadecimal SHA-256."""
        return self.digest.hex


def sha256_bytes(data: bytes) -> Digest:
    """SHA-256 of an in-memory byte string."""
    return Digest("sha256", hashlib.sha256(data).digest())


def sha256_stream(
    fp: BinaryIO, *, sinks: Iterable[Callable[[memoryview], object]] = ()
) -> FileDigest:
    """Hash a binary stream to its end; each chunk is also handed to every ``sink``.

    The buffer is reused (``readinto``), so a sink must consume the view before returning.
    Sinks let a caller compute more from the same single read (for example a second hash).
    """
    h = hashlib.sha256()
    extra = tuple(sinks)
    buf = bytearray(CHUNK_SIZE)
    view = memoryview(buf)
    total = 0
    while True:
        n = fp.readinto(view)  # type: ignore[attr-defined]
        if not n:
            break
        chunk = view[:n]
        h.update(chunk)
        for sink in extra:
            sink(chunk)
        total += n
    return FileDigest(Digest("sha256", h.digest()), total)


def sha256_file(path: Path, *, sinks: Iterable[Callable[[memoryview], object]] = ()) -> FileDigest:
    """SHA-256 of a regular file, read once; ``SigningError`` names the file when unreadable."""
    try:
        # buffering=0: readinto goes straight to the OS, no second copy through a buffer.
        with open(path, "rb", buffering=0) as fp:
            return sha256_stream(fp, sinks=sinks)
    except OSError as exc:
        raise SigningError(f"{path}: cannot read: {exc.strerror or exc}") from exc


class BackgroundHasher:
    """SHA-256 computed on a worker thread, fed through a bounded queue.

    hashlib releases the GIL on large buffers, so hashing runs on the second core while the
    caller encrypts or reads on the first; the bounded queue keeps memory flat (at most
    ``depth`` chunks). Chunks must be immutable (``bytes``): the worker reads them later.
    """

    def __init__(self, depth: int = 8) -> None:
        self.depth = depth
        self._queue: queue.Queue[bytes | memoryview | None] = queue.Queue(maxsize=depth)
        self._hash = hashlib.sha256()
        self.size = 0
        self._abandoned = False
        self._thread = threading.Thread(target=self._run, name="sha256", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (chunk := self._queue.get()) is not None and not self._abandoned:
            self._hash.update(chunk)

    def update(self, chunk: bytes | memoryview) -> None:
        """Queue a chunk for hashing; it must not change until hashed.

        After ``update`` returns, at most ``depth + 1`` chunks (this one and the ``depth``
        before it) may still be unread, so a ring of ``depth + 2`` reused buffers is safe.
        """
        self.size += len(chunk)
        self._queue.put(chunk)

    def hexdigest(self) -> str:
        """Wait for the queue to drain and return the digest."""
        self._queue.put(None)
        self._thread.join()
        return self._hash.hexdigest()

    def abandon(self) -> None:
        """Give up the digest after an error or an interrupt, without waiting.

        The queue is not touched: a KeyboardInterrupt can arrive while the main thread holds
        the queue's lock inside ``put()``, and waiting on it again would hang the run. The
        worker is a daemon thread and dies with the process.
        """
        self._abandoned = True
