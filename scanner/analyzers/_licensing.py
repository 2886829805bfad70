"""License detection shared by the ``packages`` and ``licenses`` analyzers.

Order for a Python distribution (the first that gives an answer wins):

1. PEP 639 ``License-Expression``;
2. trove ``License ::`` classifiers (several are taken as a choice, ``A OR B``), except that
   a ``License`` field that already is a valid SPDX expression wins (it is the pre-PEP 639
   way to declare one, and classifiers are coarser: ``BSD License`` names no clause count),
   and a ``License`` field naming a license refines a classifier that only names a family
   (``GPL`` + ``GPLv2+``);
3. the ``License`` field, when it is a license name or expression rather than a text;
4. the shipped license files' text, identified by pre-commit's ``identify`` library (SPDX
   license texts from choosealicense.com, matched within a 5 % edit distance); when it finds
   nothing, a small signature matcher of our own recognises the common license headers.

Everything is normalised to SPDX with ``license-expression``. Debian packages use their
``copyright`` file: machine-readable DEP-5 ``License:`` fields, else references to
``/usr/share/common-licenses``. ``UNKNOWN`` is an explicit outcome (an empty tuple).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from license_expression import ExpressionError, Licensing, get_spdx_licensing

__all__ = [
    "LicenseResult",
    "classifier_to_spdx",
    "debian_copyright_licenses",
    "identify_text",
    "normalize_expression",
    "spdx_licensing",
]


@dataclass(frozen=True, slots=True)
class LicenseResult:
    """Licenses of one component and how they were found (``source`` is empty for UNKNOWN)."""

    licenses: tuple[str, ...]
    source: str = ""
    declared: str = ""  # the raw text the answer came from (shortened)


@lru_cache(maxsize=1)
def spdx_licensing() -> Licensing:
    """The SPDX licensing index of ``license-expression`` (built once: it takes ~0.3 s)."""
    return get_spdx_licensing()


# Common non-SPDX spellings found in ``License:`` fields and Debian copyright files.
_ALIASES: dict[str, str] = {
    "mit license": "MIT",
    "the mit license": "MIT",
    "mit/x11": "MIT",
    "expat": "MIT",
    "expat license": "MIT",
    "apache": "Apache-2.0",
    "apache 2": "Apache-2.0",
    "apache 2.0": "Apache-2.0",
    "apache-2": "Apache-2.0",
    "apache license 2.0": "Apache-2.0",
    "apache license, version 2.0": "Apache-2.0",
    "apache license version 2.0": "Apache-2.0",
    "apache software license": "Apache-2.0",
    "apache software license 2.0": "Apache-2.0",
    "asl 2.0": "Apache-2.0",
    "bsd": "BSD-3-Clause",
    "bsd license": "BSD-3-Clause",
    "new bsd": "BSD-3-Clause",
    "new bsd license": "BSD-3-Clause",
    "modified bsd": "BSD-3-Clause",
    "3-clause bsd": "BSD-3-Clause",
    "bsd 3-clause": "BSD-3-Clause",
    "bsd-3": "BSD-3-Clause",
    "simplified bsd": "BSD-2-Clause",
    "2-clause bsd": "BSD-2-Clause",
    "bsd 2-clause": "BSD-2-Clause",
    "psf": "PSF-2.0",
    "psfl": "PSF-2.0",
    "psf license": "PSF-2.0",
    "python software foundation license": "PSF-2.0",
    "mpl 2.0": "MPL-2.0",
    "mpl-2": "MPL-2.0",
    "mozilla public license 2.0 (mpl 2.0)": "MPL-2.0",
    # An unversioned (L)GPL lets the user pick any version ever published (GPL §9/§14):
    # SPDX calls that "-or-later" of the first version.
    "lgpl": "LGPL-2.0-or-later",
    "lgplv2+": "LGPL-2.0-or-later",
    "lgplv3": "LGPL-3.0-only",
    "lgplv3+": "LGPL-3.0-or-later",
    "gpl": "GPL-1.0-or-later",
    "gfdl": "GFDL-1.1-or-later",
    "gplv2": "GPL-2.0-only",
    "gplv2+": "GPL-2.0-or-later",
    "gplv3": "GPL-3.0-only",
    "gplv3+": "GPL-3.0-or-later",
    "agplv3": "AGPL-3.0-only",
    "agplv3+": "AGPL-3.0-or-later",
    "isc license": "ISC",
    "isc license (iscl)": "ISC",
    "public domain": "LicenseRef-public-domain",
    "public-domain": "LicenseRef-public-domain",
    "zlib/libpng": "Zlib",
    "hpnd": "HPND",
    "unlicense": "Unlicense",
    "the unlicense (unlicense)": "Unlicense",
    "cc0": "CC0-1.0",
    "wtfpl": "WTFPL",
    "artistic": "Artistic-1.0-Perl",
    "ubuntu-font-licence-1.0": "LicenseRef-Ubuntu-Font-1.0",
}

# Debian short names (DEP-5 §"License specification") whose SPDX form differs.
_DEBIAN: dict[str, str] = {
    "gpl-1": "GPL-1.0-only",
    "gpl-1+": "GPL-1.0-or-later",
    "gpl-2": "GPL-2.0-only",
    "gpl-2+": "GPL-2.0-or-later",
    "gpl-3": "GPL-3.0-only",
    "gpl-3+": "GPL-3.0-or-later",
    "lgpl-2": "LGPL-2.0-only",
    "lgpl-2+": "LGPL-2.0-or-later",
    "lgpl-2.1": "LGPL-2.1-only",
    "lgpl-2.1+": "LGPL-2.1-or-later",
    "lgpl-3": "LGPL-3.0-only",
    "lgpl-3+": "LGPL-3.0-or-later",
    "agpl-3": "AGPL-3.0-only",
    "agpl-3+": "AGPL-3.0-or-later",
    "gfdl-1.2": "GFDL-1.2-only",
    "gfdl-1.2+": "GFDL-1.2-or-later",
    "gfdl-1.3": "GFDL-1.3-only",
    "gfdl-1.3+": "GFDL-1.3-or-later",
    "bsd-2-clause": "BSD-2-Clause",
    "bsd-3-clause": "BSD-3-Clause",
    "bsd-4-clause": "BSD-4-Clause",
    "artistic": "Artistic-1.0-Perl",
    "artistic-2": "Artistic-2.0",
    "mpl-1.1": "MPL-1.1",
    "mpl-2.0": "MPL-2.0",
    "apache-2": "Apache-2.0",
    "apache-2.0": "Apache-2.0",
    "zlib": "Zlib",
    "public-domain": "LicenseRef-public-domain",
    "permissive": "LicenseRef-permissive",
}

# Trove classifiers (the part after "License :: ") → SPDX.
_CLASSIFIERS: dict[str, str] = {
    "OSI Approved :: Academic Free License (AFL)": "AFL-3.0",
    "OSI Approved :: Apache Software License": "Apache-2.0",
    "OSI Approved :: Apple Public Source License": "APSL-2.0",
    "OSI Approved :: Artistic License": "Artistic-2.0",
    "OSI Approved :: Boost Software License 1.0 (BSL-1.0)": "BSL-1.0",
    "OSI Approved :: BSD License": "BSD-3-Clause",
    "OSI Approved :: Common Development and Distribution License 1.0 (CDDL-1.0)": "CDDL-1.0",
    "OSI Approved :: Eclipse Public License 1.0 (EPL-1.0)": "EPL-1.0",
    "OSI Approved :: Eclipse Public License 2.0 (EPL-2.0)": "EPL-2.0",
    "OSI Approved :: European Union Public Licence 1.2 (EUPL 1.2)": "EUPL-1.2",
    "OSI Approved :: GNU Affero General Public License v3": "AGPL-3.0-only",
    "OSI Approved :: GNU Affero General Public License v3 or later (AGPLv3+)": "AGPL-3.0-or-later",
    "OSI Approved :: GNU Free Documentation License (FDL)": "GFDL-1.3-or-later",
    "OSI Approved :: GNU General Public License (GPL)": "GPL-1.0-or-later",
    "OSI Approved :: GNU General Public License v2 (GPLv2)": "GPL-2.0-only",
    "OSI Approved :: GNU General Public License v2 or later (GPLv2+)": "GPL-2.0-or-later",
    "OSI Approved :: GNU General Public License v3 (GPLv3)": "GPL-3.0-only",
    "OSI Approved :: GNU General Public License v3 or later (GPLv3+)": "GPL-3.0-or-later",
    "OSI Approved :: GNU Lesser General Public License v2 (LGPLv2)": "LGPL-2.0-only",
    "OSI Approved :: GNU Lesser General Public License v2 or later (LGPLv2+)": "LGPL-2.0-or-later",
    "OSI Approved :: GNU Lesser General Public License v3 (LGPLv3)": "LGPL-3.0-only",
    "OSI Approved :: GNU Lesser General Public License v3 or later (LGPLv3+)": "LGPL-3.0-or-later",
    "OSI Approved :: GNU Library or Lesser General Public License (LGPL)": "LGPL-2.0-or-later",
    "OSI Approved :: ISC License (ISCL)": "ISC",
    "OSI Approved :: MIT License": "MIT",
    "OSI Approved :: MIT No Attribution License (MIT-0)": "MIT-0",
    "OSI Approved :: Mozilla Public License 1.1 (MPL 1.1)": "MPL-1.1",
    "OSI Approved :: Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0",
    "OSI Approved :: Python Software Foundation License": "PSF-2.0",
    "OSI Approved :: The Unlicense (Unlicense)": "Unlicense",
    "OSI Approved :: Universal Permissive License (UPL)": "UPL-1.0",
    "OSI Approved :: zlib/libpng License": "Zlib",
    "OSI Approved :: Historical Permission Notice and Disclaimer (HPND)": "HPND",
    "OSI Approved :: Zope Public License": "ZPL-2.1",
    "OSI Approved :: PostgreSQL License": "PostgreSQL",
    "OSI Approved :: Open Software License 3.0 (OSL-3.0)": "OSL-3.0",
    "OSI Approved :: Eiffel Forum License": "EFL-2.0",
    "CC0 1.0 Universal (CC0 1.0) Public Domain Dedication": "CC0-1.0",
    "Public Domain": "LicenseRef-public-domain",
    "Other/Proprietary License": "LicenseRef-proprietary",
    "Freely Distributable": "LicenseRef-freely-distributable",
}


# Classifiers that name a license family but not which member (clauses, version).
_GENERIC = frozenset(
    {
        "OSI Approved",
        "OSI Approved :: BSD License",
        "OSI Approved :: GNU General Public License (GPL)",
        "OSI Approved :: GNU Library or Lesser General Public License (LGPL)",
        "OSI Approved :: GNU Lesser General Public License v2 (LGPLv2)",
        "OSI Approved :: Artistic License",
        "OSI Approved :: Apache Software License",
        "OSI Approved :: Zope Public License",
        "OSI Approved :: Academic Free License (AFL)",
        "Other/Proprietary License",
        "Freely Distributable",
    }
)


def _spdx(text: str) -> str | None:
    """The SPDX rendering of ``text`` when every key in it is known, else ``None``."""
    licensing = spdx_licensing()
    try:
        expr = licensing.parse(text, validate=True, strict=False)
    except ExpressionError:
        return None
    if expr is None:
        return None
    rendered: str = expr.render()
    return rendered


_LICENSEREF_RX = re.compile(r"LicenseRef-[A-Za-z0-9.\-]+")


def normalize_expression(text: str, *, debian: bool = False) -> str | None:
    """Normalise a license name or expression to SPDX; ``None`` when it is not one.

    ``LicenseRef-*`` identifiers are kept as they are (valid SPDX, but unknown to the policy
    unless it lists them).
    """
    raw = " ".join(text.split())
    if not raw or len(raw) > 200 or raw.upper() in ("UNKNOWN", "NONE", "N/A", "NOASSERTION"):
        return None
    table = _DEBIAN if debian else {}
    low = raw.lower()
    if low in table:
        return table[low]
    if low in _ALIASES:
        return _ALIASES[low]
    if debian:
        return _debian_expression(raw)
    refs = _LICENSEREF_RX.findall(raw)
    if refs:
        # license-expression cannot validate LicenseRef keys; substitute placeholders.
        probe = raw
        for ref in refs:
            probe = probe.replace(ref, "MIT", 1)
        return raw if _spdx(probe) else None
    return _spdx(raw)


def _debian_atom(part: str) -> str:
    base = re.split(r"\s+with\s+", part.strip(), maxsplit=1, flags=re.IGNORECASE)[0].strip()
    key = base.lower()
    mapped = _DEBIAN.get(key) or _ALIASES.get(key) or _spdx(base)
    if mapped is None:
        mapped = "LicenseRef-" + (re.sub(r"[^A-Za-z0-9.\-]+", "-", base).strip("-") or "unknown")
    return mapped


def _debian_expression(raw: str) -> str:
    """A DEP-5 license line in SPDX: "GPL-2+ or AFL-2.1, and Expat" → "(A OR B) AND C".

    DEP-5 gives the comma the lowest precedence; within a comma group "and" binds tighter
    than "or", as in SPDX. Exceptions ("with X exception") are dropped to the base license:
    the exception only ever grants more.
    """
    groups = [g.strip() for g in re.split(r"\s*,\s*", raw) if g.strip()]
    rendered: list[str] = []
    for g in groups:
        g = re.sub(r"^(?:and|or)\s+", "", g, flags=re.IGNORECASE)
        tokens = re.split(r"\s+(or|and)\s+", g, flags=re.IGNORECASE)
        out: list[str] = []
        for tok in tokens:
            low = tok.lower()
            out.append(low.upper() if low in ("or", "and") else _debian_atom(tok))
        text = " ".join(out)
        rendered.append(f"({text})" if len(groups) > 1 and len(out) > 1 else text)
    return " AND ".join(rendered)


def classifier_to_spdx(classifiers: Iterable[str]) -> str | None:
    """An SPDX expression from ``License ::`` trove classifiers (``None`` when none is specific)."""
    found: list[str] = []
    for c in classifiers:
        if not c.startswith("License ::"):
            continue
        key = c[len("License ::") :].strip()
        spdx = _CLASSIFIERS.get(key)
        if spdx and spdx not in found:
            found.append(spdx)
    if not found:
        return None
    return " OR ".join(found) if len(found) > 1 else found[0]


# Signatures for our own fallback matcher: (SPDX id, regexes that must all match).
_SIGNATURES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Apache-2.0", (r"apache license\s*,?\s*version 2\.0",)),
    ("AGPL-3.0-only", (r"gnu affero general public license\s*version 3",)),
    ("LGPL-3.0-only", (r"gnu lesser general public license\s*version 3",)),
    ("LGPL-2.1-only", (r"gnu lesser general public license\s*version 2\.1",)),
    ("LGPL-2.0-only", (r"gnu library general public license\s*version 2",)),
    ("GPL-3.0-only", (r"gnu general public license\s*version 3",)),
    ("GPL-2.0-only", (r"gnu general public license\s*version 2",)),
    ("MPL-2.0", (r"mozilla public license,?\s*(?:version|v\.?)\s*2\.0",)),
    ("PSF-2.0", (r"python software foundation license",)),
    ("BSL-1.0", (r"boost software license - version 1\.0",)),
    ("ISC", (r"permission to use, copy, modify, and(?:/or)? distribute this software for any",)),
    (
        "MIT",
        (
            r"permission is hereby granted, free of charge, to any person obtaining a copy",
            r"the above copyright notice and this permission notice shall be included",
        ),
    ),
    (
        "BSD-3-Clause",
        (
            r"redistribution and use in source and binary forms",
            r"neither the name of .{0,200}? nor the names of (?:its|their|the) contributors",
        ),
    ),
    ("BSD-2-Clause", (r"redistribution and use in source and binary forms",)),
    ("Unlicense", (r"this is free and unencumbered software released into the public domain",)),
)


def _signature_match(text: str) -> str | None:
    """Our own fallback: the first license whose header signature appears near the top.

    Only the first 3,000 characters are looked at: a license text names itself at its start,
    while a match deeper in the file is usually a quote or a bundled third-party notice.
    """
    head = " ".join(text[:3000].lower().split())
    for spdx, rxs in _SIGNATURES:
        if all(re.search(rx, head) for rx in rxs):
            return spdx
    return None


_identify_lock = threading.Lock()


def identify_available() -> bool:
    """Whether pre-commit's ``identify`` (with ``ukkonen``) is installed for text matching."""
    from importlib.util import find_spec

    return find_spec("identify") is not None and find_spec("ukkonen") is not None


