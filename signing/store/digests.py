"""Whole-file and per-part SHA-256 digests of a file to upload, in one read."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

from scanner.fsutil import read_full
from signing.digest import BackgroundHasher
from signing.store.interface import READ_SIZE, FileDigests, StorageError

__all__ = ["b64_sha256", "digest_file"]

MiB = 1024 * 1024


def digest_file(path: Path, part_size: int = 0) -> FileDigests:
    """Hash ``path`` in one read: the whole file, and each ``part_size`` part when not 0.

    The whole-file hash runs on a second thread (hashlib releases the GIL), so both digests
    take about the time of one.
    """
    block_size = part_size or READ_SIZE
    # Two blocks in flight keep both cores busy; more would only hold memory (parts are 8 MiB+).
    whole = BackgroundHasher(depth=max(2, 16 * MiB // block_size))
    parts: list[bytes] = []
    try:
        with open(path, "rb", buffering=0) as fp:
            while True:
                # A new buffer per block: the hasher thread may still be reading the last.
                block = memoryview(bytearray(block_size))
                got = read_full(fp, block)
                if not got:
                    break
                whole.update(block[:got])
                if part_size:
                    parts.append(hashlib.sha256(block[:got]).digest())
        return FileDigests(whole.hexdigest(), whole.size, part_size, tuple(parts))
    except OSError as exc:
        raise StorageError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    finally:
        whole.abandon()


def b64_sha256(digest: bytes) -> str:
    """Base64 form of a SHA-256 digest, as S3 checksums are written."""
    return base64.b64encode(digest).decode("ascii")
