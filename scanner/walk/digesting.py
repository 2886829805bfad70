"""Digests of walked files, taken from the bytes the walk reads anyway.

For a file too big to hold in memory: a ``DigestTap`` is fed by one archive member. Whoever
reads the member (an analyzer through the shared lazy content, or nobody) feeds the tap, which
hashes as the bytes pass. If no analyzer wanted the file, ``hexdigest`` reads it to the end
itself: a tar stream has to pass over those bytes anyway, so every file is read exactly once.
(A smaller file is read whole and hashed in one call, by the dispatcher or a worker.)

Example::

    tap = DigestTap(member, "md5")        # every read of member now feeds the tap
    ...                                   # whoever wants the bytes reads member
    digest = tap.hexdigest(member)        # "" if the bytes could not all be read
"""

from __future__ import annotations

import hashlib

from scanner.sources.safe_archive import CHUNK, ArchiveMember

__all__ = ["DigestTap"]


class DigestTap:
    """Hashes one member's bytes on their single way through.

    The member feeds the tap whoever reads it (``ArchiveMember.feed_to``); the tap keeps no
    reference to the member (which holds the tap), so that the two are freed by reference
    counting: 30,000 cycles, with their buffers, stayed alive until the end of a 1 GiB walk.
    """

    __slots__ = ("_fed", "_hash", "_size")

    def __init__(self, member: ArchiveMember, algorithm: str) -> None:
        self._hash = hashlib.new(algorithm, usedforsecurity=False)
        self._size = member.size
        self._fed = 0
        member.feed_to(self._feed)

    def _feed(self, data: bytes) -> None:
        self._fed += len(data)
        self._hash.update(data)

    def hexdigest(self, member: ArchiveMember) -> str:
        """The content's digest, reading what nobody read yet; ``""`` if it cannot be known.

        ``member`` is the one this tap was made for. A member that was opened but not read to
        the end cannot be read again (a tar stream does not go back), so its digest is unknown
        rather than wrong; so is one whose reads passed more bytes than it holds.
        """
        if self._fed < self._size:
            if member.opened:
                return ""
            with member.open() as f:
                while f.read(CHUNK):
                    pass
        return self._hash.hexdigest() if self._fed == self._size else ""
