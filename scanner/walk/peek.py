"""``PeekedMember``: an archive member whose first bytes are read before anyone takes it.

Members of a streamed tar can be opened once (the stream only goes forward). Sniffing a
member's content means reading its head and then handing the *same* reader on: the head is
kept and served again in front of the rest of the stream.

Example::

    peek = PeekedMember(member)
    kind = peek.sniff("models/checkpoint.tar")   # reads SNIFF_BYTES or a little more
    with peek.open() as f:                        # the whole content, head included
        data = f.read()
"""

from __future__ import annotations

from typing import IO, cast

from scanner.sources.safe_archive import (
    CHUNK,
    READ_ERRORS,
    ArchiveMember,
    ArchiveStreamError,
    PrefixedReader,
)
from scanner.sources.sniff import Sniffed, sniff

__all__ = ["PeekedMember"]

_READ_AHEAD = 64 * 1024


class PeekedMember:
    """Wraps an ``ArchiveMember``: ``head(n)`` reads ahead once, ``open()`` replays it."""

    __slots__ = ("_eof", "_head", "_reader", "_sniffed", "member", "tap")

    def __init__(self, member: ArchiveMember, tap: object = None) -> None:
        self.member = member
        self.tap = tap  # what the member feeds as it is read (a digest tap), if anything
        self._reader: IO[bytes] | None = None
        self._head = b""
        self._eof = False
        self._sniffed: Sniffed | None = None

    @property
    def path(self) -> str:
        """The member's normalised path."""
        return self.member.path

    @property
    def size(self) -> int:
        """The member's size as archived."""
        return self.member.size

    def head(self, n: int) -> bytes:
        """The first ``n`` bytes (fewer at the end of the content), read at most once.

        The first read takes up to ``_READ_AHEAD`` bytes whatever ``n`` is: most files are
        small and read whole by some analyzer next, so one read serves both.
        """
        if len(self._head) < n and not self._eof:
            if self._reader is None:
                self._reader = self.member.open()
            want = max(n, min(self.member.size, _READ_AHEAD))
            try:
                while len(self._head) < want:
                    chunk = self._reader.read(want - len(self._head))
                    if not chunk:
                        self._eof = True
                        break
                    self._head += chunk
            except ArchiveStreamError:
                raise
            except READ_ERRORS as exc:
                raise ArchiveStreamError.from_read_error(exc) from exc
        return self._head[:n]

    def sniff(self, name: str) -> Sniffed:
        """What the content is (sniffed once; ``name`` only breaks ties)."""
        if self._sniffed is None:
            self._sniffed = sniff(self.head, name)
        return self._sniffed

    def sniffed_as(self, sniffed: Sniffed) -> None:
        """Record what the content is when the caller knows better than the head (a zip whose
        central directory it has read)."""
        self._sniffed = sniffed

    @property
    def sniffed(self) -> Sniffed | None:
        """The sniff result, when ``sniff`` was called."""
        return self._sniffed

    def finish(self) -> None:
        """Read a peeked reader nobody took to its end (the bytes still pass any tap), then
        close it. Nothing to do when the content was handed on or never opened."""
        reader, self._reader = self._reader, None
        if reader is None:
            return
        try:
            while reader.read(CHUNK):
                pass
        finally:
            reader.close()

    def open(self) -> IO[bytes]:
        """The whole content. After a peek, the first call replays the head in front of the
        reader that read it; later calls (and calls without a peek) open the member afresh.
        """
        reader, self._reader = self._reader, None
        if reader is None:
            return self.member.open()
        return cast(IO[bytes], PrefixedReader(self._head, reader, owns_rest=True))
