"""``vulns``: known vulnerabilities of the inventoried packages, online or from an offline OSV DB.

- With ``--vuln-db DIR`` (option ``vuln_db``): PyPI packages and Debian/Ubuntu packages are
  matched against the offline OSV records (Debian/Ubuntu by *source* package and version, with
  dpkg's version ordering). The database's age is reported (an info finding); older than
  ``max_db_age_days`` is a ``vulns.database-stale`` finding.
- Online without a database: PyPI packages through pip-audit (``service: pypi|osv``); OS
  packages cannot be audited online and need the offline database.

Requirements declared but not pinned to one version (an unbuilt code package's
``requirements.txt`` or ``pip install x`` line) are judged as ranges: advisories affecting every
version the range allows are vulnerabilities like any other; advisories affecting only some
make the requirement's one low ``vulns.unpinned-requirement`` finding name them (every unpinned
requirement has that finding: a build of it is not reproducible; ``_requirement_ranges``).

Fail closed: every package that could not be audited (no data for its ecosystem, a network
error, pip-audit skipping it, a version that cannot be ordered) is an ``AnalyzerFailure``,
which makes the verdict incomplete. ``os_packages: skip`` in the policy's
``vulnerabilities:`` section is the one explicit opt-out (OS packages are then *skipped*,
recorded as such, instead of failing).

Options (the policy's ``vulnerabilities:`` section plus ``vuln_db`` from the CLI):
``vuln_db``, ``max_db_age_days`` (default 7), ``stale_severity`` (default ``high``),
``unknown_severity`` for advisories that state none (default ``medium``), ``service``,
``os_packages`` (``audit`` | ``skip``), ``timeout`` (seconds, online).
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scanner.analyzers._inventory import (
    ComponentSet,
    DeclaredRequirement,
    Inventory,
    OsRelease,
    canonical_name,
    deb_purl,
    declared_only,
    pypi_purl,
)
from scanner.analyzers._vuln_findings import (
    AuditPackage,
    audit_unpinned,
    unpinned_online,
    vulnerability_finding,
)
from scanner.analyzers.interface import AnalyzerContext, ComponentAnalyzer, Output
from scanner.errors import ConfigError
from scanner.models import AnalyzerFailure, Category, Finding, Location, Severity, Skipped
from scanner.vulndb import OsvDatabase, VulnDbError

if TYPE_CHECKING:
    from scanner.sources.interface import SourceArtifact

__all__ = ["VulnsAnalyzer", "deb_ecosystems"]


def deb_ecosystems(os_release: OsRelease, available: Iterable[str]) -> list[str]:
    """OSV ecosystems of a Debian/Ubuntu release among ``available`` ones.

    Debian: ``Debian:<major>``. Ubuntu: ``Ubuntu:<VERSION_ID>`` with or without ``:LTS``; the
    ``Ubuntu:Pro:*`` ecosystems describe ESM packages and are left out.
    """
    out: list[str] = []
    if os_release.id == "debian":
        major = os_release.version_id.split(".", 1)[0]
        out = [e for e in available if e == f"Debian:{major}"]
    elif os_release.id == "ubuntu":
        for e in available:
            parts = e.split(":")
            if parts[0] == "Ubuntu" and "Pro" not in parts and os_release.version_id in parts[1:]:
                out.append(e)
    return sorted(out)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _severity_option(options: Any, key: str, default: str) -> Severity:
    try:
        return Severity.parse(str(options.get(key, default)))
    except ValueError as exc:
        raise ConfigError(f"policy vulnerabilities.{key}: {exc}") from exc


class VulnsAnalyzer(ComponentAnalyzer):
    """Vulnerability matching of Python and dpkg packages (offline OSV DB or pip-audit)."""

    name = "vulns"
    version = 2
    tags = frozenset({"deps", "vulnerability"})

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self.db: OsvDatabase | None = None
        self._db_reported = False
        self.now: Callable[[], datetime] = _utcnow  # injectable clock (tests)

    def configure(self, ctx: AnalyzerContext) -> None:
        """Validate options and open the offline database (``VulnDbError``: exit 2)."""
        super().configure(ctx)
        opts = ctx.options
        self.max_age = float(opts.get("max_db_age_days", 7))
        self.stale_severity = _severity_option(opts, "stale_severity", "high")
        self.unknown_severity = _severity_option(opts, "unknown_severity", "medium")
        self.service = str(opts.get("service", "pypi"))
        if self.service not in ("pypi", "osv"):
            raise ConfigError(f"policy vulnerabilities.service: {self.service!r} (pypi | osv)")
        self.os_packages = str(opts.get("os_packages", "audit"))
        if self.os_packages not in ("audit", "skip"):
            raise ConfigError(
                f"policy vulnerabilities.os_packages: {self.os_packages!r} (audit | skip)"
            )
        self.timeout = int(opts.get("timeout", 15))
        db = opts.get("vuln_db")
        self.db = OsvDatabase(Path(str(db))) if db else None

    def cache_token(self) -> str:
        """The database's content fingerprint and today's date.

        The config digest holds only the database's *path*: an updated database (or a new
        day's pip-audit answers and database age) must never be served stale cached results.
        """
        token = f"{self.now().date()}:{self.service}:"
        return token + (self.db.fingerprint() if self.db is not None else "online")

    def analyze_components(
        self, components: ComponentSet, artifact: SourceArtifact
    ) -> Iterable[Output]:
        """Audit every package of one artifact's inventory."""
        return list(self.audit_inventory(components.inventory))

    # -- the audit ------------------------------------------------------------------------

    def audit_inventory(self, inv: Inventory) -> Iterable[Output]:
        """Findings and failures for one artifact's inventory."""
        out: list[Output] = []
        pypi = [
            AuditPackage(
                "pypi",
                d.name,
                d.version,
                pypi_purl(d.name, d.version),
                Location(inv.artifact, d.path),
                canonical_name(d.name),
                d.version,
            )
            for d in inv.dists
        ]
        unpinned: list[DeclaredRequirement] = []
        for r in declared_only(inv):
            loc = Location(inv.artifact, r.path, r.line)
            if not r.version:
                unpinned.append(r)
                continue
            pypi.append(
                AuditPackage(
                    "pypi", r.name, r.version, pypi_purl(r.name, r.version), loc, r.name, r.version
                )
            )
        debs = [
            AuditPackage(
                "deb",
                p.name,
                p.version,
                deb_purl(p, inv.os_release),
                Location(inv.artifact, p.path),
                p.source,
                p.source_version,
            )
            for p in inv.debs
        ]
        if not pypi and not debs and not unpinned:
            return out
        if self.db is not None:
            out.extend(
                audit_unpinned(
                    self.db,
                    unpinned,
                    inv.artifact,
                    analyzer=self.name,
                    unknown_severity=self.unknown_severity,
                )
            )
            out.extend(self._offline_pypi(pypi, inv.artifact))
            out.extend(self._offline_debs(debs, inv))
            # after matching: a database without metadata is dated by its loaded records
            out.extend(self._db_facts(inv.artifact))
        else:
            out.extend(unpinned_online(unpinned, inv.artifact))
            out.extend(self._online_pypi(pypi, inv.artifact))
            out.extend(self._no_db_debs(debs, inv.artifact))
        return out

    def _db_facts(self, artifact: str) -> list[Output]:
        assert self.db is not None
        with self._lock:
            if self._db_reported:
                return []
            self._db_reported = True
        age = self.db.age_days(self.now())
        fetched = self.db.fetched_at()
        where = Location(artifact, "")
        props = {
            "database": str(self.db.root),
            "fetched_at": fetched.isoformat() if fetched else None,
            "age_days": round(age, 2) if age is not None else None,
            "max_age_days": self.max_age,
            # The contract's fields for every vulnerability finding, describing the database
            # itself, so tools that read vulnerability findings by these keys keep working.
            "package": "osv-database",
            "version": fetched.date().isoformat() if fetched else "unknown",
            "aliases": (),
            "fixed_versions": (),
        }
        out: list[Output] = [
            Finding.create(
                rule_id="vulns.database-age",
                category=Category.VULNERABILITY,
                severity=Severity.INFO,
                message=(
                    f"offline vulnerability database {self.db.root} is "
                    + (f"{age:.1f} days old" if age is not None else "of unknown age")
                ),
                location=where,
                evidence=str(self.db.root),
                title="Vulnerability database age",
                properties={**props, "vulnerability_id": "database-age"},
            )
        ]
        if age is None or age > self.max_age:
            out.append(
                Finding.create(
                    rule_id="vulns.database-stale",
                    category=Category.VULNERABILITY,
                    severity=self.stale_severity,
                    message=(
                        "offline vulnerability database is "
                        + (f"{age:.1f} days old" if age is not None else "of unknown age")
                        + f", older than the policy's {self.max_age:g} days; run "
                        "`panorama-gate vulndb update`"
                    ),
                    location=where,
                    evidence=str(self.db.root),
                    title="Stale vulnerability database",
                    properties={**props, "vulnerability_id": "database-stale"},
                )
            )
        return out

    def _finding(
        self,
        pkg: AuditPackage,
        vid: str,
        aliases: Iterable[str],
        fixed: Iterable[str],
        summary: str,
        severity: Severity | None,
        extra: dict[str, Any],
    ) -> Finding:
        return vulnerability_finding(
            pkg,
            vid,
            aliases,
            fixed,
            summary,
            severity,
            extra,
            unknown_severity=self.unknown_severity,
        )

    def _offline_pypi(self, pkgs: list[AuditPackage], artifact: str) -> list[Output]:
        assert self.db is not None
        if not pkgs:
            return []
        if not self.db.has("PyPI"):
            return [
                AnalyzerFailure(
                    self.name,
                    f"{len(pkgs)} Python package(s) not audited: the database {self.db.root} "
                    "has no PyPI records",
                    Location(artifact, ""),
                )
            ]
        try:
            self.db.load(["PyPI"])
        except VulnDbError as exc:
            return [AnalyzerFailure(self.name, exc.diagnostics(), Location(artifact, ""))]
        return self._match(pkgs, ["PyPI"], "osv-offline")

    def _match(self, pkgs: list[AuditPackage], ecosystems: list[str], source: str) -> list[Output]:
        assert self.db is not None
        out: list[Output] = []
        for pkg in pkgs:
            seen: set[str] = set()
            for eco in ecosystems:
                try:
                    matches = self.db.query(eco, pkg.query_name, pkg.query_version)
                except ValueError as exc:
                    out.append(
                        AnalyzerFailure(
                            self.name, f"{pkg.name} {pkg.version} not audited: {exc}", pkg.location
                        )
                    )
                    break
                for m in matches:
                    if m.advisory.id in seen:
                        continue
                    seen.add(m.advisory.id)
                    a = m.advisory
                    extra: dict[str, Any] = {
                        "source": source,
                        "osv_ecosystem": eco,
                        "severity_source": a.severity_source,
                        "modified": a.modified,
                    }
                    if a.score is not None:
                        extra["cvss_score"] = a.score
                    if a.url:
                        extra["url"] = a.url
                    if pkg.query_name != pkg.name:
                        extra["source_package"] = pkg.query_name
                    out.append(
                        self._finding(
                            pkg, a.id, a.aliases, m.fixed_versions, a.summary, a.severity, extra
                        )
                    )
        return out

    def _offline_debs(self, pkgs: list[AuditPackage], inv: Inventory) -> list[Output]:
        assert self.db is not None
        if not pkgs:
            return []
        where = Location(inv.artifact, pkgs[0].location.path)
        if self.os_packages == "skip":
            return [Skipped(self.name, f"{len(pkgs)} OS package(s) not audited (policy)", where)]
        osr = inv.os_release
        if osr is None or osr.id not in ("debian", "ubuntu") or not osr.version_id:
            return [
                AnalyzerFailure(
                    self.name,
                    f"{len(pkgs)} dpkg package(s) not audited: cannot tell the Debian/Ubuntu "
                    "release (no usable etc/os-release)",
                    where,
                )
            ]
        base = "Debian" if osr.id == "debian" else "Ubuntu"
        try:
            if self.db.has(base):
                self.db.load([base])
        except VulnDbError as exc:
            return [AnalyzerFailure(self.name, exc.diagnostics(), where)]
        ecosystems = deb_ecosystems(osr, self.db.ecosystems())
        if not ecosystems:
            return [
                AnalyzerFailure(
                    self.name,
                    f"{len(pkgs)} dpkg package(s) not audited: the database {self.db.root} has "
                    f"no {base} {osr.version_id} records",
                    where,
                )
            ]
        return self._match(pkgs, ecosystems, "osv-offline")

    def _no_db_debs(self, pkgs: list[AuditPackage], artifact: str) -> list[Output]:
        if not pkgs:
            return []
        where = Location(artifact, pkgs[0].location.path)
        reason = f"{len(pkgs)} OS package(s) not audited"
        if self.os_packages == "skip":
            return [Skipped(self.name, f"{reason} (policy)", where)]
        return [
            AnalyzerFailure(
                self.name,
                f"{reason}: Debian/Ubuntu packages are audited only against an offline OSV "
                "database (--vuln-db DIR; `panorama-gate vulndb update` makes one)",
                where,
            )
        ]

    def _online_pypi(self, pkgs: list[AuditPackage], artifact: str) -> list[Output]:
        if not pkgs:
            return []
        config = self.ctx.config
        if config is not None and config.offline:
            return [
                AnalyzerFailure(
                    self.name,
                    f"{len(pkgs)} Python package(s) not audited: --offline needs an offline "
                    "vulnerability database (--vuln-db DIR)",
                    Location(artifact, ""),
                )
            ]
        from scanner.analyzers._pip_audit import audit

        cache = self.ctx.work_dir / "pip-audit-cache" if self.ctx.work_dir else None
        with tempfile.TemporaryDirectory(prefix="pg-pip-audit-") as tmp:
            results = audit(
                [(p.name, p.version) for p in pkgs],
                service=self.service,
                cache_dir=cache or Path(tmp),
                timeout=self.timeout,
            )
        out: list[Output] = []
        for pkg, res in zip(pkgs, results, strict=True):
            if res.error is not None:
                out.append(
                    AnalyzerFailure(
                        self.name,
                        f"{pkg.name} {pkg.version} not audited: {res.error}",
                        pkg.location,
                    )
                )
                continue
            out.extend(
                self._finding(
                    pkg,
                    v.id,
                    v.aliases,
                    v.fixed_versions,
                    v.summary,
                    None,
                    {"source": f"pip-audit:{self.service}"},
                )
                for v in res.vulnerabilities
            )
        return out
