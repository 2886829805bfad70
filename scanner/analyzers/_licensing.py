"""License resolution shared by the ``packages`` and ``licenses`` analyzers.

Every piece of license evidence a package carries is collected and ranked by how specific it is;
the most specific one decides, and the report says which it was (``license_source``) and keeps
the rest (``license_evidence``). For a Python distribution, most specific first:

1. ``license-expression``: the PEP 639 ``License-Expression`` field;
2. ``license-field``: a ``License`` field that is an SPDX expression or names one license with its
   version (``GNU GPL v3``, ``Apache 2.0``, ``MIT``);
3. ``license-text``: the license text, matched against the SPDX License List (``_license_text``):
   first a whole license pasted into the ``License`` field, else the distribution's own license
   files (files naming another project, such as ``LICENSE-3RD-PARTY.txt`` or
   ``licenses/LICENSE.zeromq.txt``, describe bundled code, not the distribution);
4. ``classifier``: ``License ::`` trove classifiers naming one license (several are a choice);
5. ``generic``: a ``License`` field or classifier naming only a family (``BSD``, ``GPL``): the
   family's SPDX reading (``BSD-3-Clause``, ``GPL-1.0-or-later``) when nothing better exists;
6. nothing: UNKNOWN (an empty tuple), never a guess.

Evidence that names a license family disjoint from the answer (``License: MIT`` beside an Apache
license file) is a conflict, kept in ``LicenseResult.conflicts`` for the reports to show. A
license text cannot say "or later"; when the answer comes from a GPL-family text and a less
specific piece of evidence grants "or later" from the same or an earlier version, the answer is
the text's version "or later" (chardet: LGPLv2+ classifier, LGPL-2.1 text: LGPL-2.1-or-later).

Everything is normalised to SPDX with ``license-expression``. Debian packages are read by
``_debian_copyright``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from license_expression import ExpressionError, Licensing, get_spdx_licensing

from scanner.analyzers._license_text import match_text, own_part, states_dual

__all__ = [
    "Evidence",
    "LicenseResult",
    "classifier_to_spdx",
    "conflicts_with",
    "family",
    "normalize_expression",
    "python_dist_licenses",
    "resolve",
    "spdx_licensing",
]


@dataclass(frozen=True, slots=True)
class Evidence:
    """One piece of license evidence: its kind, its SPDX reading and where it came from."""

    kind: str
    expression: str
    detail: str = ""  # the file path or the raw field value (shortened)
    rank: int = 9  # lower is more specific

    def as_dict(self) -> dict[str, str]:
        """The evidence as the reports record it."""
        return {"kind": self.kind, "expression": self.expression, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class LicenseResult:
    """Licenses of one component, the evidence used, all evidence found, and conflicts."""

    licenses: tuple[str, ...]
    source: str = ""  # kind of the evidence used ("" for UNKNOWN)
    declared: str = ""  # the raw text the answer came from (shortened)
    evidence: tuple[Evidence, ...] = field(default=())
    conflicts: tuple[Evidence, ...] = field(default=())


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


# ``License`` field values that name a family but not which member (clauses, version).
_GENERIC_NAMES = frozenset(
    {"apache", "apache software license", "bsd", "bsd license", "lgpl", "gpl", "gfdl", "artistic"}
)

# "GNU GPL v3", "GPL v2 or later", "LGPL-2.1+", "GNU Lesser General Public License v3": a GNU
# license named with its version (the most common non-SPDX way to write one in ``License``).
_GNU_NAME_RX = re.compile(
    r"^(?:the\s+)?(?:gnu\s+)?(?P<kind>a|l|affero\s+|lesser\s+|library\s+)?"
    r"(?:gpl|general\s+public\s+licen[cs]e)\s*(?:,?\s*(?:version|ver\.?|v\.?))?\s*"
    r"(?P<ver>[123](?:\.[01])?)\s*(?P<later>\+|or\s+(?:any\s+)?later(?:\s+version)?)?$",
    re.IGNORECASE,
)


def _gnu_name(text: str) -> str | None:
    m = _GNU_NAME_RX.match(text.strip())
    if m is None:
        return None
    kind = (m.group("kind") or "").strip().lower()
    base = "AGPL" if kind in ("a", "affero") else "LGPL" if kind else "GPL"
    ver = m.group("ver") if "." in m.group("ver") else m.group("ver") + ".0"
    if base == "LGPL" and ver == "2.0" and kind == "lesser":
        ver = "2.1"  # the "Lesser" GPL starts at 2.1
    return f"{base}-{ver}-{'or-later' if m.group('later') else 'only'}"


def _field_evidence(text: str) -> Evidence | None:
    """The ``License`` field as evidence: rank 2 when specific, 5 when it only names a family."""
    raw = " ".join(text.split())
    if not raw or "\n" in text.strip() or len(raw) > 200:
        return None
    exact = _spdx(raw) or _gnu_name(raw)
    if exact:
        return Evidence("license-field", exact, raw, 2)
    spdx = normalize_expression(raw)
    if spdx is None:
        return None
    if raw.lower() in _GENERIC_NAMES:
        return Evidence("generic", spdx, f"License: {raw}", 5)
    return Evidence("license-field", spdx, raw, 2)


def _is_own_license_file(rel: str) -> bool:
    """Whether a license file describes the distribution itself rather than bundled code.

    ``LICENSE``, ``LICENSE.txt``, ``LICENSE.APACHE``, ``LICENSE-MIT`` and ``COPYING.md`` are the
    distribution's; ``LICENSE-3RD-PARTY.txt``, ``LICENSE.zeromq.txt`` and anything in a
    sub-folder of ``licenses/`` name other projects.
    """
    parts = rel.split("/")
    if parts[0].lower() in ("licenses", "license_files"):
        parts = parts[1:]
    if len(parts) != 1:
        return False
    name = parts[0].lower()
    m = re.match(r"^(?:licen[cs]e|copying|notice)s?(?P<rest>.*)$", name)
    if m is None:
        return False
    rest = re.sub(r"\.(?:txt|md|rst)$", "", m.group("rest")).strip("-._ ")
    if not rest:
        return True
    # a suffix naming a license (LICENSE.APACHE, LICENSE-MIT, COPYING.LGPL) is still ours
    return bool(re.fullmatch(r"(?:apache|bsd|mit|gpl|lgpl|mpl|isc|psf|apache-?2(?:\.0)?)", rest))


def _file_evidence(files: Iterable[tuple[str, bytes]]) -> Evidence | None:
    """The distribution's own license files, matched: ANDed, or ORed when they say "either"."""
    ids: list[str] = []
    paths: list[str] = []
    dual = False
    notice_only = True
    for path, data in files:
        rel = path.split(".dist-info/", 1)[-1].split(".egg-info/", 1)[-1]
        if not _is_own_license_file(rel):
            continue
        text = own_part(data[: 512 * 1024].decode("utf-8", "replace"))
        m = match_text(text)
        if not m.ids:
            dual = dual or states_dual(text)  # packaging's "either of the licenses" file
            continue
        notice_only = notice_only and m.kind == "license-notice"
        dual = dual or m.dual
        paths.append(path)
        ids.extend(i for i in m.ids if i not in ids)
    if not ids:
        return None
    op = " OR " if dual and len(ids) > 1 else " AND "
    expr = op.join(f"({i})" if " " in i else i for i in ids)
    kind = "license-notice" if notice_only else "license-text"
    return Evidence(kind, _spdx(expr) or expr, ", ".join(paths)[:300], 3)


