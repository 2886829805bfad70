"""``packages``: the third-party inventory of every artifact, as Components with purl.

Finds Python distributions from ``*.dist-info``/``*.egg-info`` anywhere in a root filesystem
(any Python version's site-packages or dist-packages, vendored copies), dependencies declared in
requirements/pyproject/lock files of code packages, and OS packages from the dpkg status
database. Each Component records where it was found and its SPDX-normalised licenses (see
``_licensing`` for the detection order).

Options (``ScanConfig.options["packages"]``):

- ``license_texts`` (bool, default false): keep each component's license texts as found in the
  artifact in ``properties["license_texts"]`` (the ``licenses --format notice`` export sets it).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING

from scanner.analyzers._inventory import (
    INVENTORY_PATTERNS,
    LICENSE_FILE_PATTERNS,
    VENDORED_PATTERNS,
    Collector,
    build_components,
)
from scanner.analyzers._vendored import (
    in_vendored_folder,
    is_vendored_library,
    vendored_library,
)
from scanner.analyzers.interface import FileAnalyzer, Output

if TYPE_CHECKING:
    from scanner.sources.interface import SourceArtifact
    from scanner.walk.entry import FileEntry

__all__ = ["PackagesAnalyzer"]


class PackagesAnalyzer(FileAnalyzer):
    """Inventory of Python distributions, declared requirements and dpkg packages."""

    name = "packages"
    version = 2
    tags = frozenset({"deps", "license"})
    patterns = INVENTORY_PATTERNS + LICENSE_FILE_PATTERNS + VENDORED_PATTERNS
    max_size = 64 * 1024**2

    def wants(self, path: str, size: int, mode: int = 0o644) -> bool:
        """Metadata up to ``max_size``; vendored libraries of any size (they are only hashed)."""
        if is_vendored_library(path):
            return True
        return super().wants(path, size, mode) and not in_vendored_folder(path)

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._collectors: dict[str, Collector] = {}

    def _collector(self, artifact: str) -> Collector:
        with self._lock:
            c = self._collectors.get(artifact)
            if c is None:
                c = self._collectors[artifact] = Collector(artifact)
            return c

    def analyze(self, entry: FileEntry) -> Iterable[Output]:
        """Record the file; components are built in ``finish`` once all files are in."""
        c = self._collector(entry.artifact)
        if is_vendored_library(entry.path):
            with entry.open() as fp:
                c.add_library(vendored_library(entry.path, fp))
        else:
            c.add(entry.path, entry.read(), entry.layer)
        return ()

    def finish(self, artifact: SourceArtifact) -> Iterable[Output]:
        """Build the Components of one artifact."""
        with self._lock:
            collector = self._collectors.pop(artifact.artifact.name, None)
        if collector is None:
            return []
        keep = bool(self.ctx.options.get("license_texts", False))
        return list(build_components(collector.inventory(), license_texts=keep))
