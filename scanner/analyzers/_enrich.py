"""What one artifact's inventory says about each component beyond its name: its licenses and the
evidence for them, its scope, what it depends on, and the native libraries vendored in wheels.

``_inventory.build_components`` calls these once the artifact's pass is over; they read the
``Inventory`` and return plain values for ``Component.properties``.

- ``license_props``: ``license_source`` (the evidence used), ``license_evidence`` (every piece
  found, most specific first), ``license_conflicts`` (evidence naming another license family);
- ``scope``: ``app`` for the application's Python dependencies, ``os`` for OS packages and the
  Python modules the OS packages install (``/usr/lib/python3/dist-packages``);
- ``depends_on``: purls of the installed packages it depends on (``_relations``);
- vendored libraries: one component each, ``parent`` naming the carrying wheel's purl.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from packageurl import PackageURL

from scanner.analyzers._debian_copyright import debian_copyright_licenses, find_copyright
from scanner.analyzers._licensing import Evidence, LicenseResult, python_dist_licenses
from scanner.analyzers._relations import deb_dependencies, python_requirements
from scanner.analyzers._vendored import VendoredLibrary, declared_license
from scanner.models import Component, Location, frozen_mapping

if TYPE_CHECKING:
    from scanner.analyzers._inventory import DebPackage, Inventory, PythonDist

__all__ = [
    "deb_license",
    "dist_license",
    "license_props",
    "relations",
    "scope",
    "vendored_components",
]


def scope(ecosystem: str, path: str) -> str:
    """``os`` for dpkg packages, else ``app``: what cannot be attributed is the app's.

    The component stage refines it from package-file ownership in root filesystems: a Python
    distribution whose metadata dpkg installed (Debian's python3-numpy) is the OS's. ``path``
    is kept for that caller's signature.
    """
    del path
    return "os" if ecosystem == "deb" else "app"


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def dist_files(inv: Inventory, dist: PythonDist) -> list[tuple[str, bytes]]:
    """(path, bytes) of the license files shipped with ``dist``, in a stable order."""
    files = inv.license_files.get(dist.meta_dir, {})
    return [(f"{dist.meta_dir}/{rel}", files[rel]) for rel in sorted(files)]


def dist_license(inv: Inventory, dist: PythonDist) -> LicenseResult:
    """Licenses of one Python distribution."""
    return python_dist_licenses(
        dist.license_expression, dist.classifiers, dist.license_field, dist_files(inv, dist)
    )


def deb_license(inv: Inventory, pkg: DebPackage) -> tuple[LicenseResult, str | None]:
    """Licenses of one dpkg package from its copyright file (followed to its source package's
    folder when it has none of its own), and that file's path."""
    same_source = [p.name for p in inv.debs if p.source == pkg.source]
    depends = [name for alts in pkg.depends for name in alts]
    found = find_copyright(pkg.name, pkg.source, depends, same_source, inv.copyrights)
    if found is None:
        return LicenseResult(()), None
    ids, method = debian_copyright_licenses(found.data)
    if not ids:
        return LicenseResult((), "", "", (Evidence("copyright", "", found.path, 9),)), found.path
    detail = found.path if not found.via else f"{found.path} (folder of {found.via})"
    evidence = tuple(Evidence(method, i, detail, 3) for i in ids)
    return LicenseResult(ids, method, "", evidence), found.path


def license_props(lic: LicenseResult) -> dict[str, Any]:
    """The license facts of one component as ``Component.properties`` entries."""
    props: dict[str, Any] = {"license_source": lic.source or "none"}
    if lic.declared:
        props["license_declared"] = lic.declared
    if lic.evidence:
        props["license_evidence"] = [e.as_dict() for e in lic.evidence]
    if lic.conflicts:
        props["license_conflicts"] = [e.as_dict() for e in lic.conflicts]
    return props


def relations(inv: Inventory, purls: dict[str, str]) -> dict[str, list[str]]:
    """``depends_on`` purls per component key (a dist's metadata path or ``deb:<name>``).

    ``purls`` maps the same keys to each component's purl.
    """
    out: dict[str, list[str]] = {}
    by_name: dict[str, list[PythonDist]] = {}
    for d in inv.dists:
        by_name.setdefault(_canonical(d.name), []).append(d)
    for d in inv.dists:
        site = d.meta_dir.rsplit("/", 1)[0]
        targets: list[str] = []
        for name in python_requirements(d.requires_dist):
            candidates = by_name.get(name, [])
            # the copy in the same site-packages is the one the import system finds
            same = [c for c in candidates if c.meta_dir.rsplit("/", 1)[0] == site]
            chosen = (same or candidates)[:1]
            targets.extend(purls[c.path] for c in chosen if c.path in purls)
        if targets:
            out[d.path] = targets
    installed: dict[str, str] = {}
    for p in inv.debs:
        for provided in p.provides:
            installed.setdefault(provided, p.name)
    for p in inv.debs:
        installed[p.name] = p.name
    for p in inv.debs:
        names = deb_dependencies(p.depends, installed)
        targets = [purls[f"deb:{n}"] for n in names if n != p.name and f"deb:{n}" in purls]
        if targets:
            out[f"deb:{p.name}"] = targets
    return out


def _parent(inv: Inventory, lib: VendoredLibrary) -> PythonDist | None:
    """The wheel that carries a vendored library: auditwheel names ``<dist>.libs`` after it."""
    folder = lib.folder
    site, _, base = folder.rpartition("/")
    stem = base[: -len(".libs")] if base.endswith(".libs") else site.rpartition("/")[2]
    if base == ".dylibs":  # delocate: <import package>/.dylibs
        site = site.rpartition("/")[0]
    for d in inv.dists:
        if d.meta_dir.rpartition("/")[0] == site and _canonical(d.name) == _canonical(stem):
            return d
    return None


def vendored_components(
    inv: Inventory, dist_purls: dict[str, str], dist_scopes: dict[str, str]
) -> Iterator[Component]:
    """One component per vendored library, licensed as its carrying wheel declares."""
    for lib in sorted(inv.libraries, key=lambda x: x.path):
        parent = _parent(inv, lib)
        props: dict[str, Any] = {
            "found_by": "vendored-library",
            "sha256": lib.sha256,
            "file_name": lib.path.rsplit("/", 1)[-1],
            "vendored": True,
        }
        if lib.soname:
            props["soname"] = lib.soname
        expr, where = "", ""
        if parent is not None:
            props["parent"] = dist_purls.get(parent.path, "")
            props["parent_name"] = parent.name
            site = parent.meta_dir.rpartition("/")[0]
            expr, where = declared_license(lib, site, dist_files(inv, parent))
        props["scope"] = dist_scopes.get(parent.path, "app") if parent else scope("", lib.path)
        if expr:
            ev = Evidence("wheel-notice", expr, where[:300], 3)
            props.update(license_props(LicenseResult((expr,), ev.kind, "", (ev,))))
        else:
            props["license_source"] = "none"
        purl = PackageURL(
            type="generic",
            name=lib.name,
            version=lib.version or None,
            qualifiers={"checksum": f"sha256:{lib.sha256}"},
        ).to_string()
        yield Component(
            name=lib.name,
            version=lib.version,
            ecosystem="other",
            purl=purl,
            location=Location(inv.artifact, lib.path),
            licenses=(expr,) if expr else (),
            properties=frozen_mapping(props),
        )


def texts(items: Iterable[tuple[str, bytes]], limit: int) -> list[dict[str, str]]:
    """License texts as the notice export reproduces them."""
    return [{"path": path, "text": data[:limit].decode("utf-8", "replace")} for path, data in items]
