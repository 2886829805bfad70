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

from scanner.analyzers._license_names import (
    ALIASES,
    CLASSIFIERS,
    DEBIAN,
    GENERIC_CLASSIFIERS,
    GENERIC_NAMES,
)
from scanner.analyzers._license_text import match_text, own_part, states_dual

__all__ = [
    "Evidence",
    "LicenseResult",
    "classifier_to_spdx",
    "conflicts_with",
    "family",
    "file_evidence",
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


@lru_cache(maxsize=8192)  # a root filesystem names the same few hundred licenses again and again
def normalize_expression(text: str, *, debian: bool = False) -> str | None:
    """Normalise a license name or expression to SPDX; ``None`` when it is not one.

    ``LicenseRef-*`` identifiers are kept as they are (valid SPDX, but unknown to the policy
    unless it lists them).
    """
    raw = " ".join(text.split())
    if not raw or len(raw) > 200 or raw.upper() in ("UNKNOWN", "NONE", "N/A", "NOASSERTION"):
        return None
    table = DEBIAN if debian else {}
    low = raw.lower()
    if low in table:
        return table[low]
    if low in ALIASES:
        return ALIASES[low]
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
    mapped = DEBIAN.get(key) or ALIASES.get(key) or _spdx(base)
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
        spdx = CLASSIFIERS.get(key)
        if spdx and spdx not in found:
            found.append(spdx)
    if not found:
        return None
    return " OR ".join(found) if len(found) > 1 else found[0]


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
    if raw.lower() in GENERIC_NAMES:
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


def file_evidence(files: Iterable[tuple[str, bytes]]) -> Evidence | None:
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
    file_ev = file_evidence(files)
    if file_ev is not None:
        evidence.append(file_ev)
    licence_classifiers = [c for c in classifiers if c.startswith("License ::")]
    spdx = classifier_to_spdx(licence_classifiers)
    if spdx:
        generic = all(
            c[len("License ::") :].strip() in GENERIC_CLASSIFIERS for c in licence_classifiers
        )
        shown = "; ".join(c[len("License :: ") :] for c in licence_classifiers)[:200]
        evidence.append(
            Evidence("generic" if generic else "classifier", spdx, shown, 5 if generic else 4)
        )
    result = resolve(evidence)
    if not result.licenses and field_text:
        return LicenseResult((), "", field_text[:200])
    return result
