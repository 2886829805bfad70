"""OSV records: parsing, severity, and whether a package version is affected.

Records follow the OSV schema (https://ossf.github.io/osv-schema/) as OSV publishes them per
ecosystem. Only what matching needs is kept: ids and aliases, a summary, severity, and per
affected package the ``ECOSYSTEM`` ranges and explicit versions. ``GIT`` ranges are ignored
(they name commits, not releases).

Example::

    adv = parse_record(json.loads(text))
    entry = adv_entries[0]
    entry.affects("1.24.1", pypi_key)  # -> True / False; raises ValueError on a bad version
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from packaging.version import InvalidVersion, Version

from scanner.models import Severity
from scanner.vulndb.dpkg import DpkgVersion

__all__ = [
    "Advisory",
    "AffectedEntry",
    "RecordError",
    "cvss3_base_score",
    "ecosystem_base",
    "parse_record",
    "version_key",
]


class RecordError(ValueError):
    """An OSV record that cannot be used (missing id, malformed affected data)."""


_CVSS3 = {
    "AV": {"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2},
    "AC": {"L": 0.77, "H": 0.44},
    "UI": {"N": 0.85, "R": 0.62},
    "C": {"H": 0.56, "L": 0.22, "N": 0.0},
}
_PR = {"U": {"N": 0.85, "L": 0.62, "H": 0.27}, "C": {"N": 0.85, "L": 0.68, "H": 0.5}}


def _roundup(x: float) -> float:
    # CVSS 3.1 Appendix A: round up to one decimal, robust to floating-point noise.
    i = round(x * 100000)
    if i % 10000 == 0:
        return i / 100000.0
    return (math.floor(i / 10000) + 1) / 10.0


def cvss3_base_score(vector: str) -> float:
    """The CVSS v3.0/v3.1 base score of a vector string (``ValueError`` when malformed)."""
    parts = dict(p.split(":", 1) for p in vector.strip().split("/")[1:] if ":" in p)
    if not vector.startswith("CVSS:3"):
        raise ValueError(f"not a CVSS v3 vector: {vector!r}")
    try:
        scope = parts["S"]
        av = _CVSS3["AV"][parts["AV"]]
        ac = _CVSS3["AC"][parts["AC"]]
        ui = _CVSS3["UI"][parts["UI"]]
        pr = _PR[scope][parts["PR"]]
        c, i, a = (_CVSS3["C"][parts[k]] for k in ("C", "I", "A"))
    except KeyError as exc:
        raise ValueError(f"incomplete CVSS v3 vector {vector!r}: {exc}") from exc
    iss = 1 - (1 - c) * (1 - i) * (1 - a)
    if scope == "U":  # noqa: SIM108 - the two formulas read best as in the specification
        impact = 6.42 * iss
    else:
        impact = 7.52 * (iss - 0.029) - 3.25 * (iss - 0.02) ** 15
    exploitability = 8.22 * av * ac * pr * ui
    if impact <= 0:
        return 0.0
    if scope == "U":
        return _roundup(min(impact + exploitability, 10))
    return _roundup(min(1.08 * (impact + exploitability), 10))


def severity_of_score(score: float) -> Severity:
    """CVSS qualitative rating (0.0 is ``info``)."""
    if score >= 9.0:
        return Severity.CRITICAL
    if score >= 7.0:
        return Severity.HIGH
    if score >= 4.0:
        return Severity.MEDIUM
    if score > 0.0:
        return Severity.LOW
    return Severity.INFO


_WORDS = {
    "critical": Severity.CRITICAL,
    "high": Severity.HIGH,
    "important": Severity.HIGH,
    "moderate": Severity.MEDIUM,
    "medium": Severity.MEDIUM,
    "low": Severity.LOW,
    "negligible": Severity.INFO,
    "unimportant": Severity.INFO,
}


def _severity(
    severities: tuple[tuple[str, str], ...], db_word: str
) -> tuple[Severity | None, float | None, str]:
    """(severity, CVSS score, where it came from) of a record; ``None`` when it states none."""
    best: tuple[Severity | None, float | None, str] = (None, None, "")
    for kind, score in severities:
        if kind == "CVSS_V3":
            try:
                value = cvss3_base_score(score)
            except ValueError:
                continue
            return severity_of_score(value), value, "cvss_v3"
        if kind.lower() == "ubuntu" and score.lower() in _WORDS and best[0] is None:
            best = (_WORDS[score.lower()], None, "ubuntu-priority")
    word = db_word.lower()
    if word in _WORDS and best[0] is None:
        best = (_WORDS[word], None, "database_specific")
    return best


@dataclass(frozen=True, slots=True)
class Advisory:
    """What a finding says about one OSV record."""

    id: str
    aliases: tuple[str, ...]
    summary: str
    modified: str
    published: str = ""
    url: str = ""
    # Raw severity statements, rated only when asked: most records never match anything, and
    # computing 20,000 CVSS scores would slow the index load for nothing.
    severities: tuple[tuple[str, str], ...] = ()
    db_severity: str = ""

    @property
    def severity(self) -> Severity | None:
        """The advisory's severity (``None`` when the record states none)."""
        return _severity(self.severities, self.db_severity)[0]

    @property
    def score(self) -> float | None:
        """The CVSS v3 base score, when the record has a vector."""
        return _severity(self.severities, self.db_severity)[1]

    @property
    def severity_source(self) -> str:
        """Where the severity came from: ``cvss_v3``, ``ubuntu-priority``, ``database_specific``."""
        return _severity(self.severities, self.db_severity)[2]


