"""What the archive readers hand out: members, their kinds, and paths normalised inside a root."""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import IO, Any

from scanner.errors import UnsafeArchiveError
from scanner.models import Category, Finding, Location, Severity

__all__ = [
    "ArchiveMember",
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

    @property
    def is_file(self) -> bool:
        """A regular file with content."""
        return self.type is MemberType.FILE

    def open(self) -> IO[bytes]:
        """A reader of the member's bytes."""
        if self._opener is None:
            raise UnsafeArchiveError(f"{self.path}: member has no content to read")
        return self._opener()

    def read(self, limit: int = -1) -> bytes:
        """The member's bytes (or the first ``limit``)."""
        with self.open() as f:
            return f.read() if limit < 0 else f.read(limit)


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
