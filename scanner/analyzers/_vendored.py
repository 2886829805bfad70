"""Native libraries vendored inside Python wheels, as components of their own.

auditwheel (Linux) copies every shared library a wheel needs into ``<dist>.libs/`` and renames
it with a hash (``libssl-28bef1ac.so.1.1``), delocate (macOS) into ``<package>/.dylibs/``,
delvewheel (Windows) into ``<dist>.libs/`` as DLLs. Each is shipped code with its own license
and its own vulnerabilities (OpenSSL, FFmpeg, Qt...), so each becomes a component: the name and
version from its ELF ``DT_SONAME`` (else its file name) with auditwheel's hash removed, its
SHA-256, and the wheel that carries it as its parent.

Its license is the one the carrying wheel declares for it, found in the wheel's license files:
a ``Name:``/``Files:``/``License:`` block (NumPy, SciPy), a section of a third-party notices
file whose heading names the library (OpenCV, Pillow), or a license file named after it
(pyzmq's ``LICENSE.zeromq.txt``). Nothing declared is UNKNOWN, never a guess.

Example::

    lib = vendored_library("site-packages/numpy.libs/libgfortran-040039e1.so.5.0.0", data)
    lib.name, lib.version      # "libgfortran", "5.0.0"
"""

from __future__ import annotations

import hashlib
import re
import struct
from dataclasses import dataclass
from typing import BinaryIO

from scanner.analyzers._license_text import block_matches, bundled_blocks, match_text, sections
from scanner.analyzers._licensing import normalize_expression

__all__ = [
    "VendoredLibrary",
    "declared_license",
    "file_qualifier",
    "in_vendored_folder",
    "is_vendored_library",
    "library_stem",
    "parse_library_name",
    "soname",
    "vendored_library",
]

# The dynamic section and its strings sit near the start of a shared object; a hostile file
# gets no more than this much memory however large it claims to be.
_ELF_HEAD = 16 * 1024 * 1024
_CHUNK = 1024 * 1024

_LIB_DIR_RX = re.compile(r"(?:^|/)(?:[^/]+\.libs|\.dylibs)/[^/]+$")
_SHARED_RX = re.compile(r"\.(?:so(?:\.[0-9][^/]*)?|dylib|dll|pyd)$|\.so\.|\.so$", re.IGNORECASE)
_HASH_RX = re.compile(r"-[0-9a-f]{8}(?=[-.]|$)")


def in_vendored_folder(path: str) -> bool:
    """Whether ``path`` is directly inside a vendored-library folder (library or not)."""
    # the substring test first: asked for every file of a walk, and the search is 10x dearer
    return (".libs/" in path or ".dylibs/" in path) and _LIB_DIR_RX.search(path) is not None


def is_vendored_library(path: str) -> bool:
    """Whether ``path`` is a shared library in a wheel's vendored-library folder."""
    name = path.rsplit("/", 1)[-1]
    return in_vendored_folder(path) and _SHARED_RX.search(name) is not None


@dataclass(frozen=True, slots=True)
class VendoredLibrary:
    """One vendored shared library: where it is, what it is, and its digest."""

    path: str
    name: str
    version: str
    sha256: str
    soname: str = ""

    @property
    def folder(self) -> str:
        """The vendored-library folder (``.../numpy.libs``)."""
        return self.path.rsplit("/", 1)[0]


