"""The component stage: one package inventory per artifact, shared by every consumer.

The files that describe installed or declared packages (``*.dist-info/METADATA``, dpkg's
database, ``requirements*.txt``, license files, ``os-release``) are gathered during the single
pass, parsed once, and turned into Components once when the artifact's pass ends. The
``packages``, ``licenses`` and ``vulns`` analyzers (``ComponentAnalyzer``) then all read the same
``ComponentSet``: no analyzer re-parses metadata, and the SBOM and license exports read the
Components of the report.

Example::

    stage = ComponentStage(license_texts=False)
    if stage.wants(entry.path, entry.size):
        stage.add(entry)
    components = stage.finish("app.tar")
"""

from __future__ import annotations

import threading

from scanner.analyzers._inventory import (
    INVENTORY_PATTERNS,
    LICENSE_FILE_PATTERNS,
    Collector,
    ComponentSet,
)
from scanner.analyzers.interface import compile_globs
from scanner.walk.entry import FileEntry

__all__ = ["ComponentStage"]

# A package-describing file bigger than this is not metadata (it is a bundle of sources).
MAX_SIZE = 64 * 1024**2


class ComponentStage:
    """Gathers each artifact's package files during the walk; builds its ComponentSet once."""

    _rx = compile_globs(INVENTORY_PATTERNS + LICENSE_FILE_PATTERNS)

    def __init__(self, *, license_texts: bool = False) -> None:
        self.license_texts = license_texts
        self._lock = threading.Lock()
        self._collectors: dict[str, Collector] = {}

    def wants(self, path: str, size: int) -> bool:
        """Whether ``path`` describes a package (cheap: the name only)."""
        rx = self._rx
        return rx is not None and size <= MAX_SIZE and rx.match(path) is not None

    def add(self, entry: FileEntry) -> None:
        """Record one wanted file of an artifact (its bytes are read once, shared)."""
        with self._lock:
            c = self._collectors.get(entry.artifact)
            if c is None:
                c = self._collectors[entry.artifact] = Collector(entry.artifact)
        c.add(entry.path, entry.read(), entry.layer)

    def finish(self, artifact: str) -> ComponentSet:
        """The artifact's ComponentSet (empty when it holds no package files)."""
        with self._lock:
            c = self._collectors.pop(artifact, None)
        inv = (c or Collector(artifact)).inventory()
        return ComponentSet.build(inv, license_texts=self.license_texts)
