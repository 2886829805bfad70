"""What the files that describe installed packages say, and the package URLs built from them.

One parser per format: Python core metadata (``METADATA``, ``PKG-INFO``, a single-file
``.egg-info``), the dpkg status database, and ``os-release``. ``_inventory`` decides which
files of an artifact to read and builds its Components from what these return.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.policy import compat32

from packageurl import PackageURL

from scanner.analyzers._requirements import decode_text

__all__ = [
    "DebPackage",
    "OsRelease",
    "PythonDist",
    "canonical_name",
    "deb_purl",
    "parse_dpkg_status",
    "parse_os_release",
    "parse_python_metadata",
    "pypi_purl",
]

_NAME_RX = re.compile(r"[-_.]+")


def canonical_name(name: str) -> str:
    """PEP 503 normalised project name (``Foo_Bar.baz`` → ``foo-bar-baz``)."""
    return _NAME_RX.sub("-", name).lower()


@dataclass(frozen=True, slots=True)
class PythonDist:
    """One installed Python distribution (from ``METADATA`` or ``PKG-INFO``)."""

    name: str
    version: str
    path: str  # the metadata file
    license_expression: str = ""
    license_field: str = ""
    classifiers: tuple[str, ...] = ()
    license_files: tuple[str, ...] = ()  # ``License-File`` headers (PEP 639), relative names
    requires_dist: tuple[str, ...] = ()  # ``Requires-Dist`` headers, as written

    @property
    def meta_dir(self) -> str:
        """The ``*.dist-info``/``*.egg-info`` folder (or the single egg-info file)."""
        if self.path.endswith((".dist-info/METADATA", ".egg-info/PKG-INFO")):
            return self.path.rsplit("/", 1)[0]
        return self.path


def parse_python_metadata(data: bytes, path: str) -> PythonDist | None:
    """Parse core metadata (RFC 822 headers); ``None`` when it names no project or version."""
    text = decode_text(data)
    # Headers end at the first blank line; the body (long description) can be huge.
    head, _, _ = text.partition("\n\n")
    msg = BytesHeaderParser(policy=compat32).parsebytes(head.encode("utf-8", "surrogateescape"))
    name = (msg.get("Name") or "").strip()
    version = (msg.get("Version") or "").strip()
    if not name or not version:
        return None
    license_field = str(msg.get("License") or "")
    # Continuation lines of a License text are indented with 7 spaces or "|" (setuptools).
    license_field = "\n".join(
        line[8:] if line.startswith("       |") else line.strip()
        for line in license_field.splitlines()
    ).strip()
    return PythonDist(
        name=name,
        version=version,
        path=path,
        license_expression=str(msg.get("License-Expression") or "").strip(),
        license_field=license_field,
        classifiers=tuple(str(c).strip() for c in (msg.get_all("Classifier") or ())),
        license_files=tuple(str(c).strip() for c in (msg.get_all("License-File") or ())),
        requires_dist=tuple(str(c).strip() for c in (msg.get_all("Requires-Dist") or ())),
    )


@dataclass(frozen=True, slots=True)
class DebPackage:
    """One installed dpkg package (``Status: install ok installed``)."""

    name: str
    version: str
    architecture: str
    source: str  # source package name (OSV Debian/Ubuntu records are keyed by it)
    source_version: str
    path: str  # the status file
    maintainer: str = ""
    depends: tuple[tuple[str, ...], ...] = ()  # Pre-Depends and Depends: alternatives per entry
    provides: tuple[str, ...] = ()


def parse_dpkg_status(data: bytes, path: str) -> list[DebPackage]:
    """Installed packages of a dpkg status file (config-files-only remnants are left out)."""
    out: list[DebPackage] = []
    for para in re.split(r"\n\s*\n", decode_text(data)):
        fields: dict[str, str] = {}
        key = ""
        for line in para.splitlines():
            if line[:1] in (" ", "\t"):
                if key:
                    fields[key] += "\n" + line.strip()
                continue
            k, sep, v = line.partition(":")
            if sep:
                key = k.strip().lower()
                fields[key] = v.strip()
        name = fields.get("package", "")
        version = fields.get("version", "")
        status = fields.get("status", "install ok installed").split()
        if not name or not version or status[-1:] != ["installed"]:
            continue
        src = fields.get("source", "")
        src_name, _, src_ver = src.partition(" ")
        src_ver = src_ver.strip().strip("()").strip()
        out.append(
            DebPackage(
                name=name,
                version=version,
                architecture=fields.get("architecture", ""),
                source=src_name.strip() or name,
                source_version=src_ver or version,
                path=path,
                maintainer=fields.get("maintainer", ""),
                depends=_relations(fields.get("pre-depends", ""), fields.get("depends", "")),
                provides=tuple(a[0] for a in _relations(fields.get("provides", ""))),
            )
        )
    return out


def _relations(*fields: str) -> tuple[tuple[str, ...], ...]:
    """dpkg relation fields as package names: "a (>= 1) | b:any, c" → (("a", "b"), ("c",))."""
    out: list[tuple[str, ...]] = []
    for text in fields:
        for entry in text.split(","):
            names = tuple(
                n
                for alt in entry.split("|")
                if (n := re.split(r"[\s(:\[]", alt.strip(), maxsplit=1)[0])
            )
            if names:
                out.append(names)
    return tuple(out)


@dataclass(frozen=True, slots=True)
class OsRelease:
    """The distribution an image is built on (from ``os-release``)."""

    id: str
    version_id: str
    version_codename: str = ""
    pretty_name: str = ""


def parse_os_release(data: bytes) -> OsRelease:
    """Parse ``os-release`` (shell-style ``KEY=value`` lines)."""
    values: dict[str, str] = {}
    for line in decode_text(data).splitlines():
        k, sep, v = line.strip().partition("=")
        if sep and k and not k.startswith("#"):
            values[k] = v.strip().strip("\"'")
    return OsRelease(
        id=values.get("ID", "").lower(),
        version_id=values.get("VERSION_ID", ""),
        version_codename=values.get("VERSION_CODENAME", ""),
        pretty_name=values.get("PRETTY_NAME", ""),
    )


def pypi_purl(name: str, version: str) -> str:
    """``pkg:pypi/<normalised name>@<version>``."""
    return PackageURL(type="pypi", name=canonical_name(name), version=version or None).to_string()


def deb_purl(pkg: DebPackage, os_release: OsRelease | None) -> str:
    """``pkg:deb/<distro>/<name>@<version>?arch=..&distro=..`` as syft and trivy write it."""
    distro = os_release.id if os_release and os_release.id else "debian"
    qualifiers: dict[str, str] = {}
    if pkg.architecture:
        qualifiers["arch"] = pkg.architecture
    if pkg.source != pkg.name or pkg.source_version != pkg.version:
        same = pkg.source_version == pkg.version
        qualifiers["upstream"] = pkg.source if same else f"{pkg.source}@{pkg.source_version}"
    if os_release and os_release.version_id:
        qualifiers["distro"] = f"{distro}-{os_release.version_id}"
    return PackageURL(
        type="deb", namespace=distro, name=pkg.name, version=pkg.version, qualifiers=qualifiers
    ).to_string()
