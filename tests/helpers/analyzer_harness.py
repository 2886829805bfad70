"""Run analyzers on files the way a scan does: through the real dispatcher.

The dispatcher sniffs each file's head and offers it by name and by content, exactly as the
walker's files are offered; what comes back is what a scan would report for that file.

Example::

    out = dispatch_files([PickleAnalyzer()], {"weights/model.PTH": data})
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO

from scanner.analyzers.interface import Analyzer, Output
from scanner.models import Artifact, ArtifactKind
from scanner.sources.interface import ArtifactFormat, SourceArtifact
from scanner.sources.safe_archive import ArchiveMember, MemberType
from scanner.walk.dispatch import Dispatcher

__all__ = ["dispatch_files", "source_artifact"]


def source_artifact(
    name: str = "model.tar.gz", kind: ArtifactKind = ArtifactKind.MODEL
) -> SourceArtifact:
    """A minimal artifact for the dispatcher (no file on disk)."""
    fmt = ArtifactFormat.MODEL_ARCHIVE if kind is ArtifactKind.MODEL else ArtifactFormat.ROOTFS
    return SourceArtifact(Artifact(kind, name, name, None, 0), None, fmt)


def _member(path: str, data: bytes) -> ArchiveMember:
    def opener() -> IO[bytes]:
        return io.BytesIO(data)

    return ArchiveMember(path, path, MemberType.FILE, len(data), 0o644, _opener=opener)


def dispatch_files(
    analyzers: Iterable[Analyzer],
    files: Mapping[str, bytes],
    *,
    artifact: str = "model.tar.gz",
    kind: ArtifactKind = ArtifactKind.MODEL,
) -> list[Output]:
    """Every output the analyzers give for ``files`` in one artifact (``finish`` included)."""
    with tempfile.TemporaryDirectory() as tmp:
        d = Dispatcher(list(analyzers), Path(tmp))
        sa = source_artifact(artifact, kind)
        d.begin(sa)
        for path, data in files.items():
            d.handle(_member(path, data))
        return d.finish(sa)