def family(key: str) -> str:
    """A license's family for conflict checks: ``GPL-3.0-only`` → ``gpl``, ``PSF-2.0`` → ``python``.

    Versions and variants are one family (``BSD-2-Clause``, ``BSD-3-Clause``: ``bsd``)."""
    k = key.removeprefix("LicenseRef-").lower()
    m = re.match(r"[a-z]+", k)
    fam = m.group(0) if m else k
    return {"psf": "python", "expat": "mit", "x": "mit", "zpl": "zope"}.get(fam, fam)


def _families(expression: str) -> set[str]:
    keys = re.findall(r"[A-Za-z0-9][A-Za-z0-9.+\-]*", expression)
    return {family(k) for k in keys if k.upper() not in ("AND", "OR", "WITH")}


def conflicts_with(chosen: str, other: str) -> bool:
    """Whether two readings share no license family (a family-only reading never conflicts
    with a member of its family: ``BSD License`` and ``BSD-2-Clause`` agree)."""
    return not (_families(chosen) & _families(other))


_OR_LATER_RX = re.compile(r"\b(A?L?GPL)-(\d\.\d)-only\b")


def _refine_or_later(chosen: Evidence, others: Iterable[Evidence]) -> Evidence:
    """A GPL-family text's "-only" becomes "-or-later" when other evidence grants later versions."""
    if chosen.rank != 3:
        return chosen
    grants = {
        (m.group(1), m.group(2))
        for e in others
        for m in re.finditer(r"\b(A?L?GPL)-(\d\.\d)-or-later\b", e.expression)
    }

    def upgrade(m: re.Match[str]) -> str:
        fam, ver = m.group(1), m.group(2)
        if any(f == fam and v <= ver for f, v in grants):
            return f"{fam}-{ver}-or-later"
        return m.group(0)

    refined = _OR_LATER_RX.sub(upgrade, chosen.expression)
    if refined == chosen.expression:
        return chosen
    return Evidence(chosen.kind, refined, chosen.detail, chosen.rank)


