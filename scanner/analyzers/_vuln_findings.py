"""Findings of the ``vulns`` analyzer: known vulnerabilities, and requirements not pinned.

The analyzer (``vulns.py``) decides what to audit and against which source; this module says
what was found, in the report contract's terms (``package``, ``version``, ``vulnerability_id``,
``aliases``, ``fixed_versions`` on every finding).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from packaging.version import InvalidVersion, Version

from scanner.analyzers._inventory import DeclaredRequirement, pypi_purl
from scanner.analyzers._requirement_ranges import RangeExposure, parse_range, range_exposures
from scanner.analyzers.interface import Output
from scanner.models import AnalyzerFailure, Category, Finding, Location, Severity
from scanner.vulndb import OsvDatabase, VulnDbError

__all__ = ["AuditPackage", "audit_unpinned", "unpinned_online", "vulnerability_finding"]


@dataclass(frozen=True, slots=True)
class AuditPackage:
    """One package to audit, in the shape every backend needs."""

    ecosystem: str  # pypi | deb
    name: str
    version: str
    purl: str
    location: Location
    query_name: str  # source package for deb
    query_version: str


def _sort_version(text: str) -> tuple[int, Any]:
    try:
        return (0, Version(text))
    except InvalidVersion:
        return (1, text)


def vulnerability_finding(
    pkg: AuditPackage,
    vid: str,
    aliases: Iterable[str],
    fixed: Iterable[str],
    summary: str,
    severity: Severity | None,
    extra: dict[str, Any],
    *,
    unknown_severity: Severity,
) -> Finding:
    """A ``vulns.known-vulnerability`` finding (``unknown_severity`` when the record has none)."""
    fixed_list = list(fixed)
    sev = severity if severity is not None else unknown_severity
    fix_text = f"upgrade to {', '.join(fixed_list)}" if fixed_list else "no fixed version yet"
    return Finding.create(
        rule_id="vulns.known-vulnerability",
        category=Category.VULNERABILITY,
        severity=sev,
        message=f"{pkg.name} {pkg.version} is affected by {vid}: {summary} ({fix_text})",
        location=pkg.location,
        evidence=f"{vid}:{pkg.ecosystem}:{pkg.name}@{pkg.version}",
        title=vid,
        properties={
            "package": pkg.name,
            "version": pkg.version,
            "ecosystem": pkg.ecosystem,
            "purl": pkg.purl,
            "vulnerability_id": vid,
            "aliases": sorted(set(aliases)),
            "fixed_versions": fixed_list,
            "summary": summary,
            "severity_source": extra.pop("severity_source", "") or "policy-default",
            **extra,
        },
    )


def audit_unpinned(
    db: OsvDatabase,
    reqs: list[DeclaredRequirement],
    artifact: str,
    *,
    analyzer: str,
    unknown_severity: Severity,
) -> list[Output]:
    """Each unpinned requirement against the advisories for the versions it allows.

    Every allowed version affected: a vulnerability of any build, at the advisory's
    severity. Some affected: one low finding naming them (pin past the fixes). None: the
    requirement is listed as such in the inventory, and nothing more is said.
    """
    if not reqs:
        return []
    if not db.has("PyPI"):
        return [
            AnalyzerFailure(
                analyzer,
                f"{len(reqs)} declared requirement(s) not audited: the database "
                f"{db.root} has no PyPI records",
                Location(artifact, ""),
            )
        ]
    out: list[Output] = []
    for r in reqs:
        loc = Location(artifact, r.path, r.line)
        if r.specifier.startswith("@"):  # a direct reference: a URL, no version to look up
            where = r.specifier[1:].strip().split("?", 1)[0][:160]
            out.append(
                unpinned_finding(
                    r, loc, f"it is installed from {where}, which names no version: not audited"
                )
            )
            continue
        spec = parse_range(r.specifier)
        if spec is None:
            out.append(
                AnalyzerFailure(
                    analyzer,
                    f"{r.name} not audited: {r.specifier!r} is not a PEP 440 version range",
                    loc,
                )
            )
            continue
        try:
            entries = db.affected_entries("PyPI", r.name)
        except VulnDbError as exc:
            return [*out, AnalyzerFailure(analyzer, exc.diagnostics(), loc)]
        exposures = range_exposures(spec, entries)
        pkg = AuditPackage("pypi", r.name, r.specifier, pypi_purl(r.name, ""), loc, r.name, "")
        for e in (e for e in exposures if e.whole_range):
            a = e.advisory
            out.append(
                vulnerability_finding(
                    pkg,
                    a.id,
                    a.aliases,
                    e.fixed_versions,
                    f"{a.summary} (every version {r.name} {r.specifier or '(any)'} allows is "
                    "affected)",
                    a.severity,
                    {"source": "osv-offline", "pinned": False, "affected_range": True},
                    unknown_severity=unknown_severity,
                )
            )
        partial = [e for e in exposures if not e.whole_range]
        if partial or not any(e.whole_range for e in exposures):
            out.append(_unpinned_finding(pkg, r, partial))
    return out


def _unpinned_finding(
    pkg: AuditPackage, r: DeclaredRequirement, partial: list[RangeExposure]
) -> Finding:
    def shown(e: RangeExposure) -> str:
        versions = e.affected_in_range
        span = (
            f"{versions[0]} to {versions[-1]}" if len(versions) > 1 else "".join(versions)
        ) or "some versions in range"
        fix = f", fixed in {', '.join(e.fixed_versions)}" if e.fixed_versions else ""
        return f"{e.advisory.id} ({span}{fix})"

    if partial:
        risk = (
            f"{len(partial)} advisor{'y' if len(partial) == 1 else 'ies'} affect versions it "
            f"allows: {'; '.join(shown(e) for e in partial[:5])}"
            + (f" and {len(partial) - 5} more" if len(partial) > 5 else "")
            + ". Pin it (==) to a fixed version"
        )
    else:
        risk = "no known advisory affects the versions it allows. Pin it (==)"
    return unpinned_finding(
        r, pkg.location, f"a build installs whatever the index offers that day; {risk}", partial
    )


def unpinned_finding(
    r: DeclaredRequirement,
    location: Location,
    consequence: str,
    partial: list[RangeExposure] | tuple[()] = (),
) -> Finding:
    """The one ``vulns.unpinned-requirement`` finding of a requirement (low)."""
    return Finding.create(
        rule_id="vulns.unpinned-requirement",
        category=Category.VULNERABILITY,
        severity=Severity.LOW,
        message=(
            f"{r.name} {r.specifier or '(any version)'} is not pinned to one version, so "
            f"{consequence}"
        ),
        location=location,
        # The evidence leaves the advisories out: a waiver must outlive a database update.
        evidence=f"unpinned:{r.name}",
        title="Requirement not pinned to one version",
        properties={
            "package": r.name,
            "version": r.specifier,
            "ecosystem": "pypi",
            "vulnerability_id": "unpinned-requirement",
            "aliases": [e.advisory.id for e in partial],
            "fixed_versions": sorted(
                {f for e in partial for f in e.fixed_versions}, key=_sort_version
            ),
            "advisories": [
                {
                    "id": e.advisory.id,
                    "affected_in_range": list(e.affected_in_range),
                    "fixed_versions": list(e.fixed_versions),
                }
                for e in partial
            ],
            "pinned": False,
        },
    )


def unpinned_online(reqs: list[DeclaredRequirement], artifact: str) -> list[Output]:
    """Online (pip-audit) answers for one version only: say so, per requirement."""
    return [
        unpinned_finding(
            r,
            Location(artifact, r.path, r.line),
            "it was not audited: the online service checks one version at a time. Pin it (==), "
            "or scan with an offline database (--vuln-db) to see which versions in its range "
            "are affected",
        )
        for r in reqs
    ]
