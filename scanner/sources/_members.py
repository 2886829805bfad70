"""What the archive readers hand out: members, their kinds, and paths normalised inside a root."""

from __future__ import annotations

import io
import posixpath
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import IO, Any, cast

from scanner.errors import UnsafeArchiveError
from scanner.models import Category, Finding, Location, Severity

__all__ = [
    "ArchiveMember",
    "SinkReader",
    "LinkContext",
    "MemberType",
    "archive_finding",
    "normalise_path",
    "resolves_to_loop",
]


class MemberType(StrEnum):
    """What a member is."""

    FILE = "file"
    DIR = "dir"
    SYMLINK = "symlink"
    HARDLINK = "hardlink"
    DEVICE = "device"
    FIFO = "fifo"
    OTHER = "other"


class LinkContext(StrEnum):
    """How links are judged.

    In a container root filesystem, absolute and ``../`` symlinks are normal: they resolve
    inside that root. In a model archive or code package an extractor would follow them out,
    so there they are findings.
    """

    ROOTFS = "rootfs"
    EXTRACT = "extract"


def normalise_path(name: str) -> tuple[str, bool, bool]:
    """Normalise an archive member name to a relative POSIX path inside the root.

    Returns ``(path, was_absolute, escaped)``: ``escaped`` is true when ``..`` parts would
    climb above the root (the returned path is clamped inside it, as a chroot would).
    """
    absolute = name.startswith("/")
    parts: list[str] = []
    escaped = False
    for part in name.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            else:
                escaped = True
            continue
        parts.append(part)
    return "/".join(parts), absolute, escaped


@dataclass(slots=True)
class ArchiveMember:
    """One member as it passes by; ``read``/``open`` work only while it is the current one."""

    path: str
    raw_name: str
    type: MemberType
    size: int
    mode: int
    uid: int = 0
    gid: int = 0
    linkname: str = ""
    mtime: int = 0
    _opener: Callable[[], IO[bytes]] | None = field(default=None, repr=False)
    _sink: Callable[[bytes], None] | None = field(default=None, repr=False)
    opened: bool = field(default=False, repr=False)

    @property
    def is_file(self) -> bool:
        """A regular file with content."""
        return self.type is MemberType.FILE

    def feed_to(self, sink: Callable[[bytes], None]) -> None:
        """Pass every byte any reader of this member reads to ``sink``, in order (a digest
        taken on the bytes' single way through)."""
        self._sink = sink

    def open(self) -> IO[bytes]:
        """A reader of the member's bytes."""
        if self._opener is None:
            raise UnsafeArchiveError(f"{self.path}: member has no content to read")
        self.opened = True
        reader = self._opener()
        if self._sink is None:
            return reader
        # the archive's own member reader feeds a sink itself: one layer less on every read
        if isinstance(reader, SinkReader):
            reader.sink = self._sink
            return reader
        return cast(IO[bytes], _Feeding(reader, self._sink))

    def read(self, limit: int = -1) -> bytes:
        """The member's bytes (or the first ``limit``)."""
        with self.open() as f:
            return f.read() if limit < 0 else f.read(limit)


class SinkReader(io.RawIOBase):
    """A reader that passes what it reads to ``sink`` itself (``ArchiveMember.feed_to``)."""

    sink: Callable[[bytes], None] | None = None


class _Feeding(io.RawIOBase):
    """Any other reader: passes reads through and feeds the sink."""

    def __init__(self, inner: IO[bytes], sink: Callable[[bytes], None]) -> None:
        self._inner = inner
        self._sink = sink

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        data = self._inner.read(len(b))
        n = len(data)
        b[:n] = data
        self._sink(data)
        return n

    def read(self, size: int | None = -1) -> bytes:
        data = self._inner.read(-1 if size is None else size)
        self._sink(data)
        return data

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            super().close()


def archive_finding(
    artifact: str,
    rule: str,
    severity: Severity,
    message: str,
    path: str,
    evidence: str = "",
    **props: Any,
) -> Finding:
    return Finding.create(
        rule_id=f"archive.{rule}",
        category=Category.ARCHIVE,
        severity=severity,
        message=message,
        location=Location(artifact, path),
        evidence=evidence or path,
        properties=props or None,
    )


def resolves_to_loop(start: str, links: dict[str, str], max_hops: int = 40) -> bool:
    current = start
    for _ in range(max_hops):
        target = links.get(current)
        if target is None:
            return False
        base = "" if target.startswith("/") else posixpath.dirname(current)
        current, _, _ = normalise_path(posixpath.join(base, target))
        if current == start:
            return True
    return True
