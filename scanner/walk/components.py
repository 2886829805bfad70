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

import dataclasses
import threading

from scanner.analyzers._inventory import (
    INVENTORY_PATTERNS,
    LICENSE_FILE_PATTERNS,
    VENDORED_PATTERNS,
    Collector,
    ComponentSet,
)
from scanner.analyzers._vendored import in_vendored_folder, is_vendored_library, vendored_library
from scanner.analyzers.entry import FileEntry
from scanner.analyzers.interface import compile_globs
from scanner.models import Component, frozen_mapping
from scanner.walk.ownership import Ownership

__all__ = ["ComponentStage"]

# A package-describing file bigger than this is not metadata (it is a bundle of sources).
MAX_SIZE = 64 * 1024**2


class ComponentStage:
    """Gathers each artifact's package files during the walk; builds its ComponentSet once."""

    _rx = compile_globs(INVENTORY_PATTERNS + LICENSE_FILE_PATTERNS + VENDORED_PATTERNS)

    def __init__(self, *, license_texts: bool = False) -> None:
        self.license_texts = license_texts
        self._lock = threading.Lock()
        self._collectors: dict[str, Collector] = {}

    def wants(self, path: str, size: int) -> bool:
        """Whether ``path`` describes a package (cheap: the name only)."""
        if is_vendored_library(path):
            return True  # a wheel's vendored library, of any size: only hashed, streamed
        rx = self._rx
        if in_vendored_folder(path):
            return False  # other files there (a README) are not metadata
        return rx is not None and size <= MAX_SIZE and rx.match(path)

    def add(self, entry: FileEntry) -> None:
        """Record one wanted file of an artifact (its bytes are read once, shared)."""
        with self._lock:
            c = self._collectors.get(entry.artifact)
            if c is None:
                c = self._collectors[entry.artifact] = Collector(entry.artifact)
        if is_vendored_library(entry.path):
            with entry.open() as fp:
                c.add_library(vendored_library(entry.path, fp))
        else:
            c.add(entry.path, entry.read(), entry.layer)

    def finish(self, artifact: str, ownership: Ownership | None = None) -> ComponentSet:
        """The artifact's ComponentSet (empty when it holds no package files).

        Every Component gets ``properties.scope``: ``os`` for the operating system's packages
        (dpkg, and Python distributions dpkg installed, such as Debian's python3-numpy),
        ``app`` for what the application installs or declares (pip, requirements).
        """
        with self._lock:
            c = self._collectors.pop(artifact, None)
        inv = (c or Collector(artifact)).inventory()
        built = ComponentSet.build(inv, license_texts=self.license_texts)
        scoped = tuple(_scoped(comp, ownership) for comp in built.components)
        return dataclasses.replace(built, components=scoped)


def _scoped(comp: Component, ownership: Ownership | None) -> Component:
    """The scope decided by who installed the component's metadata, when that is known.

    Without an owner (no package database, a code folder) the inventory's path rule stays.
    """
    owned = ownership.owner_of(comp.location.path) if ownership is not None else None
    if owned is None:
        return comp
    props = dict(comp.properties)
    if owned[0].ecosystem == "deb":
        props["scope"] = "os"
        if comp.ecosystem != "deb":
            props["installed_by"] = f"deb:{owned[0].package}"
    else:
        props["scope"] = "app"
    return dataclasses.replace(comp, properties=frozen_mapping(props))