@lru_cache(maxsize=4096)
def _identify_cached(digest: str, text: str) -> tuple[str | None, str]:
    if identify_available():
        from identify.identify import license_id

        # identify reads a file by name; write the text once into a private temp file.
        fd, name = tempfile.mkstemp(prefix="pg-license-", suffix=".txt")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fp:
                fp.write(text)
            found = license_id(name)
        finally:
            Path(name).unlink(missing_ok=True)
        if found:
            spdx = normalize_expression(found) or found
            return spdx, "license-file:identify"
    # Without identify (not installed) only our own signature matcher runs: weaker, and the
    # method says so in each component's license_source.
    own = _signature_match(text)
    if own:
        return own, "license-file:signature"
    return None, ""


def identify_text(data: bytes) -> tuple[str | None, str]:
    """Identify a license text: (SPDX id or ``None``, method) where method names the matcher.

    Texts are cached by digest: the same LICENSE file ships in many wheels.
    """
    text = data.decode("utf-8", "replace")
    if not text.strip():
        return None, ""
    digest = hashlib.sha256(data).hexdigest()
    with _identify_lock:
        return _identify_cached(digest, text)


_COMMON_RX = re.compile(r"/usr/share/common-licenses/([A-Za-z0-9.+\-]+)")
_COMMON: dict[str, str] = {
    "Apache-2.0": "Apache-2.0",
    "Artistic": "Artistic-1.0-Perl",
    "BSD": "BSD-3-Clause",
    "CC0-1.0": "CC0-1.0",
    "GFDL-1.2": "GFDL-1.2-only",
    "GFDL-1.3": "GFDL-1.3-only",
    "GFDL": "GFDL-1.1-or-later",  # unversioned: any version
    "GPL-1": "GPL-1.0-only",
    "GPL-2": "GPL-2.0-only",
    "GPL-3": "GPL-3.0-only",
    "GPL": "GPL-1.0-or-later",
    "LGPL-2": "LGPL-2.0-only",
    "LGPL-2.1": "LGPL-2.1-only",
    "LGPL-3": "LGPL-3.0-only",
    "LGPL": "LGPL-2.0-or-later",
    "MPL-1.1": "MPL-1.1",
    "MPL-2.0": "MPL-2.0",
}