@dataclass(frozen=True, slots=True)
class AffectedEntry:
    """One ``affected[]`` item of a record: a package in an ecosystem and its ranges."""

    advisory: Advisory
    ecosystem: str
    name: str
    ranges: tuple[tuple[tuple[str, str], ...], ...]  # per range: (event kind, version) pairs
    versions: frozenset[str]

    def fixed_versions(self) -> list[str]:
        """Versions named as fixes in this entry, in record order."""
        out: list[str] = []
        for rng in self.ranges:
            out.extend(v for kind, v in rng if kind == "fixed" and v not in out)
        return out

    def affects(self, version: str, key: Callable[[str], Any]) -> bool:
        """Whether ``version`` is affected; ``key`` parses versions (``ValueError`` if bad).

        OSV's evaluation: events sorted by version; ``introduced`` opens, ``fixed`` closes
        (at that version), ``last_affected`` closes after it; ``"0"`` is before everything.
        """
        if version in self.versions:
            return True
        v = key(version)
        for rng in self.ranges:
            # "0" sorts before every version; equal (0, None) keys never compare their None
            events = sorted(rng, key=lambda e: (0, None) if e[1] == "0" else (1, key(e[1])))
            affected = False
            for kind, ev in events:
                if kind == "introduced":
                    if ev == "0" or v >= key(ev):
                        affected = True
                elif kind == "fixed":
                    if v >= key(ev):
                        affected = False
                elif kind == "last_affected":
                    if v > key(ev):
                        affected = False
                elif kind == "limit" and v >= key(ev):
                    affected = False
            if affected:
                return True
        return False


def ecosystem_base(ecosystem: str) -> str:
    """``Debian:11`` → ``Debian``; ``Ubuntu:22.04:LTS`` → ``Ubuntu``; ``PyPI`` → ``PyPI``."""
    return ecosystem.split(":", 1)[0]


@lru_cache(maxsize=65536)
def _pypi_key(version: str) -> Version:
    try:
        return Version(version)
    except InvalidVersion as exc:
        raise ValueError(f"not a PEP 440 version: {version!r}") from exc


@lru_cache(maxsize=65536)
def _deb_key(version: str) -> DpkgVersion:
    return DpkgVersion(version)


def version_key(ecosystem: str) -> Callable[[str], Any]:
    """The version parser for an ecosystem (``ValueError`` on versions it cannot order)."""
    base = ecosystem_base(ecosystem)
    if base == "PyPI":
        return _pypi_key
    if base in ("Debian", "Ubuntu"):
        return _deb_key
    raise ValueError(f"no version ordering for ecosystem {ecosystem!r}")


_URL_RX = re.compile(r"https?://\S+")


def parse_record(record: Mapping[str, Any]) -> Iterator[AffectedEntry]:
    """The affected entries of one OSV record (none for a withdrawn record)."""
    rid = record.get("id")
    if not isinstance(rid, str) or not rid:
        raise RecordError("record has no id")
    if record.get("withdrawn"):
        return
    db = record.get("database_specific") or {}
    refs = record.get("references") or []
    url = next(
        (str(r.get("url")) for r in refs if isinstance(r, Mapping) and r.get("type") == "ADVISORY"),
        "",
    )
    summary = str(record.get("summary") or record.get("details") or "").strip()
    advisory = Advisory(
        id=rid,
        aliases=tuple(str(a) for a in record.get("aliases") or ()),
        summary=" ".join(summary.split())[:300],
        modified=str(record.get("modified", "")),
        published=str(record.get("published", "")),
        url=url,
        severities=tuple(
            (str(sev.get("type", "")), str(sev.get("score", "")))
            for sev in record.get("severity") or ()
            if isinstance(sev, Mapping)
        ),
        db_severity=str(db.get("severity", "")) if isinstance(db, Mapping) else "",
    )
    for aff in record.get("affected") or ():
        if not isinstance(aff, Mapping):
            raise RecordError(f"{rid}: affected item is not an object")
        pkg = aff.get("package") or {}
        eco = str(pkg.get("ecosystem", ""))
        name = str(pkg.get("name", ""))
        if not eco or not name:
            continue
        ranges: list[tuple[tuple[str, str], ...]] = []
        for rng in aff.get("ranges") or ():
            if rng.get("type") not in ("ECOSYSTEM", "SEMVER"):
                continue
            evs = [
                (kind, str(ev[kind]))
                for ev in rng.get("events") or ()
                for kind in ("introduced", "fixed", "last_affected", "limit")
                if kind in ev
            ]
            if evs:
                ranges.append(tuple(evs))
        versions = frozenset(str(v) for v in aff.get("versions") or ())
        if not ranges and not versions:
            continue
        yield AffectedEntry(advisory, eco, name, tuple(ranges), versions)
