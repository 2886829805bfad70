"""Streaming SHA-256: correct at chunk boundaries, and the file is read exactly once."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest

from signing.digest import CHUNK_SIZE, sha256_file, sha256_stream
from signing.errors import SigningError


@pytest.mark.parametrize(
    "size", [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE + 17]
)
def test_matches_hashlib(tmp_path: Path, size: int) -> None:
    data = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    path = tmp_path / "blob"
    path.write_bytes(data)
    d = sha256_file(path)
    assert d.hex == hashlib.sha256(data).hexdigest()
    assert d.size == size


class CountingStream(io.RawIOBase):
    """A raw stream that counts bytes handed out, to prove a single pass."""

    def __init__(self, data: bytes) -> None:
        self._inner = io.BytesIO(data)
        self.bytes_read = 0
        self.calls = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        self.calls += 1
        n = self._inner.readinto(b)
        self.bytes_read += n
        return n


def test_reads_each_byte_once_in_1mib_chunks() -> None:
    data = b"\x01" * (2 * CHUNK_SIZE + 5)
    stream = CountingStream(data)
    seen: list[int] = []
    d = sha256_stream(stream, sinks=[lambda chunk: seen.append(len(chunk))])  # type: ignore[arg-type]
    assert d.hex == hashlib.sha256(data).hexdigest()
    assert stream.bytes_read == len(data)
    assert seen == [CHUNK_SIZE, CHUNK_SIZE, 5]
    assert stream.calls == 4  # three chunks and the end-of-file read


def test_unreadable_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(SigningError, match="absent.bin: cannot read"):
        sha256_file(tmp_path / "absent.bin")
