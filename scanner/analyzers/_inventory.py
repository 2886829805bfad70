"""Shared package-inventory parsing for the ``packages``, ``licenses`` and ``vulns`` analyzers.

Analyzers do not import each other, so the parsing they share lives here: recognising the files
that describe installed packages, parsing them (each format's parser is in
``_package_metadata``), and turning one artifact's worth of them into ``Component`` values.
Every file arrives in stream order (a LICENSE may come before its METADATA), so a
``Collector`` gathers the files of one artifact and builds the inventory once the artifact's
pass is over.

Example::

    collector = Collector("app.tar")
    for path, data in files:
        collector.add(path, data)
    for component in ComponentSet.build(collector.inventory(), license_texts=False).components:
        print(component.purl)
"""

from __future__ import annotations

import re
import threading
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from scanner.analyzers import _enrich
from scanner.analyzers._licensing import LicenseResult
from scanner.analyzers._package_metadata import (
    DebPackage,
    OsRelease,
    PythonDist,
    canonical_name,
    deb_purl,
    parse_dpkg_status,
    parse_os_release,
    parse_python_metadata,
    pypi_purl,
)
from scanner.analyzers._requirements import (
    DeclaredRequirement,
    parse_dockerfile_requirements,
    parse_requirements,
)
from scanner.analyzers._vendored import VendoredLibrary
from scanner.models import AnalyzerFailure, Component, Location, frozen_mapping

__all__ = [
    "INVENTORY_PATTERNS",
    "VENDORED_PATTERNS",
    "LICENSE_FILE_PATTERNS",
    "Collector",
    "ComponentSet",
    "DebPackage",
    "DeclaredRequirement",
    "OsRelease",
    "PythonDist",
    "build_components",
    "canonical_name",
    "deb_purl",
    "parse_dpkg_status",
    "parse_os_release",
    "parse_dockerfile_requirements",
    "parse_python_metadata",
    "parse_requirements",
    "pypi_purl",
]

# Native libraries vendored in wheels (auditwheel's ``<dist>.libs``, delocate's ``.dylibs``).
VENDORED_PATTERNS: tuple[str, ...] = ("**/*.libs/*", "**/.dylibs/*")

# Files that describe what is installed or declared.
INVENTORY_PATTERNS: tuple[str, ...] = (
    "**/*.dist-info/METADATA",
    "**/*.egg-info/PKG-INFO",
    "**/*.egg-info",  # a single-file egg-info, as Debian's python3-* packages ship them
    "var/lib/dpkg/status",
    "var/lib/dpkg/status.d/*",  # distroless images: one status file per package
    "etc/os-release",
    "usr/lib/os-release",
    "**/requirements*.txt",
    "**/requirements/*.txt",
    "**/constraints*.txt",
    "Dockerfile",  # a code package folder's build recipe: its `pip install x==1.2` lines
    "**/pyproject.toml",
    "**/poetry.lock",
    "**/Pipfile.lock",
    "**/uv.lock",
)

# License texts as packages ship them (read by the license detection, and for NOTICE files).
LICENSE_FILE_PATTERNS: tuple[str, ...] = (
    "**/*.dist-info/LICEN[CS]E*",
    "**/*.dist-info/COPYING*",
    "**/*.dist-info/NOTICE*",
    "**/*.dist-info/licenses/**",
    "**/*.dist-info/license_files/**",
    "**/*.egg-info/LICEN[CS]E*",
    "usr/share/doc/*/copyright",
)

# Folders whose requirements/pyproject files belong to third-party code, not to the app.
_THIRD_PARTY_RX = re.compile(
    r"(?:^|/)(?:site-packages|dist-packages|node_modules|usr/share|usr/lib|usr/local/lib|"
    r"opt/conda/pkgs|\.tox|\.venv|venv|tests?)/"
)


def is_license_file(path: str) -> bool:
    """Whether ``path`` is a license text shipped in a dist-info/egg-info folder."""
    if "/copyright" in path and path.startswith("usr/share/doc/"):
        return True
    parts = path.split("/")
    for i, part in enumerate(parts[:-1]):
        if part.endswith((".dist-info", ".egg-info")):
            rest = parts[i + 1 :]
            first = rest[0].upper()
            return first in ("LICENSES", "LICENSE_FILES") or first.startswith(
                ("LICENSE", "LICENCE", "COPYING", "NOTICE")
            )
    return False


def meta_dir_of(path: str) -> str | None:
    """The enclosing ``*.dist-info``/``*.egg-info`` folder of a path, if any."""
    parts = path.split("/")
    for i, part in enumerate(parts[:-1]):
        if part.endswith((".dist-info", ".egg-info")):
            return "/".join(parts[: i + 1])
    return None


