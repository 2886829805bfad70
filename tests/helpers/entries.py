"""Build ``FileEntry`` objects from bytes for analyzer unit tests."""

from __future__ import annotations

from scanner.analyzers.entry import FileEntry, LazyContent


def make_entry(
    path: str,
    data: bytes,
    *,
    artifact: str = "test.tar",
    mode: int = 0o644,
    layer: int = 0,
    uid: int = 0,
    gid: int = 0,
) -> FileEntry:
    """A FileEntry whose content is ``data``."""
    return FileEntry(
        artifact=artifact,
        path=path,
        size=len(data),
        mode=mode,
        content=LazyContent(lambda: data),
        layer=layer,
        uid=uid,
        gid=gid,
    )