def debian_copyright_licenses(data: bytes) -> tuple[tuple[str, ...], str]:
    """Licenses named by a Debian ``copyright`` file and the method used.

    DEP-5 files: every ``License:`` short name of the ``Files`` and header paragraphs (each is
    a separate entry, as the files it covers ship together). Other files: the
    ``/usr/share/common-licenses/X`` references they make.
    """
    text = data.decode("utf-8", "replace")
    out: list[str] = []
    if re.match(r"\s*Format:\s*\S*(?:dep5|copyright-format)", text, re.IGNORECASE):
        for para in re.split(r"\n\s*\n", text):
            lines = para.splitlines()
            is_files = any(ln.lower().startswith(("files:", "format:")) for ln in lines)
            if not is_files:
                continue  # standalone License paragraphs only hold texts
            for ln in lines:
                if ln.lower().startswith("license:"):
                    short = ln.split(":", 1)[1].strip()
                    if short:
                        spdx = normalize_expression(short, debian=True)
                        if spdx and spdx not in out:
                            out.append(spdx)
        return tuple(out), "dep5"
    for name in _COMMON_RX.findall(text):
        key = name.rstrip(".")
        spdx = _COMMON.get(key) or normalize_expression(key, debian=True)
        if spdx and spdx not in out:
            out.append(spdx)
    return tuple(out), "common-licenses" if out else ""