@dataclass(slots=True)
class Inventory:
    """Everything known about one artifact's packages once its pass is over."""

    artifact: str
    dists: list[PythonDist] = field(default_factory=list)
    debs: list[DebPackage] = field(default_factory=list)
    declared: list[DeclaredRequirement] = field(default_factory=list)
    os_release: OsRelease | None = None
    # dist meta dir -> {relative path: bytes}; deb package name -> copyright bytes
    license_files: dict[str, dict[str, bytes]] = field(default_factory=dict)
    copyrights: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    libraries: list[VendoredLibrary] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)


class Collector:
    """Gathers one artifact's inventory files during the pass (thread-safe)."""

    def __init__(self, artifact: str, *, keep_license_files: bool = True) -> None:
        self.artifact = artifact
        self.keep_license_files = keep_license_files
        self._lock = threading.Lock()
        self._status: dict[str, tuple[int, bytes]] = {}  # path -> (layer, bytes); last layer wins
        self._os: tuple[int, bytes] | None = None
        self._inv = Inventory(artifact)

    def add(self, path: str, data: bytes, layer: int = 0) -> None:
        """Record one file; parse errors become ``errors`` entries, never exceptions."""
        base = path.rsplit("/", 1)[-1]
        with self._lock:
            if path in ("etc/os-release", "usr/lib/os-release"):
                # etc/os-release wins over usr/lib (it is usually a link to it anyway)
                if self._os is None or path == "etc/os-release" or layer > self._os[0]:
                    self._os = (layer, data)
                return
            if path == "var/lib/dpkg/status" or path.startswith("var/lib/dpkg/status.d/"):
                prev = self._status.get(path)
                if prev is None or layer >= prev[0]:
                    self._status[path] = (layer, data)
                return
            if is_license_file(path):
                if not self.keep_license_files:
                    return
                if path.startswith("usr/share/doc/"):
                    self._inv.copyrights[path.split("/")[3]] = (path, data)
                else:
                    meta = meta_dir_of(path)
                    if meta:
                        rel = path[len(meta) + 1 :]
                        self._inv.license_files.setdefault(meta, {})[rel] = data
                return
            if base in ("METADATA", "PKG-INFO") or base.endswith(".egg-info"):
                dist = parse_python_metadata(data, path)
                if dist is None:
                    self._inv.errors.append((path, "metadata names no project or version"))
                else:
                    self._inv.dists.append(dist)
                return
            if _THIRD_PARTY_RX.search("/" + path):
                return
            try:
                self._inv.declared.extend(parse_requirements(data, path))
            except (ValueError, tomllib.TOMLDecodeError) as exc:
                self._inv.errors.append((path, f"cannot parse: {exc}"))

    def add_library(self, library: VendoredLibrary) -> None:
        """Record one vendored shared library (``_vendored.vendored_library``)."""
        with self._lock:
            self._inv.libraries.append(library)

    def inventory(self) -> Inventory:
        """The artifact's inventory (call once, after the pass)."""
        with self._lock:
            inv = self._inv
            if self._os is not None:
                inv.os_release = parse_os_release(self._os[1])
            inv.debs = []
            for path in sorted(self._status):
                inv.debs.extend(parse_dpkg_status(self._status[path][1], path))
            # A dist seen in two layers is one install; keep the copy from the path seen first.
            seen: set[str] = set()
            unique: list[PythonDist] = []
            for d in sorted(inv.dists, key=lambda d: d.path):
                if d.path not in seen:
                    seen.add(d.path)
                    unique.append(d)
            inv.dists = unique
            return inv


def declared_only(inv: Inventory) -> list[DeclaredRequirement]:
    """Declared requirements not already installed in the artifact (those are the real thing).

    A constraints file's pin applies to a requirement that does not pin the package itself;
    constraint lines request nothing, so they are not listed on their own.
    """
    installed = {canonical_name(d.name) for d in inv.dists}
    pins = {canonical_name(r.name): r for r in inv.declared if r.constraint and r.version}
    out: dict[tuple[str, str, str], DeclaredRequirement] = {}
    for r in inv.declared:
        key = canonical_name(r.name)
        if key in installed or r.constraint:
            continue
        pin = pins.get(key)
        if not r.version and pin is not None:
            spec = f"{r.specifier} (constrained to =={pin.version} in {pin.path})".lstrip()
            r = replace(r, version=pin.version, specifier=spec)
        out.setdefault((key, r.version, r.path), r)
    return [out[k] for k in sorted(out)]


def dist_component(
    artifact: str, dist: PythonDist, licenses: tuple[str, ...], props: Mapping[str, Any]
) -> Component:
    """A Component for an installed Python distribution."""
    return Component(
        name=dist.name,
        version=dist.version,
        ecosystem="pypi",
        purl=pypi_purl(dist.name, dist.version),
        location=Location(artifact, dist.path),
        licenses=licenses,
        properties=frozen_mapping({"found_by": "python-metadata", **props}),
    )


