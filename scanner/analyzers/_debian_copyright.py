"""Licenses of Debian packages from their ``copyright`` files.

Where the file is: ``/usr/share/doc/<package>/copyright``, except that Debian Policy (§12.5)
lets a binary package's documentation folder be a symbolic link to the folder of another binary
package *built from the same source* that it depends on (``libgcc-s1`` → ``gcc-12-base``,
``libncursesw6`` → ``libtinfo6``). The walker hands analyzers regular files only, so the link is
followed through that rule: the copyright of a same-source package the package depends on, else
of the same-source package named like the source, else of any same-source package (Debian ships
one copyright per source package).

What it says:

- machine-readable (DEP-5) files: every ``License:`` short name of the header and ``Files``
  paragraphs (each applies to files that ship together, so all apply);
- other files: the license texts and grant notices they quote, matched against the SPDX License
  List (``_license_text``), plus the ``/usr/share/common-licenses/X`` files they point to for
  families the text did not already name.

Example::

    ids, method = debian_copyright_licenses(Path("usr/share/doc/bash/copyright").read_bytes())
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

from license_expression import ExpressionError

from scanner.analyzers._license_text import match_text
from scanner.analyzers._licensing import family, normalize_expression, spdx_licensing

__all__ = ["CopyrightFile", "debian_copyright_licenses", "find_copyright", "machine_readable"]

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


def _dep5(text: str) -> list[str]:
    out: list[str] = []
    for para in re.split(r"\n\s*\n", text):
        lines = para.splitlines()
        if not any(ln.lower().startswith(("files:", "format:")) for ln in lines):
            continue  # standalone License paragraphs only hold texts
        for ln in lines:
            if ln.lower().startswith("license:"):
                short = ln.split(":", 1)[1].strip()
                spdx = normalize_expression(short, debian=True) if short else None
                # "GPL-3+ and ISC" is two licenses that both apply: list each once
                for part in _and_parts(spdx) if spdx else ():
                    if part not in out:
                        out.append(part)
    return out


@lru_cache(maxsize=4096)  # the same expressions recur in every copyright file of an image
def _and_parts(expression: str) -> tuple[str, ...]:
    """The operands of a top-level AND ("A AND (B OR C)" → ("A", "B OR C")), else the whole."""
    licensing = spdx_licensing()
    try:
        parsed = licensing.parse(expression, validate=False, strict=False)
    except ExpressionError:
        return (expression,)
    if isinstance(parsed, licensing.AND):
        return tuple(str(a.render()).removeprefix("(").removesuffix(")") for a in parsed.args)
    return (expression,)


def _common_licenses(text: str) -> list[str]:
    out: list[str] = []
    for name in _COMMON_RX.findall(text):
        key = name.rstrip(".")
        spdx = _COMMON.get(key) or normalize_expression(key, debian=True)
        if spdx and spdx not in out:
            out.append(spdx)
    return out


_FORMAT_RX = re.compile(r"\s*Format:\s*\S*(?:dep5|copyright-format)", re.IGNORECASE)


def machine_readable(text: str) -> bool:
    """Whether a copyright file declares the machine-readable format (DEP-5)."""
    return _FORMAT_RX.match(text) is not None


def debian_copyright_licenses(data: bytes) -> tuple[tuple[str, ...], str]:
    """Licenses named by a Debian ``copyright`` file and the method used ("" when none)."""
    text = data.decode("utf-8", "replace")
    if machine_readable(text):
        found = _dep5(text)
        if found:
            return tuple(found), "dep5"
    matched = list(match_text(data).ids)
    refs = _common_licenses(text)
    seen = {family(k) for k in matched}
    extra = [r for r in refs if family(r) not in seen]
    if matched:
        return tuple(matched + extra), "copyright-text"
    if refs:
        return tuple(refs), "common-licenses"
    return (), ""


@dataclass(frozen=True, slots=True)
class CopyrightFile:
    """The copyright file that covers a package, and the package folder it was found under."""

    path: str
    data: bytes
    via: str = ""  # the other binary package whose folder held it ("" for the package's own)


def find_copyright(
    name: str,
    source: str,
    depends: Iterable[str],
    same_source: Iterable[str],
    copyrights: Mapping[str, tuple[str, bytes]],
) -> CopyrightFile | None:
    """The copyright file for binary package ``name``, following Policy §12.5 (see above)."""
    own = copyrights.get(name)
    if own is not None:
        return CopyrightFile(own[0], own[1])
    siblings = sorted(set(same_source) - {name})
    deps = set(depends)
    # the link target must be a dependency; then the folder named after the source; then any
    ordered = (
        [s for s in siblings if s in deps]
        + [s for s in siblings if s == source or s.startswith(f"{source}-")]
        + siblings
    )
    for other in ordered:
        found = copyrights.get(other)
        if found is not None:
            return CopyrightFile(found[0], found[1], other)
    return None
