"""DigestTap: the digest of a member's bytes, taken on their single way through."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator

from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.config import ArchiveLimits
from scanner.sources.safe_archive import ArchiveMember, MemberType, SafeTarReader
from scanner.walk.digesting import DigestTap
from scanner.walk.peek import PeekedMember
from tests.helpers.archives import M, tar_bytes


def _member(data: bytes) -> ArchiveMember:
    """A member whose reader is not the archive's own (the wrapped, ``_Feeding`` path)."""
    return ArchiveMember(
        "usr/bin/x", "usr/bin/x", MemberType.FILE, len(data), 0o755,
        _opener=lambda: io.BytesIO(data),
    )  # fmt: skip


def _members(archive: bytes) -> Iterator[ArchiveMember]:
    reader = SafeTarReader(io.BytesIO(archive), artifact="root.tar", limits=ArchiveLimits())
    yield from (m for m in reader if m.type is MemberType.FILE)


def test_member_reader_feeds_the_tap_without_a_wrapper() -> None:
    files = {"a": b"alpha" * 1000, "b": b"", "c": bytes(range(256)) * 5000}
    got = {}
    for m in _members(tar_bytes(M(name, data) for name, data in files.items())):
        tap = DigestTap(m, "md5")
        reader = m.open()
        assert type(reader).__name__ == "MemberReader"  # the archive's own reader, not wrapped
        while reader.read(777):
            pass
        reader.close()
        got[m.path] = tap.hexdigest(m)
    assert got == {k: hashlib.md5(v).hexdigest() for k, v in files.items()}


@given(data=st.binary(max_size=5000), head=st.integers(0, 6000))
@settings(max_examples=60, deadline=None)
def test_peeked_then_read_or_finished(data: bytes, head: int) -> None:
    """Whatever reads the member (a sniff's head, an analyzer, nobody), the digest is the
    content's."""
    for read_whole in (True, False):
        m = _member(data)
        tap = DigestTap(m, "sha256")
        peek = PeekedMember(m, tap)
        peek.head(head)
        if read_whole:
            with peek.open() as f:
                assert f.read() == data
        else:
            peek.finish()
        assert tap.hexdigest(m) == hashlib.sha256(data).hexdigest()


def test_never_opened_is_read_by_the_tap() -> None:
    m = _member(b"x" * 3_000_000)
    tap = DigestTap(m, "md5")
    assert tap.hexdigest(m) == hashlib.md5(b"x" * 3_000_000).hexdigest()


def test_opened_but_not_read_to_the_end_is_unknown() -> None:
    m = _member(b"0123456789")
    tap = DigestTap(m, "md5")
    with m.open() as f:
        f.read(4)
    assert tap.hexdigest(m) == ""


def test_more_bytes_than_the_member_holds_is_unknown() -> None:
    """A reader that passes more than the header's size: the digest would describe bytes the
    archive does not say are the file's."""
    m = ArchiveMember("a", "a", MemberType.FILE, 4, 0o644, _opener=lambda: io.BytesIO(b"01234567"))
    tap = DigestTap(m, "md5")
    with m.open() as f:
        f.read()
    assert tap.hexdigest(m) == ""
