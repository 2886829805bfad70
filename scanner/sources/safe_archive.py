"""Bounded, path-safe, single-pass reading of tar and zip archives.

Nothing is ever extracted: members are handed out one at a time with a reader for their bytes,
and every hostile trait (absolute paths, ``..``, escaping or looping links, hard links to
outside, devices and FIFOs, overwriting duplicates, oversized members, too many members,
total-size and compression-ratio bombs, corrupt or truncated streams, huge headers) becomes an
``archive`` finding. Conditions that make further reading impossible (a bomb, a corrupt stream)
stop the iteration after recording their finding.

Example::

    with open("asset.tar.gz", "rb") as raw:
        reader = SafeTarReader(raw, artifact="asset.tar.gz", limits=ArchiveLimits())
        for member in reader:
            if member.is_file:
                data = member.read()
        findings = reader.findings
"""

from __future__ import annotations

from scanner.sources._members import ArchiveMember, LinkContext, MemberType, normalise_path
from scanner.sources._safe_tar import SafeTarInfo, SafeTarReader
from scanner.sources._safe_zip import SafeZipReader
from scanner.sources._streams import (
    CHUNK,
    READ_ERRORS,
    ArchiveStreamError,
    Compression,
    PrefixedReader,
    decompressing_reader,
    sniff_compression,
)

# the name image.py and detect.py used before the split
_SafeTarInfo = SafeTarInfo

__all__ = [
    "CHUNK",
    "READ_ERRORS",
    "ArchiveMember",
    "ArchiveStreamError",
    "Compression",
    "LinkContext",
    "MemberType",
    "PrefixedReader",
    "SafeTarInfo",
    "SafeTarReader",
    "SafeZipReader",
    "decompressing_reader",
    "normalise_path",
    "sniff_compression",
]
