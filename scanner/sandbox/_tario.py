"""Reading container assets: compression sniffing, streaming, and extraction for bubblewrap.

The sandbox does not import ``scanner.sources`` (the layers are independent); these are the
few archive operations it needs. Extraction refuses what could escape the destination and
skips device nodes; it is only used on assets the scan has already read safely.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import shutil
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from scanner.errors import SourceError
from scanner.tarextract import UnsafeMemberError, extract_member

__all__ = ["compression_of", "extract_rootfs", "open_tar_stream", "plain_or_gzip"]


def compression_of(path: Path) -> str:
    """``gzip``, ``zstd``, ``bzip2``, ``xz`` or ``none``, sniffed from the magic bytes."""
    with path.open("rb") as fp:
        head = fp.read(6)
    if head[:2] == b"\x1f\x8b":
        return "gzip"
    if head[:4] == b"\x28\xb5\x2f\xfd":
        return "zstd"
    if head[:3] == b"BZh":
        return "bzip2"
    if head[:6] == b"\xfd7zXZ\x00":
        return "xz"
    return "none"


@contextlib.contextmanager
def _raw_stream(path: Path) -> Iterator[IO[bytes]]:
    kind = compression_of(path)
    if kind == "zstd":
        import zstandard

        with path.open("rb") as raw, zstandard.ZstdDecompressor().stream_reader(raw) as fp:
            yield fp
    elif kind == "gzip":
        opener: Any = gzip.open
        try:
            from isal import igzip  # several times faster than zlib on large rootfs tars

            opener = igzip.open
        except ImportError:
            pass  # plain zlib: slower, same bytes
        with opener(path, "rb") as fp:
            yield fp
    else:
        with path.open("rb") as fp:
            yield fp


@contextlib.contextmanager
def open_tar_stream(path: Path) -> Iterator[tarfile.TarFile]:
    """A forward-only ``TarFile`` over ``path`` in any supported compression."""
    with _raw_stream(path) as fp:
        try:
            with tarfile.open(fileobj=fp, mode="r|*") as tf:
                yield tf
        except tarfile.TarError as exc:
            raise SourceError(f"{path}: not a readable tar archive: {exc}") from exc


def plain_or_gzip(path: Path, work: Path) -> Path:
    """A file Docker can import: ``path`` itself unless it is zstd, which is decompressed."""
    if compression_of(path) != "zstd":
        return path
    out = work / (path.name + ".tar")
    with _raw_stream(path) as src, out.open("wb") as dst:
        shutil.copyfileobj(src, dst, 1024 * 1024)
    return out


def extract_rootfs(path: Path, dest: Path) -> None:
    """Extract a rootfs tar into ``dest`` for bubblewrap.

    The ``tar`` extraction filter (``scanner.tarextract``) refuses members whose real path
    would leave ``dest``; device nodes and fifos are skipped (the sandbox gets its own ``/dev``).
    """
    dest.mkdir(parents=True, exist_ok=True)
    with _raw_stream(path) as fp:
        try:
            with tarfile.open(fileobj=fp, mode="r|*") as tf:
                for member in tf:
                    if member.isdev() or member.isfifo():
                        continue
                    try:
                        extract_member(tf, member, dest)
                    except UnsafeMemberError as exc:
                        raise SourceError(f"{path}: unsafe member {member.name!r}: {exc}") from exc
        except tarfile.TarError as exc:
            raise SourceError(f"{path}: cannot extract: {exc}") from exc
    # Extraction as root keeps owners; make sure the tree is readable for the sandbox user.
    os.chmod(dest, 0o755)  # noqa: S103 - a root filesystem's top folder is world-readable
