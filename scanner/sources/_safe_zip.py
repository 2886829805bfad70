"""Bounded reading of a zip file: names, sizes, ratios and overlapping entries checked."""

from __future__ import annotations

import io
import posixpath
import stat
import zipfile
from collections.abc import Iterator
from typing import IO, Any, cast

from scanner.config import ArchiveLimits
from scanner.models import Finding, Severity
from scanner.sources._members import (
    ArchiveMember,
    LinkContext,
    MemberType,
    archive_finding,
    normalise_path,
)
from scanner.sources._streams import READ_ERRORS, ArchiveStreamError

__all__ = ["SafeZipReader"]


class SafeZipReader:
    """Bounded reading of a zip file on disk (zip needs random access to its directory).

    Checks member names like ``SafeTarReader``, declared sizes against limits, per-member
    compression ratio, overlapping members (the overlapping-entries zip bomb) and CRC errors.
    """

    def __init__(
        self,
        file: IO[bytes],
        *,
        artifact: str,
        limits: ArchiveLimits,
        context: LinkContext = LinkContext.EXTRACT,
        path_prefix: str = "",
    ) -> None:
        self.artifact = artifact
        self.limits = limits
        self.context = context
        self.path_prefix = path_prefix
        self.findings: list[Finding] = []
        self.complete = True
        self._file = file

    def _add(self, rule: str, severity: Severity, message: str, path: str) -> None:
        self.findings.append(
            archive_finding(self.artifact, rule, severity, message, self.path_prefix + path)
        )

    def fail(self, exc: ArchiveStreamError, path: str = "") -> None:
        """Record that a member could not be read."""
        self.complete = False
        self._add(exc.rule, exc.severity, f"zip member could not be read: {exc}", path)

    def __iter__(self) -> Iterator[ArchiveMember]:
        try:
            zf = zipfile.ZipFile(self._file)
        except READ_ERRORS as exc:
            self.complete = False
            self._add("corrupt", Severity.HIGH, f"not a readable zip: {exc}", "")
            return
        with zf:
            infos = zf.infolist()
            if not self._directory_is_sane(infos):
                self.complete = False
                return
            seen: set[str] = set()
            for info in infos:
                member = self._member(zf, info, seen)
                if member is not None:
                    yield member

    def _directory_is_sane(self, infos: list[zipfile.ZipInfo]) -> bool:
        """Member count, declared total size and overlapping entries, before reading any."""
        lim = self.limits
        if len(infos) > lim.max_members:
            self._add(
                "too-many-members",
                Severity.HIGH,
                f"{len(infos)} members, over the limit of {lim.max_members}",
                "",
            )
            return False
        declared = sum(i.file_size for i in infos)
        if declared > lim.max_total_bytes:
            self._add(
                "total-size-exceeded",
                Severity.CRITICAL,
                f"declared unpacked size {declared} passes the limit of "
                f"{lim.max_total_bytes} bytes",
                "",
            )
            return False
        spans = sorted(
            (i.header_offset, i.header_offset + 30 + len(i.filename.encode()) + i.compress_size)
            for i in infos
        )
        for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
            if start < end:
                self._add(
                    "overlapping-entries",
                    Severity.CRITICAL,
                    "zip members overlap each other (a zip bomb technique)",
                    "",
                )
                return False
        return True

    def _checked_name(self, info: zipfile.ZipInfo) -> str:
        # Windows tools write backslash separators, and Windows extractors honour them.
        path, absolute, escaped = normalise_path(info.filename.replace("\\", "/"))
        if absolute:
            self._add(
                "absolute-path",
                Severity.HIGH,
                f"member {info.filename[:200]!r} has an absolute path",
                path,
            )
        if escaped:
            self._add(
                "path-traversal",
                Severity.CRITICAL,
                f"member {info.filename[:200]!r} climbs out with '..'",
                path,
            )
        return path

    def _member(
        self, zf: zipfile.ZipFile, info: zipfile.ZipInfo, seen: set[str]
    ) -> ArchiveMember | None:
        """One entry as a member, or None for folders and members refused unread."""
        lim = self.limits
        path = self._checked_name(info)
        if not path or info.is_dir():
            return None
        unix_mode = info.external_attr >> 16
        if stat.S_ISLNK(unix_mode):
            return self._symlink(zf, info, path, unix_mode)
        if path in seen:
            self._add("duplicate-entry", Severity.MEDIUM, f"{path!r} appears more than once", path)
        seen.add(path)
        if info.file_size > lim.max_member_bytes:
            self._add(
                "member-too-large",
                Severity.HIGH,
                f"member of {info.file_size} bytes is over the limit; not scanned",
                path,
            )
            return ArchiveMember(
                path, info.filename, MemberType.FILE, info.file_size, unix_mode or 0o644
            )
        if (
            info.compress_size
            and info.file_size > lim.ratio_floor_bytes
            and info.file_size / info.compress_size > lim.max_ratio
        ):
            self._add(
                "compression-bomb",
                Severity.CRITICAL,
                f"member expands {info.file_size / info.compress_size:.0f}:1; not scanned",
                path,
            )
            return None

        def opener() -> IO[bytes]:
            try:
                inner = zf.open(info)
            except READ_ERRORS as exc:
                raise ArchiveStreamError("corrupt", f"zip member is corrupt: {exc}") from exc
            return cast(IO[bytes], _ZipMemberReader(inner, info.file_size))

        return ArchiveMember(
            path, info.filename, MemberType.FILE, info.file_size, unix_mode or 0o644,
            _opener=opener,
        )  # fmt: skip

    def _symlink(
        self, zf: zipfile.ZipFile, info: zipfile.ZipInfo, path: str, unix_mode: int
    ) -> ArchiveMember | None:
        try:
            target = _ZipMemberReader(zf.open(info), 4096).read(4096).decode("utf-8", "replace")
        except READ_ERRORS as exc:
            self._add("corrupt", Severity.HIGH, f"zip symlink unreadable: {exc}", path)
            return None
        joined = posixpath.join(posixpath.dirname(path), target)
        if target.startswith("/") or normalise_path(joined)[2]:
            self._add(
                "symlink-escape",
                Severity.HIGH,
                f"symlink {path!r} -> {target[:200]!r} leads outside",
                path,
            )
        return ArchiveMember(path, info.filename, MemberType.SYMLINK, 0, unix_mode, linkname=target)


class _ZipMemberReader(io.RawIOBase):
    """Never yields more than the declared size (a lying header cannot inflate memory)."""

    def __init__(self, inner: IO[bytes], declared: int) -> None:
        self._inner = inner
        self._left = declared

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        if self._left <= 0:
            return 0
        try:
            data = self._inner.read(min(len(b), self._left))
        except READ_ERRORS as exc:
            raise ArchiveStreamError("corrupt", f"zip member is corrupt: {exc}") from exc
        n = len(data)
        b[:n] = data
        self._left -= n
        return n

    def close(self) -> None:
        self._inner.close()
        super().close()
