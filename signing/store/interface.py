"""The object store interface shared by the S3 and ``file://`` backends, and its errors.

Keys are POSIX paths relative to the store's root (a bucket prefix or a folder). Both
backends write the same keys, so a release published to a folder can be copied to a bucket.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from signing.errors import SigningError

__all__ = [
    "READ_SIZE",
    "ChecksumError",
    "FileDigests",
    "NullProgress",
    "ObjectExistsError",
    "ObjectInfo",
    "ObjectStore",
    "PutResult",
    "StorageError",
    "TransferProgress",
]

MiB = 1024 * 1024
READ_SIZE = MiB


class StorageError(SigningError):
    """An object store operation failed for good (after retries): exit 3."""


class ChecksumError(StorageError):
    """The store received or holds bytes other than those sent."""


class ObjectExistsError(StorageError):
    """A write that must create a new object found one already there."""


class TransferProgress(Protocol):
    """Receives transfer progress; implementations must be thread-safe (parts run in parallel)."""

    def begin(self, label: str, total: int) -> None:
        """A transfer of ``total`` bytes called ``label`` starts."""

    def advance(self, n: int) -> None:
        """``n`` more bytes were transferred."""

    def end(self) -> None:
        """The current transfer finished (or failed)."""


class NullProgress:
    """Progress that goes nowhere."""

    def begin(self, label: str, total: int) -> None:
        """Ignored."""

    def advance(self, n: int) -> None:
        """Ignored."""

    def end(self) -> None:
        """Ignored."""


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """What a store says about one object."""

    key: str
    size: int
    metadata: Mapping[str, str]
    checksum_sha256: str | None = None
    sse: str | None = None
    sse_kms_key_id: str | None = None


@dataclass(frozen=True, slots=True)
class PutResult:
    """What an upload did: skipped (already there), or how many parts were sent and reused."""

    key: str
    skipped: bool = False
    parts_sent: int = 0
    parts_reused: int = 0
    checksum_sha256: str | None = None


@dataclass(frozen=True, slots=True)
class FileDigests:
    """A file's SHA-256 and size and, for a multipart upload, every part's SHA-256."""

    sha256_hex: str
    size: int
    part_size: int = 0
    """0 when no part digests were computed (single PUT, file store)."""
    parts: tuple[bytes, ...] = ()


class ObjectStore(ABC):
    """Keys are POSIX paths relative to the store's root (bucket prefix or folder)."""

    @abstractmethod
    def describe(self) -> str:
        """Where this store writes, for messages (``s3://bucket/prefix`` or ``file://dir``)."""

    @abstractmethod
    def head(self, key: str) -> ObjectInfo | None:
        """The object's facts, or ``None`` when it does not exist."""

    def digest_file(self, path: Path) -> FileDigests:
        """The digests :meth:`put_file` needs for ``path`` (this store's part size)."""
        from signing.store.digests import digest_file

        return digest_file(path)

    @abstractmethod
    def put_file(
        self,
        key: str,
        path: Path,
        *,
        digests: FileDigests,
        metadata: Mapping[str, str],
        tags: Mapping[str, str] | None = None,
        content_type: str = "application/octet-stream",
        resume_state: Path | None = None,
        if_absent: bool = False,
    ) -> PutResult:
        """Upload a local file whose digests (from :meth:`digest_file`) are ``digests``.

        A file that no longer matches them raises :class:`ChecksumError`.
        """

    @abstractmethod
    def put_bytes(
        self,
        key: str,
        data: bytes,
        *,
        metadata: Mapping[str, str],
        tags: Mapping[str, str] | None = None,
        content_type: str = "application/octet-stream",
        if_absent: bool = False,
    ) -> PutResult:
        """Upload a small in-memory object; with ``if_absent``, only if the key is free
        (:class:`ObjectExistsError` otherwise), atomically on the store's side."""

    @abstractmethod
    def download(self, key: str, dst: Path, *, max_size: int) -> ObjectInfo:
        """Write the object to ``dst`` (a path the caller owns); ``max_size`` bounds it."""

    def get_bytes(self, key: str, *, max_size: int) -> bytes | None:
        """A small object's bytes, or ``None`` if it does not exist."""
        fd, name = tempfile.mkstemp(prefix=".get.", suffix=".tmp")
        os.close(fd)
        tmp = Path(name)
        try:
            if self.head(key) is None:
                return None
            self.download(key, tmp, max_size=max_size)
            return tmp.read_bytes()
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
