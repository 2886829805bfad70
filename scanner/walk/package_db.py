"""Readers for the databases that say which package installed which file, with its digest.

- dpkg: ``var/lib/dpkg/status`` (versions, conffiles), ``var/lib/dpkg/info/<pkg>[:<arch>].list``
  (every path a package installed) and ``.md5sums`` (MD5 of each regular file, conffiles
  excluded), ``var/lib/dpkg/diversions`` (a path another package moved aside).
- Python: ``<site>/<name>-<version>.dist-info/RECORD`` (CSV of path, ``sha256=<urlsafe
  base64>`` and size, paths relative to the site folder; pip writes it at install time).

Every reader takes bytes and never raises on malformed input: a line it cannot read is
skipped (the file it would have described stays unverified, which the counts show).
"""

from __future__ import annotations

import binascii
import csv
import io
import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

__all__ = [
    "DPKG_INFO_RX",
    "RECORD_RX",
    "DpkgPackage",
    "RecordRow",
    "dist_of_record",
    "parse_diversions",
    "parse_dpkg_status",
    "parse_list",
    "parse_md5sums",
    "parse_record",
]

# var/lib/dpkg/info/<package>[:<arch>].(list|md5sums)
DPKG_INFO_RX = re.compile(r"var/lib/dpkg/info/([^/:]+?)(?::([^/.]+))?\.(list|md5sums)\Z")
# <site folder>/<name>-<version>.dist-info/RECORD
RECORD_RX = re.compile(r"(?:(.*)/)?([^/]+)\.dist-info/RECORD\Z")


def _text(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


@dataclass(frozen=True, slots=True)
class DpkgPackage:
    """One installed dpkg package as the status file records it."""

    name: str
    architecture: str
    version: str
    conffiles: tuple[str, ...] = field(default=())


def parse_dpkg_status(data: bytes) -> dict[tuple[str, str], DpkgPackage]:
    """Installed packages by ``(name, architecture)`` (config-files remnants left out)."""
    out: dict[tuple[str, str], DpkgPackage] = {}
    for para in re.split(r"\n\s*\n", _text(data)):
        fields: dict[str, list[str]] = {}
        key = ""
        for line in para.splitlines():
            if line[:1] in (" ", "\t"):
                if key:
                    fields[key].append(line.strip())
                continue
            k, sep, v = line.partition(":")
            if sep:
                key = k.strip().lower()
                fields[key] = [v.strip()] if v.strip() else []
        name = " ".join(fields.get("package", []))
        status = " ".join(fields.get("status", ["install ok installed"])).split()
        if not name or status[-1:] != ["installed"]:
            continue
        arch = " ".join(fields.get("architecture", []))
        conffiles = tuple(
            c.split()[0].lstrip("/") for c in fields.get("conffiles", []) if c.split()
        )
        out[(name, arch)] = DpkgPackage(name, arch, " ".join(fields.get("version", [])), conffiles)
    return out


def parse_list(data: bytes) -> Iterator[str]:
    """Paths of a ``.list`` file, relative (no leading ``/``), ``/.`` left out."""
    for line in _text(data).splitlines():
        path = line.strip().lstrip("/")
        if path and path != ".":
            yield path


def parse_md5sums(data: bytes) -> Iterator[tuple[str, str]]:
    """``(path, md5 hex)`` pairs of an ``.md5sums`` file (``<32 hex>  <path>`` lines)."""
    for line in _text(data).splitlines():
        digest, _, path = line.partition(" ")
        path = path.lstrip(" *").lstrip("/")
        if len(digest) == 32 and path and _HEX32.fullmatch(digest) is not None:
            yield path, digest


def parse_diversions(data: bytes) -> dict[str, tuple[str, str]]:
    """Diverted path -> (path it was moved to, diverting package) from dpkg's triples."""
    lines = _text(data).splitlines()
    out: dict[str, tuple[str, str]] = {}
    for i in range(0, len(lines) - 2, 3):
        src, dst, by = (x.strip() for x in lines[i : i + 3])
        if src and dst:
            out[src.lstrip("/")] = (dst.lstrip("/"), by)
    return out


@dataclass(frozen=True, slots=True)
class RecordRow:
    """One file of a Python distribution's RECORD, its path resolved inside the root."""

    path: str
    sha256: str  # hex, "" when RECORD gives no hash (the RECORD itself, generated files)


_URLSAFE_TO_STANDARD = bytes.maketrans(b"-_", b"+/")
_HEX32 = re.compile(r"[0-9a-f]{32}")


def _b64_to_hex(value: str) -> str:
    # base64.urlsafe_b64decode's own steps, without its three layers of calls: one per row
    try:
        std = value.encode("ascii").translate(_URLSAFE_TO_STANDARD)
        raw = binascii.a2b_base64(std + b"=" * (-len(std) % 4))
    except (binascii.Error, ValueError):
        return ""
    return raw.hex() if len(raw) == 32 else ""


def _plain_relative(path: str) -> bool:
    """Whether ``normpath`` would leave ``path`` as it is, and it stays relative: no empty,
    ``.`` or ``..`` part, no leading or trailing ``/``. Nearly every RECORD row is; the rest
    (console scripts' ``../../../bin/x``) take ``normpath``, at 2 µs a row."""
    return not (
        not path
        or path[0] == "/"
        or path[-1] == "/"
        or "//" in path
        or path in (".", "..")
        or path.startswith(("./", "../"))
        or path.endswith(("/.", "/.."))
        or "/./" in path
        or "/../" in path
    )


def parse_record(data: bytes, site: str) -> Iterator[RecordRow]:
    """Rows of a RECORD whose site folder is ``site``; paths that climb out are left out."""
    # newline="": the csv module's own line handling (a bare CR is a line end, not an error)
    reader = csv.reader(io.StringIO(_text(data), newline=""))
    plain_site = _plain_relative(site)
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error:
            return  # a RECORD that is not CSV ends there: its later files are nobody's
        if not row or not row[0]:
            continue
        name = row[0]
        if not site:
            joined = name
        elif plain_site and _plain_relative(name):
            joined = f"{site}/{name}"  # what normpath(join(site, name)) is for these
        else:
            joined = posixpath.normpath(posixpath.join(site, name))
        if joined.startswith(("../", "/")) or joined in ("..", "."):
            continue
        algo, _, value = (row[1] if len(row) > 1 else "").partition("=")
        yield RecordRow(joined, _b64_to_hex(value) if algo == "sha256" else "")


def dist_of_record(path: str) -> tuple[str, str, str] | None:
    """``(site folder, name, version)`` of a RECORD path, or None when it is not one."""
    m = RECORD_RX.match(path)
    if m is None:
        return None
    name, _, version = m.group(2).partition("-")
    return m.group(1) or "", name, version