def parse_library_name(file_name: str) -> tuple[str, str]:
    """(name, version) of a library file name, auditwheel's hashes removed.

    ``libavcodec-9aae324f.so.59.37.100`` → (``libavcodec``, ``59.37.100``);
    ``libgfortran-040039e1-0352e75f.so.5.0.0`` → (``libgfortran``, ``5.0.0``);
    ``libsodium.26.dylib`` → (``libsodium``, ``26``); ``libfoo.so`` → (``libfoo``, "").
    """
    base = _HASH_RX.sub("", file_name)
    m = re.match(r"^(?P<name>.+?)\.so(?:\.(?P<ver>[0-9][0-9A-Za-z.]*))?$", base)
    if m:
        name, ver = m.group("name"), m.group("ver") or ""
        # "libopenblas-r0.3.3.so": the version sits before ".so"
        inner = re.match(r"^(?P<name>.+?)\.(?P<ver>[0-9][0-9.]*)$", name)
        if inner and not ver:
            return inner.group("name"), inner.group("ver")
        return name, ver
    m = re.match(r"^(?P<name>[^.]+?)(?:\.(?P<ver>[0-9][0-9.]*))?\.(?:dylib|dll|pyd)$", base, re.I)
    if m:
        return m.group("name"), m.group("ver") or ""
    return base, ""


def library_stem(name: str) -> str:
    """A library's bare name for matching notices: ``libpng16`` → ``png``, ``libssl`` → ``ssl``."""
    stem = name.lower()
    stem = stem[3:] if stem.startswith("lib") and len(stem) > 3 else stem
    return re.sub(r"[-_]?\d+$", "", stem)


def _elf_soname(data: bytes) -> str:
    """``DT_SONAME`` of an ELF shared object ("" when there is none or the file is not ELF).

    Bounds are checked at every step: a hostile file gives "" rather than an exception.
    """
    if len(data) < 64 or data[:4] != b"\x7fELF" or data[4] not in (1, 2) or data[5] not in (1, 2):
        return ""
    is64 = data[4] == 2
    end = "<" if data[5] == 1 else ">"
    try:
        if is64:
            phoff, phentsize, phnum = (
                struct.unpack_from(end + "Q", data, 32)[0],
                *struct.unpack_from(end + "HH", data, 54),
            )
        else:
            phoff, phentsize, phnum = (
                struct.unpack_from(end + "I", data, 28)[0],
                *struct.unpack_from(end + "HH", data, 42),
            )
        loads: list[tuple[int, int, int]] = []  # (vaddr, offset, filesz)
        dynamic: tuple[int, int] | None = None
        for i in range(min(phnum, 256)):
            off = phoff + i * phentsize
            if is64:
                p_type, _f, p_offset, p_vaddr, _pa, p_filesz = struct.unpack_from(
                    end + "IIQQQQ", data, off
                )
            else:
                p_type, p_offset, p_vaddr, _pa, p_filesz = struct.unpack_from(
                    end + "IIIII", data, off
                )
            if p_type == 1:
                loads.append((p_vaddr, p_offset, p_filesz))
            elif p_type == 2:
                dynamic = (p_offset, p_filesz)
        if dynamic is None:
            return ""
        strtab = soname_off = None
        size = 16 if is64 else 8
        fmt = end + ("qQ" if is64 else "iI")
        for off in range(dynamic[0], min(dynamic[0] + dynamic[1], len(data) - size + 1), size):
            tag, val = struct.unpack_from(fmt, data, off)
            if tag == 0:
                break
            if tag == 5:
                strtab = val
            elif tag == 14:
                soname_off = val
        if strtab is None or soname_off is None:
            return ""
        for vaddr, offset, filesz in loads:  # DT_STRTAB is an address: map it to the file
            if vaddr <= strtab < vaddr + filesz:
                start = offset + (strtab - vaddr) + soname_off
                stop = data.find(b"\0", start, start + 256)
                if 0 <= start < len(data) and stop > start:
                    return data[start:stop].decode("ascii", "replace")
    except (struct.error, OverflowError, ValueError):
        return ""  # offsets past the file or beyond any integer: not a SONAME we can read
    return ""


def soname(data: bytes) -> str:
    """The library's ``DT_SONAME`` when it is an ELF shared object, else ""."""
    return _elf_soname(data)