def python_dist_licenses(
    license_expression: str,
    classifiers: Iterable[str],
    license_field: str,
    files: Iterable[tuple[str, bytes]],
) -> LicenseResult:
    """Licenses of a Python distribution, in the documented order."""
    if license_expression:
        spdx = normalize_expression(license_expression)
        if spdx:
            return LicenseResult((spdx,), "license-expression", license_expression)
    field_text = license_field.strip()
    short = bool(field_text) and "\n" not in field_text and len(field_text) <= 200
    field_exact = _spdx(field_text) if short else None
    if field_exact:
        # Already an SPDX expression (the pre-PEP 639 way to declare one): more precise than
        # any classifier ("BSD License" names no clause count, "GPL" no version).
        return LicenseResult((field_exact,), "license-field", field_text)
    field_spdx = normalize_expression(field_text) if short else None
    licence_classifiers = [c for c in classifiers if c.startswith("License ::")]
    spdx = classifier_to_spdx(licence_classifiers)
    if spdx:
        generic = all(c[len("License ::") :].strip() in _GENERIC for c in licence_classifiers)
        if generic and field_spdx:
            # "License :: ... :: GPL" plus "License: GPLv2+": the field refines the family
            return LicenseResult((field_spdx,), "license-field", field_text)
        return LicenseResult((spdx,), "classifier", spdx)
    if field_spdx:
        return LicenseResult((field_spdx,), "license-field", field_text)
    if field_text and not short:
        # Some projects paste the whole license text into the License field.
        found, method = identify_text(field_text.encode())
        if found:
            return LicenseResult((found,), "license-field:" + method.split(":")[-1], "")
    found_ids: list[str] = []
    methods: list[str] = []
    for _path, data in files:
        found, method = identify_text(data)
        if found and found not in found_ids:
            found_ids.append(found)
            methods.append(method)
    if found_ids:
        # Several license files of one project all apply (e.g. a bundled library's notice).
        return LicenseResult(tuple(found_ids), methods[0], "")
    return LicenseResult((), "", license_field[:200])
