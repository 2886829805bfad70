"""``parse_header`` says exactly what ``tarfile.TarInfo.frombuf`` says, for any block.

Headers as tarfile writes them (ustar, GNU, PAX; files, folders, links, devices, long names
and prefixes), then mutated byte by byte, with the checksum recomputed or not: every attribute
of the resulting TarInfo, or the exception's type and message, must be the same.
"""

from __future__ import annotations

import io
import tarfile

from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.sources._tar_header import parse_header

KINDS = (tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.CHRTYPE)
FORMATS = (tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT)
names = st.text(alphabet="ab/._-é", min_size=1, max_size=180)


def _blocks(name: str, kind: bytes, fmt: int, size: int, mode: int, mtime: int) -> bytes:
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.size = size if kind == tarfile.REGTYPE else 0
    ti.mode = mode
    ti.mtime = mtime
    ti.linkname = "target/of/link" if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE) else ""
    ti.uname, ti.gname = "root", "wheel"
    try:
        return ti.tobuf(fmt, "utf-8", "surrogateescape")  # type: ignore[arg-type]
    except ValueError:  # a name ustar cannot hold
        return ti.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


def _fields(ti: tarfile.TarInfo) -> dict[str, object]:
    return {s: getattr(ti, s, None) for s in tarfile.TarInfo.__slots__}


def _outcome(parse: object, block: bytes) -> tuple[str, object]:
    try:
        ti = parse(block)  # type: ignore[operator]
    except Exception as exc:  # noqa: BLE001 - the exception is what is compared
        return ("raised", (type(exc), str(exc)))
    return ("parsed", _fields(ti))


def _same(block: bytes) -> None:
    ours = _outcome(lambda b: parse_header(tarfile.TarInfo, b, "utf-8", "surrogateescape"), block)
    theirs = _outcome(lambda b: tarfile.TarInfo.frombuf(b, "utf-8", "surrogateescape"), block)
    assert ours == theirs, block


def _fix_checksum(block: bytearray) -> None:
    block[148:156] = b" " * 8
    block[148:156] = b"%06o\0 " % sum(block)


@settings(max_examples=500, deadline=None)
@given(
    name=names,
    kind=st.sampled_from(KINDS),
    fmt=st.sampled_from(FORMATS),
    size=st.integers(min_value=0, max_value=8**11 - 1),
    mode=st.integers(min_value=0, max_value=0o7777),
    mtime=st.integers(min_value=0, max_value=8**11 - 1),
    flips=st.lists(st.tuples(st.integers(0, 511), st.integers(0, 255)), max_size=4),
    fix=st.booleans(),
)
def test_any_header_block_parses_as_tarfile_parses_it(
    name: str,
    kind: bytes,
    fmt: int,
    size: int,
    mode: int,
    mtime: int,
    flips: list[tuple[int, int]],
    fix: bool,
) -> None:
    data = _blocks(name, kind, fmt, size, mode, mtime)
    for start in range(0, len(data), tarfile.BLOCKSIZE):  # the pax/GNU headers too
        block = bytearray(data[start : start + tarfile.BLOCKSIZE])
        for pos, value in flips:
            block[pos] = value
        if fix:
            _fix_checksum(block)
        _same(bytes(block))


@given(st.binary(min_size=0, max_size=600))
def test_any_bytes_parse_as_tarfile_parses_them(data: bytes) -> None:
    _same(data[:512] if len(data) >= 512 else data)


def test_odd_blocks_go_the_standard_way() -> None:
    # empty, short, all zeros, a base-256 size, a GNU sparse header
    big = tarfile.TarInfo("big.bin")
    big.size = 8**12  # needs base-256 in GNU format
    sparse = bytearray(_blocks("s.img", tarfile.REGTYPE, tarfile.GNU_FORMAT, 10, 0o644, 0))
    sparse[156:157] = tarfile.GNUTYPE_SPARSE
    _fix_checksum(sparse)
    for block in (
        b"",
        b"x" * 100,
        b"\0" * 512,
        big.tobuf(tarfile.GNU_FORMAT, "utf-8", "surrogateescape"),
        bytes(sparse),
    ):
        _same(block)


def test_a_whole_archive_reads_the_same() -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tf:
        for i, kind in enumerate(KINDS):
            ti = tarfile.TarInfo(f"dir{i}/" + "n" * (90 + 10 * i))
            ti.type = kind
            ti.linkname = "x" if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE) else ""
            tf.addfile(ti, io.BytesIO(b"") if kind == tarfile.REGTYPE else None)
    data = buf.getvalue()
    for start in range(0, len(data), tarfile.BLOCKSIZE):
        _same(data[start : start + tarfile.BLOCKSIZE])
