"""Decompression bombs built in well under a second.

Compressing gigabytes of zeros takes tens of seconds; instead one 1 MiB block of zeros is
deflated once after a full flush (which resets the compressor's history), and that same
compressed block is repeated. The result is a valid deflate stream; CRCs are computed over the
plaintext block by block.
"""

from __future__ import annotations

import struct
import tarfile
import zlib
from collections.abc import Iterator
from typing import BinaryIO

MiB = 1024 * 1024
_ZERO = bytes(MiB)


class _Deflater:
    def __init__(self) -> None:
        self._c = zlib.compressobj(9, zlib.DEFLATED, -15)
        self.crc = 0
        self.size = 0
        self._zero_block: bytes | None = None

    def data(self, raw: bytes) -> bytes:
        self.crc = zlib.crc32(raw, self.crc)
        self.size += len(raw)
        return self._c.compress(raw) + self._c.flush(zlib.Z_FULL_FLUSH)

    def zeros(self, mib: int) -> Iterator[bytes]:
        if self._zero_block is None:
            self._zero_block = self.data(_ZERO)
            mib -= 1
            yield self._zero_block
        for _ in range(mib):
            self.crc = zlib.crc32(_ZERO, self.crc)
            self.size += MiB
            yield self._zero_block

    def finish(self) -> bytes:
        return self._c.flush()


def write_tar_gz_bomb(out: BinaryIO, member: str, mib: int) -> None:
    """A gzip'd tar holding one file of ``mib`` MiB of zeros."""
    d = _Deflater()
    out.write(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff")
    info = tarfile.TarInfo(member)
    info.size = mib * MiB
    info.mode = 0o644
    out.write(d.data(info.tobuf(format=tarfile.USTAR_FORMAT)))
    for chunk in d.zeros(mib):
        out.write(chunk)
    out.write(d.data(bytes(1024)))
    out.write(d.finish())
    out.write(struct.pack("<II", d.crc, d.size & 0xFFFFFFFF))


def write_zip_bomb(out: BinaryIO, members: int, mib: int) -> None:
    """A well-formed zip of ``members`` deflated files, each ``mib`` MiB of zeros."""
    d = _Deflater()
    body = b"".join(d.zeros(mib)) + d.finish()
    crc, size = d.crc, d.size
    central = []
    for i in range(members):
        name = f"weights{i}.bin".encode()
        offset = out.tell()
        out.write(
            struct.pack(
                "<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, crc, len(body), size, len(name), 0
            )
        )
        out.write(name)
        out.write(body)
        central.append(
            struct.pack(
                "<IHHHHHHIIIHHHHHII",
                0x02014B50,
                20,
                20,
                0,
                8,
                0,
                0,
                crc,
                len(body),
                size,
                len(name),
                0,
                0,
                0,
                0,
                0,
                offset,
            )
            + name
        )
    cd_start = out.tell()
    cd = b"".join(central)
    out.write(cd)
    out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, members, members, len(cd), cd_start, 0))
