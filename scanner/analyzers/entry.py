"""``FileEntry``: one file of an artifact as the walker hands it to analyzers.

Content is read lazily and at most once, then shared by every interested analyzer: small files
as ``bytes``, large ones through a spooled temporary file inside the work folder.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO, cast

from scanner.models import Location

__all__ = ["FileEntry", "LazyContent"]


class LazyContent:
    """Reads a member's bytes once, on first use, and serves them to every analyzer.

    ``loader`` is called at most once. Content at or under ``memory_limit`` bytes stays in
    memory; bigger content goes to a ``SpooledTemporaryFile`` supplied by ``spool``.
    """

    __slots__ = ("_data", "_file", "_loaded", "_loader")

    def __init__(self, loader: Callable[[], bytes | BinaryIO]) -> None:
        self._loader = loader
        self._loaded = False
        self._data: bytes | None = None
        self._file: BinaryIO | None = None

    def _load(self) -> None:
        if not self._loaded:
            got = self._loader()
            if isinstance(got, bytes):
                self._data = got
            else:
                self._file = got
            self._loaded = True

    def open(self) -> BinaryIO:
        """A fresh reader positioned at the start of the content."""
        self._load()
        if self._data is not None:
            return io.BytesIO(self._data)
        assert self._file is not None
        self._file.seek(0)
        return cast(BinaryIO, _NonClosing(self._file))

    def read(self, limit: int = -1) -> bytes:
        """The content (or its first ``limit`` bytes)."""
        self._load()
        if self._data is not None:
            return self._data if limit < 0 else self._data[:limit]
        assert self._file is not None
        self._file.seek(0)
        return self._file.read(limit)

    @property
    def loaded(self) -> bool:
        """Whether the content was read (analyzers that only looked at names never trigger it)."""
        return self._loaded

    def name(self) -> str:
        """The path of the file spooling big content (reads it first; not for small content)."""
        self._load()
        if self._file is None:
            raise ValueError("content held in memory has no file name")
        return str(self._file.name)

    def close(self) -> None:
        """Close a spooled file (nothing to do for content held in memory)."""
        if self._file is not None:
            self._file.close()


class _NonClosing(io.RawIOBase):
    """A read-only view of a shared file that does not close it when the caller closes."""

    def __init__(self, f: BinaryIO) -> None:
        self._f = f

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self._f.read(len(b))
        n = len(data)
        b[:n] = data
        return n

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._f.seek(offset, whence)

    def tell(self) -> int:
        return self._f.tell()


@dataclass(slots=True)
class FileEntry:
    """One regular file inside an artifact (links and directories are not handed to analyzers).

    ``path`` is POSIX, relative, normalised (no leading ``/``, no ``.``/``..`` parts).
    ``layer`` is the layer index for multi-layer images, else 0. ``mode`` holds permission bits
    including setuid/setgid; ``uid``/``gid`` the owner as archived.
    """

    artifact: str
    path: str
    size: int
    mode: int
    content: LazyContent
    layer: int = 0
    uid: int = 0
    gid: int = 0
    layer_id: str | None = None
    extra: dict[str, object] = field(default_factory=dict)

    def open(self) -> BinaryIO:
        """Read the file's content (shared, read once from the archive)."""
        return self.content.open()

    def read(self, limit: int = -1) -> bytes:
        """The file's bytes (or the first ``limit``)."""
        return self.content.read(limit)

    def location(self, line: int | None = None) -> Location:
        """A Location for a finding in this file."""
        return Location(self.artifact, self.path, line, self.layer_id)
