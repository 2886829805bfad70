"""Which advisories touch the versions a requirement allows, and whether they touch all of them.

A requirement that is not pinned to one version (``opencv-python``, ``boto3==1.24.*``,
``numpy>=1.20,<2``) installs whatever the index offers on the day of the build, so there is
no one version to look up. What can be said is exact for the range itself:

- an advisory whose affected versions cover *every* version the requirement allows makes any
  build vulnerable (``opencv-python==4.6.*`` and a fix first released in 4.8.1.78);
- an advisory that covers only some of them is a risk of the range (older releases in it are
  affected), worth pinning against but not a vulnerability of what gets installed.

Deciding "every version" without the index's release list: both sets are unions of
intervals, so if the requirement allows an unaffected version, one sits at a boundary, either
of the requirement (its lower bound, or the lowest version when it has none, or an unbounded
top) or of the advisory (a fixed version, just after a last affected one). Those boundary
versions are probed; none unaffected means the whole range is affected.

Example::

    for e in range_exposures(SpecifierSet("==4.6.*"), db.affected_entries("PyPI", "opencv-python")):
        print(e.advisory.id, e.whole_range, e.affected_in_range)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from scanner.vulndb.osv import Advisory, AffectedEntry, version_key

__all__ = ["RangeExposure", "parse_range", "range_exposures"]

_TOP = Version("999999")
_BOTTOM = Version("0.dev0")
_LOWER_OPS = frozenset({"==", "===", ">=", ">", "~="})
_UPPER_OPS = frozenset({"==", "===", "<", "<=", "~="})


@dataclass(frozen=True, slots=True)
class RangeExposure:
    """One advisory's reach into a requirement's range."""

    advisory: Advisory
    whole_range: bool  # every version the requirement allows is affected
    affected_in_range: tuple[str, ...]  # the record's listed affected versions in the range
    fixed_versions: tuple[str, ...]


def parse_range(specifier: str) -> SpecifierSet | None:
    """A requirement's specifier as a set of versions (``None`` when it is not PEP 440)."""
    text = specifier.split(" (", 1)[0].strip()  # "(constrained to ...)" notes are not part of it
    try:
        return SpecifierSet(text)
    except InvalidSpecifier:
        return None


def _version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def _after(v: Version) -> Version | None:
    """A version just above ``v`` (below the next release)."""
    for text in (f"{v}.post0", f"{v.base_version}.0.0.1"):
        got = _version(text)
        if got is not None and got > v:
            return got
    return None


def _requirement_probes(spec: SpecifierSet) -> set[Version]:
    probes: set[Version] = set()
    ops = {s.operator for s in spec}
    for s in spec:
        raw = s.version[:-2] if s.version.endswith(".*") else s.version
        v = _version(raw)
        if v is None:
            continue
        if s.operator in ("==", "===", ">=", "~="):
            probes.add(v)
        elif s.operator == ">" and (after := _after(v)) is not None:
            probes.add(after)
    if not ops & _LOWER_OPS:
        probes.add(_BOTTOM)
    if not ops & _UPPER_OPS:
        probes.add(_TOP)
    return probes


def _advisory_probes(entry: AffectedEntry) -> set[Version]:
    probes: set[Version] = set()
    for rng in entry.ranges:
        for kind, text in rng:
            v = _BOTTOM if text == "0" else _version(text)
            if v is None:
                continue
            probes.add(v)
            if kind == "last_affected" and (after := _after(v)) is not None:
                probes.add(after)
    return probes


def _affects(entry: AffectedEntry, v: Version) -> bool:
    try:
        return entry.affects(str(v), version_key("PyPI"))
    except ValueError:
        return False


def _allows(spec: SpecifierSet, v: Version) -> bool:
    return spec.contains(v, prereleases=True)


def range_exposures(spec: SpecifierSet, entries: Iterable[AffectedEntry]) -> list[RangeExposure]:
    """The advisories that affect at least one version ``spec`` allows, by advisory id."""
    by_id: dict[str, list[AffectedEntry]] = {}
    for e in entries:
        by_id.setdefault(e.advisory.id, []).append(e)
    out: list[RangeExposure] = []
    for vid in sorted(by_id):
        group = by_id[vid]
        listed = {v for e in group for t in e.versions if (v := _version(t)) is not None}
        probes = _requirement_probes(spec) | listed
        for e in group:
            probes |= _advisory_probes(e)
        allowed = [v for v in probes if _allows(spec, v)]
        hit = [v for v in allowed if any(_affects(e, v) for e in group)]
        if not hit:
            continue
        escape = any(not any(_affects(e, v) for e in group) for v in allowed)
        in_range = sorted(v for v in listed if _allows(spec, v))
        fixed = tuple(dict.fromkeys(f for e in group for f in e.fixed_versions()))
        out.append(
            RangeExposure(group[0].advisory, not escape, tuple(str(v) for v in in_range), fixed)
        )
    return out