def deb_component(
    artifact: str,
    pkg: DebPackage,
    os_release: OsRelease | None,
    licenses: tuple[str, ...],
    props: Mapping[str, Any],
) -> Component:
    """A Component for an installed dpkg package."""
    extra: dict[str, Any] = {"found_by": "dpkg-status", "architecture": pkg.architecture}
    if pkg.source != pkg.name or pkg.source_version != pkg.version:
        extra["source_package"] = pkg.source
        extra["source_version"] = pkg.source_version
    return Component(
        name=pkg.name,
        version=pkg.version,
        ecosystem="deb",
        purl=deb_purl(pkg, os_release),
        location=Location(artifact, pkg.path),
        licenses=licenses,
        properties=frozen_mapping({**extra, **props}),
    )


def declared_component(artifact: str, req: DeclaredRequirement) -> Component:
    """A Component for a declared (not installed) requirement."""
    return Component(
        name=req.name,
        version=req.version,
        ecosystem="pypi",
        purl=pypi_purl(req.name, req.version),
        location=Location(artifact, req.path, req.line),
        licenses=(),
        properties=frozen_mapping(
            {"found_by": "requirements", "declared": True, "specifier": req.specifier}
        ),
    )


def iter_license_texts(inv: Inventory, dist: PythonDist) -> Iterator[tuple[str, bytes]]:
    """(path, bytes) of the license files shipped with ``dist``, in a stable order."""
    yield from _enrich.dist_files(inv, dist)


# A license text bigger than this is not a license (it is a bundle of sources); cut it.
_MAX_TEXT = 256 * 1024


def license_of_dist(inv: Inventory, dist: PythonDist) -> LicenseResult:
    """Licenses of one Python distribution of ``inv``."""
    return _enrich.dist_license(inv, dist)


def license_of_deb(inv: Inventory, pkg: DebPackage) -> tuple[LicenseResult, str | None]:
    """Licenses of one dpkg package from its copyright file, and that file's path."""
    return _enrich.deb_license(inv, pkg)


def build_components(
    inv: Inventory, *, license_texts: bool
) -> Iterator[Component | AnalyzerFailure]:
    """Components (and failures for unreadable metadata) of one artifact's inventory."""
    for path, reason in inv.errors:
        where = Location(inv.artifact, path)
        yield AnalyzerFailure("packages", f"cannot inventory: {reason}", where)
    purls = {d.path: pypi_purl(d.name, d.version) for d in inv.dists}
    purls.update({f"deb:{p.name}": deb_purl(p, inv.os_release) for p in inv.debs})
    edges = _enrich.relations(inv, purls)
    scopes: dict[str, str] = {}
    for dist in inv.dists:
        lic = license_of_dist(inv, dist)
        props: dict[str, Any] = _enrich.license_props(lic)
        props["scope"] = scopes[dist.path] = _enrich.scope("pypi", dist.path)
        if dist.path in edges:
            props["depends_on"] = edges[dist.path]
        if license_texts:
            props["license_texts"] = _enrich.texts(iter_license_texts(inv, dist), _MAX_TEXT)
        yield dist_component(inv.artifact, dist, lic.licenses, props)
    yield from _enrich.vendored_components(inv, purls, scopes)
    for pkg in inv.debs:
        lic, cpath = license_of_deb(inv, pkg)
        props = _enrich.license_props(lic)
        props["scope"] = "os"
        if f"deb:{pkg.name}" in edges:
            props["depends_on"] = edges[f"deb:{pkg.name}"]
        if license_texts and cpath is not None:
            data = next(d for p, d in inv.copyrights.values() if p == cpath)
            props["license_texts"] = _enrich.texts([(cpath, data)], _MAX_TEXT)
        yield deb_component(inv.artifact, pkg, inv.os_release, lic.licenses, props)
    for req in declared_only(inv):
        yield declared_component(inv.artifact, req)


@dataclass(frozen=True, slots=True)
class ComponentSet:
    """One artifact's inventory and the Components built from it, shared by every consumer.

    ``failures`` are the files that describe a package but could not be read (reported once,
    under the ``packages`` analyzer's name).
    """

    artifact: str
    inventory: Inventory
    components: tuple[Component, ...]
    failures: tuple[AnalyzerFailure, ...] = ()

    @classmethod
    def build(cls, inv: Inventory, *, license_texts: bool) -> ComponentSet:
        """Build the Components of ``inv`` once (license detection included)."""
        comps: list[Component] = []
        failures: list[AnalyzerFailure] = []
        for item in build_components(inv, license_texts=license_texts):
            if isinstance(item, AnalyzerFailure):
                failures.append(item)
            else:
                comps.append(item)
        return cls(inv.artifact, inv, tuple(comps), tuple(failures))
