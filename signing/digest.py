"""Streaming SHA-256: every file is read exactly once, 1 MiB at a time.

Example::

    from signing.digest import sha256_file
    d = sha256_file(Path("assets/abc.tar.gz"))
    print(d.hex, d.size)
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from scanner.models import Digest
from signing.errors import SigningError

__all__ = ["CHUNK_SIZE", "FileDigest", "sha256_bytes", "sha256_file", "sha256_stream"]

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