def vendored_library(path: str, fp: BinaryIO) -> VendoredLibrary:
    """Hash one vendored library (streamed) and name it from its SONAME or file name."""
    digest = hashlib.sha256()
    head = bytearray()
    while chunk := fp.read(_CHUNK):
        digest.update(chunk)
        if len(head) < _ELF_HEAD:
            head += chunk[: _ELF_HEAD - len(head)]
    so = soname(bytes(head))
    file_name = path.rsplit("/", 1)[-1]
    name, version = parse_library_name(so or file_name)
    return VendoredLibrary(path, name, version, digest.hexdigest(), so)


# Libraries whose file name does not contain the name their notices use (a naming table, not a
# license table: the license always comes from the wheel's own text).
_PROJECT_OF: tuple[tuple[str, str], ...] = (
    (r"^(?:avcodec|avformat|avutil|avdevice|avfilter|swscale|swresample|postproc)$", "ffmpeg"),
    (r"^qt\d", "qt"),
    (r"^zmq$", "zeromq"),
    (r"^z$", "zlib"),
    (r"^bz2$", "bzip2"),
    (r"^(?:ssl|crypto)$", "openssl"),
)


def _names(lib: VendoredLibrary) -> set[str]:
    stem = library_stem(lib.name)
    names = {stem}
    for rx, project in _PROJECT_OF:
        if re.search(rx, stem):
            names.add(project)
    return names


def _words(text: str) -> set[str]:
    return {library_stem(w) for w in re.findall(r"[a-z0-9][a-z0-9+_-]*", text.lower())}


def _names_match(names: set[str], words: set[str]) -> bool:
    for n in names:
        for w in words:
            if n == w:
                return True
            short, long_ = sorted((n, w), key=len)
            # "brotli" names libbrotlidec, "webp" libwebpdemux, "openjp" OpenJPEG
            if len(short) >= 4 and long_.startswith(short):
                return True
    return False


def _join(ids: list[str]) -> str:
    return " AND ".join(f"({i})" if " " in i else i for i in ids)


def declared_license(
    lib: VendoredLibrary, site_dir: str, files: list[tuple[str, bytes]]
) -> tuple[str, str]:
    """(SPDX expression, where the wheel declares it) for a vendored library, or ("", "").

    ``files`` are the carrying wheel's license files. Tried in order: structured
    ``Name:``/``Files:``/``License:`` blocks matching the library's path; a section of a notices
    file whose heading names the library; a license file named after it.
    """
    rel = (
        lib.path[len(site_dir) + 1 :]
        if site_dir and lib.path.startswith(site_dir + "/")
        else lib.path
    )
    names = _names(lib)
    for path, data in files:
        text = data.decode("utf-8", "replace")
        blocks = [b for b in bundled_blocks(text) if block_matches(b, rel)]
        exprs = [normalize_expression(b.license) or _licenseref(b.license) for b in blocks]
        if exprs:
            unique = list(dict.fromkeys(exprs))
            where = "; ".join(b.name for b in blocks)
            return _join(unique), f"{path} ({where})"
    for path, data in files:
        for section in sections(data.decode("utf-8", "replace")):
            if not _names_match(names, _words(section.heading)):
                continue
            m = match_text(section.body)
            if m.ids:
                heading = " ".join(section.heading.split())[:80]
                return m.expression(), f"{path} ({heading})"
    for path, data in files:
        qualifier = file_qualifier(path)
        if qualifier and _names_match(names, _words(qualifier)):
            ids = list(match_text(data).ids)
            if ids:
                return _join(ids), path
    return "", ""


def file_qualifier(path: str) -> str:
    """What a license file's name says besides "license" (``LICENSE_openblas.txt``:
    ``_openblas``); "" for a plain ``LICENSE``."""
    qualifier = re.sub(r"^(?:licen[cs]e|copying|notice)s?", "", path.rsplit("/", 1)[-1].lower())
    qualifier = re.sub(r"\.(?:txt|md|rst)$", "", qualifier)
    return qualifier if qualifier.strip("-._") else ""


def _licenseref(text: str) -> str:
    return "LicenseRef-" + (re.sub(r"[^A-Za-z0-9.\-]+", "-", text).strip("-")[:60] or "unknown")
