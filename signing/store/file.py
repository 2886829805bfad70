"""A local folder laid out like the bucket (``file://DIR``).

Metadata and tags go to ``.meta/<key>.json`` beside the objects (S3 keeps them on the object);
writes are atomic, and ``if_absent`` uses ``link()``, the file-system form of If-None-Match.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from signing.store.digests import b64_sha256
from signing.store.interface import (
    READ_SIZE,
    ChecksumError,
    FileDigests,
    NullProgress,
    ObjectExistsError,
    ObjectInfo,
    ObjectStore,
    PutResult,
    StorageError,
    TransferProgress,
)

__all__ = ["META_DIR", "FileStore"]

META_DIR = ".meta"


class FileStore(ObjectStore):
    """A local folder with the same layout as the bucket; metadata and tags go to
    ``.meta/<key>.json`` beside the objects (S3 keeps them on the object)."""

    def __init__(self, root: Path, *, progress: TransferProgress | None = None) -> None:
        self.root = Path(root)
        self.progress: TransferProgress = progress or NullProgress()

    def describe(self) -> str:
        """``file://DIR``."""
        return f"file://{self.root}"

    def _path(self, key: str) -> Path:
        parts = [p for p in key.split("/") if p]
        if not parts or any(p in (".", "..") for p in parts) or parts[0] == META_DIR:
            raise StorageError(f"{key!r}: not a valid object key")
        return self.root.joinpath(*parts)

    def _meta_path(self, key: str) -> Path:
        return self.root / META_DIR / (key.strip("/") + ".json")

    def head(self, key: str) -> ObjectInfo | None:
        """Size from the file, the rest from the sidecar; ``None`` if either is missing."""
        path = self._path(key)
        meta_path = self._meta_path(key)
        if not path.is_file() or not meta_path.is_file():
            return None
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise StorageError(f"{meta_path}: unreadable object metadata: {exc}") from exc
        return ObjectInfo(
            key=key,
            size=path.stat().st_size,
            metadata=meta.get("metadata", {}),
            checksum_sha256=meta.get("checksum_sha256"),
        )

    def _write_meta(
        self,
        key: str,
        metadata: Mapping[str, str],
        tags: Mapping[str, str] | None,
        checksum: str,
        content_type: str,
    ) -> None:
        meta_path = self._meta_path(key)
        meta_path.parent.mkdir(parents=True, exist_ok=True)
        doc = {
            "metadata": dict(metadata),
            "tags": dict(tags or {}),
            "checksum_sha256": checksum,
            "content_type": content_type,
        }
        _atomic_write(meta_path, json.dumps(doc, sort_keys=True, indent=1).encode())

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
        """Write atomically (never replacing an existing file with ``if_absent``), then the
        sidecar."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        checksum = b64_sha256(hashlib.sha256(data).digest())
        try:
            _atomic_write(path, data, exclusive=if_absent)
            self._write_meta(key, metadata, tags, checksum, content_type)
        except FileExistsError as exc:
            raise ObjectExistsError(f"{path} already exists") from exc
        except OSError as exc:
            raise StorageError(f"{path}: cannot write: {exc.strerror or exc}") from exc
        return PutResult(key=key, parts_sent=1, checksum_sha256=checksum)

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
        """Copy in 1 MiB blocks into a temporary file, check the digest, rename into place."""
        dst = self._path(key)
        dst.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dst.name}.", suffix=".tmp", dir=dst.parent)
        tmp = Path(tmp_name)
        digest = hashlib.sha256()
        self.progress.begin(key, path.stat().st_size)
        try:
            with open(path, "rb") as src, os.fdopen(fd, "wb") as out:
                while block := src.read(READ_SIZE):
                    out.write(block)
                    digest.update(block)
                    self.progress.advance(len(block))
                out.flush()
                os.fsync(out.fileno())
            if digest.hexdigest() != digests.sha256_hex:
                raise ChecksumError(f"{path}: changed while copying (sha256 differs)")
            if if_absent:
                # link() fails if the name exists: the file-system form of If-None-Match.
                # The metadata is written only by the writer that won.
                os.link(tmp, dst)
            else:
                os.replace(tmp, dst)
            checksum = b64_sha256(digest.digest())
            self._write_meta(key, metadata, tags, checksum, content_type)
        except FileExistsError as exc:
            raise ObjectExistsError(f"{dst} already exists") from exc
        except OSError as exc:
            raise StorageError(f"{dst}: cannot write: {exc.strerror or exc}") from exc
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            self.progress.end()
        return PutResult(key=key, parts_sent=1, checksum_sha256=checksum)

    def download(self, key: str, dst: Path, *, max_size: int) -> ObjectInfo:
        """Copy the file to ``dst``."""
        src = self._path(key)
        info = self.head(key)
        if info is None:
            raise StorageError(f"{src}: no such object")
        if info.size > max_size:
            raise StorageError(f"{src}: {info.size} bytes, more than the {max_size} expected")
        self.progress.begin(key, info.size)
        try:
            with open(src, "rb") as fp, open(dst, "wb") as out:
                while block := fp.read(READ_SIZE):
                    out.write(block)
                    self.progress.advance(len(block))
        except OSError as exc:
            raise StorageError(f"{src}: cannot read: {exc.strerror or exc}") from exc
        finally:
            self.progress.end()
        return info


def _atomic_write(path: Path, data: bytes, *, exclusive: bool = False) -> None:
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        if exclusive:
            # link() fails if the name exists: the file-system form of If-None-Match.
            os.link(tmp_name, path)
            os.unlink(tmp_name)
        else:
            os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
