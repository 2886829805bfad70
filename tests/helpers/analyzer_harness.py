"""Run analyzers over in-memory files through the real dispatcher (syft's ``pkgtest`` idea).

Files go through ``Dispatcher.handle`` exactly as the walker hands them over, so a test sees
what a scan would: pattern matching, the component stage, ``finish`` and the tree analyzers.

Example::

    out = AnalyzerHarness(LicensesAnalyzer(), options={"deny": ["GPL-3.0-only"]}).run(
        {"usr/lib/python3/dist-packages/x-1.0.dist-info/METADATA": b"..."}
    )
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scanner.analyzers.interface import Analyzer, AnalyzerContext
from scanner.config import ScanConfig
from scanner.models import Artifact, ArtifactKind, frozen_mapping
from scanner.sources.interface import ArtifactFormat, SourceArtifact
from scanner.sources.safe_archive import ArchiveMember, MemberType
from scanner.walk.dispatch import Dispatcher


def _member(path: str, data: bytes, mode: int) -> ArchiveMember:
    import io

    return ArchiveMember(
        path, path, MemberType.FILE, len(data), mode, _opener=lambda: io.BytesIO(data)
    )


class AnalyzerHarness:
    """One analyzer (or several), configured, fed through a real Dispatcher."""

    def __init__(
        self,
        *analyzers: Analyzer,
        options: Mapping[str, Any] | None = None,
        config: ScanConfig | None = None,
        work_dir: Path | None = None,
    ) -> None:
        self.analyzers = list(analyzers)
        self.options = options or {}
        self.config = config or ScanConfig()
        self.work_dir = work_dir

    def run(
        self,
        files: Mapping[str, bytes],
        *,
        artifact: str = "test.tar",
        kind: ArtifactKind = ArtifactKind.CONTAINER,
        fmt: ArtifactFormat = ArtifactFormat.ROOTFS,
        modes: Mapping[str, int] | None = None,
    ) -> list[Any]:
        """Outputs of one artifact holding ``files`` (path -> bytes), in dispatch order."""
        with tempfile.TemporaryDirectory() as tmp:
            work = self.work_dir or Path(tmp)
            for a in self.analyzers:
                a.configure(
                    AnalyzerContext(a.name, frozen_mapping(self.options), self.config, work)
                )
            d = Dispatcher(self.analyzers, work)
            sa = SourceArtifact(Artifact(kind, artifact, artifact, None, 0), None, fmt)
            d.begin(sa)
            for path, data in files.items():
                d.handle(_member(path, data, (modes or {}).get(path, 0o644)))
            return d.finish(sa)
