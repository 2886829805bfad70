"""Digests of walked files, taken from the bytes the walk reads anyway.

A ``DigestTap`` wraps one archive member: whoever reads the member (an analyzer through the
shared lazy content, or nobody) reads through the tap, which hashes as the bytes pass. If no
analyzer wanted the file, ``hexdigest`` reads it to the end itself: a tar stream has to pass
over those bytes anyway, so every file is read exactly once.

Example::

    tap = DigestTap(member, "md5")
    dispatcher_sees = tap.member          # hand this one on
    digest = tap.hexdigest()              # "" if the bytes could not all be read
"""

from __future__ import annotations

import hashlib
import io
from typing import IO, Any, cast

from scanner.sources.safe_archive import CHUNK, ArchiveMember

__all__ = ["DigestTap"]


class _TapReader(io.RawIOBase):
    """Passes reads through and feeds every byte to the tap's hash."""

    def __init__(self, inner: IO[bytes], tap: DigestTap) -> None:
        self._inner = inner
        self._tap = tap

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        data = self._inner.read(len(b))
        n = len(data)
        b[:n] = data
        self._tap._feed(data, eof=n == 0 and len(b) > 0)
        return n

    def read(self, size: int | None = -1) -> bytes:
        n = -1 if size is None or size < 0 else size
        data = self._inner.read(n)
        self._tap._feed(data, eof=n < 0 or (not data and n != 0))
        return data

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            super().close()


# Bytes a held tap keeps unhashed at most before it hashes them anyway.
HOLD_LIMIT = 1024 * 1024


class DigestTap:
    """Hashes one member's bytes on their single way through.

    ``hold=True`` keeps the first bytes unhashed (up to ``HOLD_LIMIT``) until the caller
    knows whether someone else will hash them (``defer``: a worker the file is handed to) or
    not (``commit``, or any digest asked for): the head a content sniff reads is then not
    hashed twice.
    """

    __slots__ = ("_algorithm", "_hash", "_held", "_held_bytes", "_member", "done", "opened")

    def __init__(self, member: ArchiveMember, algorithm: str, *, hold: bool = False) -> None:
        self._algorithm = algorithm
        self._hash: Any = None if hold else hashlib.new(algorithm, usedforsecurity=False)
        self._held: list[bytes] | None = [] if hold else None
        self._held_bytes = 0
        self._member = member
        self.opened = False
        self.done = member.size == 0

    @property
    def member(self) -> ArchiveMember:
        """The member to hand on: its reader passes every byte through this tap.

        Made when asked, not kept: a tap holding the member whose opener holds the tap would
        be a reference cycle, freed only by the cyclic garbage collector (30,000 of them, with
        their buffers, stayed alive until the end of a 1 GiB walk).
        """
        m = self._member
        return ArchiveMember(
            m.path, m.raw_name, m.type, m.size, m.mode, m.uid, m.gid, m.linkname, m.mtime,
            self._open,
        )  # fmt: skip

    def _open(self) -> IO[bytes]:
        self.opened = True
        return cast(IO[bytes], _TapReader(self._member.open(), self))

    @property
    def deferred(self) -> bool:
        """Whether the bytes are hashed elsewhere (``defer``)."""
        return self._hash is None and self._held is None

    def defer(self) -> None:
        """Someone else hashes these bytes (a worker they are handed to): only pass them on."""
        self._hash = None
        self._held = None

    def commit(self) -> None:
        """Hash what is held, and every byte from now on."""
        if self._held is not None:
            held, self._held = self._held, None
            self._hash = hashlib.new(self._algorithm, usedforsecurity=False)
            for data in held:
                self._hash.update(data)

    def _feed(self, data: bytes, *, eof: bool) -> None:
        if data:
            if self._held is not None:
                self._held.append(data)
                self._held_bytes += len(data)
                if self._held_bytes > HOLD_LIMIT:
                    self.commit()
            elif self._hash is not None:
                self._hash.update(data)
        if eof:
            self.done = True

    def hexdigest(self) -> str:
        """The content's digest, reading what nobody read yet; ``""`` if it cannot be known.

        A member that was opened but not read to the end cannot be read again (a tar stream
        does not go back), so its digest is unknown rather than wrong.
        """
        self.commit()
        if not self.done:
            if self.opened:
                return ""
            with self._open() as f:
                while f.read(CHUNK):
                    pass
            self.done = True
        return "" if self._hash is None else str(self._hash.hexdigest())