def resolve(evidence: Iterable[Evidence]) -> LicenseResult:
    """The most specific evidence decides; disjoint less-specific evidence is a conflict."""
    found = sorted((e for e in evidence if e.expression), key=lambda e: e.rank)
    if not found:
        return LicenseResult(())
    chosen = _refine_or_later(found[0], found[1:])
    conflicts = tuple(e for e in found[1:] if conflicts_with(chosen.expression, e.expression))
    return LicenseResult(
        (chosen.expression,),
        chosen.kind,
        chosen.detail[:200],
        (chosen, *found[1:]),
        conflicts,
    )


def python_dist_licenses(
    license_expression: str,
    classifiers: Iterable[str],
    license_field: str,
    files: Iterable[tuple[str, bytes]],
) -> LicenseResult:
    """Licenses of a Python distribution, in the documented order, with all the evidence."""
    evidence: list[Evidence] = []
    if license_expression:
        spdx = normalize_expression(license_expression)
        if spdx:
            evidence.append(Evidence("license-expression", spdx, license_expression[:200], 1))
    field_text = license_field.strip()
    field_ev = _field_evidence(field_text)
    if field_ev is not None:
        evidence.append(field_ev)
    elif field_text and ("\n" in field_text or len(field_text) > 200):
        # Some projects paste the whole license text into the License field.
        m = match_text(own_part(field_text))
        if m.ids and m.kind == "license-text":
            op = " OR " if m.dual else " AND "
            evidence.append(Evidence("license-text", op.join(m.ids), "License field", 3))
    file_ev = _file_evidence(files)
    if file_ev is not None:
        evidence.append(file_ev)
    licence_classifiers = [c for c in classifiers if c.startswith("License ::")]
    spdx = classifier_to_spdx(licence_classifiers)
    if spdx:
        generic = all(c[len("License ::") :].strip() in _GENERIC for c in licence_classifiers)
        shown = "; ".join(c[len("License :: ") :] for c in licence_classifiers)[:200]
        evidence.append(
            Evidence("generic" if generic else "classifier", spdx, shown, 5 if generic else 4)
        )
    result = resolve(evidence)
    if not result.licenses and field_text:
        return LicenseResult((), "", field_text[:200])
    return result
