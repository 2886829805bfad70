"""A tar member's bytes, read straight from the stream, are exactly the member's bytes.

Whatever the reads' sizes, compressed or not; a member nobody read is skipped; a member the
archive cuts short says "truncated"; a sparse member (GNU tar ``--sparse``) still reads as its
expanded content, through tarfile's own reader.
"""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.config import ArchiveLimits
from scanner.sources.safe_archive import ArchiveStreamError, MemberType, SafeTarReader
from tests.helpers.archives import M, tar_bytes


def _reader(data: bytes) -> SafeTarReader:
    return SafeTarReader(io.BytesIO(data), artifact="a.tar", limits=ArchiveLimits())


@settings(max_examples=60, deadline=None)
@given(
    contents=st.lists(st.binary(max_size=3000), min_size=1, max_size=6),
    chunk=st.integers(min_value=1, max_value=700),
    skip=st.sets(st.integers(min_value=0, max_value=5)),
    compression=st.sampled_from(["", "gz"]),
)
def test_reads_of_any_size_give_each_member_its_bytes(
    contents: list[bytes], chunk: int, skip: set[int], compression: str
) -> None:
    archive = tar_bytes([M(f"f{i}", c) for i, c in enumerate(contents)], compression)
    got: dict[str, bytes] = {}
    for i, member in enumerate(_reader(archive)):
        if i in skip:
            continue  # never opened: the next header is still found
        with member.open() as f:
            parts = []
            while part := f.read(chunk):
                parts.append(part)
            assert f.read() == b""
        got[member.path] = b"".join(parts)
    assert got == {f"f{i}": c for i, c in enumerate(contents) if i not in skip}


def test_a_member_cut_short_by_the_end_of_the_archive_is_truncated() -> None:
    archive = tar_bytes([M("a.bin", b"A" * 5000)])[: 512 + 3000]
    member = next(iter(_reader(archive)))
    with pytest.raises(ArchiveStreamError) as caught, member.open() as f:
        f.read()
    assert caught.value.rule == "truncated"


@pytest.mark.skipif(shutil.which("tar") is None, reason="GNU tar makes the sparse member")
def test_a_sparse_member_reads_as_its_expanded_content(tmp_path: Path) -> None:
    sparse = tmp_path / "disk.img"
    with sparse.open("wb") as f:
        f.write(b"head")
        f.seek(1 << 20)
        f.write(b"tail")
    archive = tmp_path / "sparse.tar"
    subprocess.run(
        ["tar", "--sparse", "-cf", str(archive), "-C", str(tmp_path), "disk.img"], check=True
    )
    read: dict[str, bytes] = {}
    for member in _reader(archive.read_bytes()):  # a streamed member is read as it passes
        if member.type is MemberType.FILE:
            with member.open() as f:
                read[member.path] = f.read()
    assert read == {"disk.img": sparse.read_bytes()}
