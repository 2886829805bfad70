"""Property tests: no yielded path escapes the root; each regular file is walked exactly once."""

from __future__ import annotations

import io
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scanner.config import ArchiveLimits, ScanConfig
from scanner.pipeline import scan
from scanner.sources.safe_archive import LinkContext, MemberType, SafeTarReader, normalise_path
from tests.helpers.archives import M, tar_bytes
from tests.helpers.probe import ProbeAnalyzer

segment = st.one_of(
    st.sampled_from(["..", ".", "", "etc", "panorama", "a b", "ü", "\\", "~"]),
    st.text(alphabet="abcdefgh._-/", min_size=1, max_size=8),
)
names = (
    st.lists(segment, min_size=1, max_size=6)
    .map("/".join)
    .map(lambda s: s if s.strip("/") else "x")
)
prefix = st.sampled_from(["", "/", "./", "../", "//"])
kinds = st.sampled_from(["file", "file", "file", "dir", "symlink", "hardlink", "fifo"])


@st.composite
def members(draw: st.DrawFn) -> list[M]:
    out = []
    for _ in range(draw(st.integers(1, 12))):
        kind = draw(kinds)
        name = draw(prefix) + draw(names)
        link = draw(prefix) + draw(names) if kind in ("symlink", "hardlink") else ""
        out.append(M(name, draw(st.binary(max_size=64)) if kind == "file" else b"", kind, link))
    return out


def _inside(path: str) -> bool:
    return (
        not path.startswith("/") and ".." not in path.split("/") and path == normalise_path(path)[0]
    )


@settings(max_examples=200, deadline=None)
@given(members(), st.sampled_from(list(LinkContext)))
def test_no_yielded_path_escapes_the_root(ms: list[M], context: LinkContext) -> None:
    reader = SafeTarReader(
        io.BytesIO(tar_bytes(ms)), artifact="a", limits=ArchiveLimits(), context=context
    )
    for member in reader:
        assert _inside(member.path), member.path
        assert member.path  # the root itself is never handed out
    for f in reader.findings:
        assert f.location.path == "" or _inside(f.location.path)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(members())
def test_each_regular_file_is_walked_once(tmp_path: Path, ms: list[M]) -> None:
    target = tmp_path / "model.tar"
    target.write_bytes(tar_bytes([M("model/w.bin", b"w"), *ms]))
    probe = ProbeAnalyzer()
    scan(target, ScanConfig(cache_dir=None, work_dir=tmp_path / "w"), analyzers=[probe])
    reader = SafeTarReader(
        io.BytesIO(target.read_bytes()),
        artifact="a",
        limits=ArchiveLimits(),
        context=LinkContext.EXTRACT,
    )
    files = [m.path for m in reader if m.type is MemberType.FILE]
    # every regular file member is offered exactly once, in archive order (members of nested
    # archives carry "!/" in their path and come on top)
    assert [p for p in probe.seen if "!/" not in p] == files
