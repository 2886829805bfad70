"""The one adapter around pip-audit's (private, pinned: 2.10.1) vulnerability services.

pip-audit declares ``pip_audit._service`` private, so it is pinned exactly in pyproject.toml
and only this module touches it. The adapter also closes pip-audit's silent gap: a dependency
that its service skips (PyPI answers 404, as it does for the JSON API on some networks) or a
network error is returned as an *error* for that package, never as "no vulnerabilities".

Example::

    for r in audit([("urllib3", "1.24.1")], service="pypi", cache_dir=tmp):
        print(r.name, r.error or [v.id for v in r.vulnerabilities])
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PIP_AUDIT_VERSION", "AuditResult", "AuditedVulnerability", "audit"]

PIP_AUDIT_VERSION = "2.10.1"


@dataclass(frozen=True, slots=True)
class AuditedVulnerability:
    """One vulnerability pip-audit reported for a package."""

    id: str
    aliases: tuple[str, ...]
    fixed_versions: tuple[str, ...]
    summary: str


@dataclass(frozen=True, slots=True)
class AuditResult:
    """The outcome for one package: its vulnerabilities, or why it could not be audited."""

    name: str
    version: str
    vulnerabilities: tuple[AuditedVulnerability, ...] = ()
    error: str | None = None


def _check_version() -> None:
    from importlib.metadata import version

    found = version("pip-audit")
    if found != PIP_AUDIT_VERSION:
        # The private API this adapter uses may differ in another release: refuse, loudly.
        raise RuntimeError(
            f"pip-audit {found} is installed; this adapter wraps {PIP_AUDIT_VERSION}"
        )


def audit(
    packages: Iterable[tuple[str, str]],
    *,
    service: str = "pypi",
    cache_dir: Path | None = None,
    timeout: int = 15,
) -> list[AuditResult]:
    """Audit (name, version) pairs online with pip-audit's PyPI or OSV service.

    After a connection failure every remaining package gets the same error without another
    attempt: the network is down, and hundreds of time-outs would only delay the verdict.
    """
    _check_version()
    import requests
    from packaging.version import InvalidVersion, Version
    from pip_audit._service import (
        ConnectionError as PAConnectionError,
    )
    from pip_audit._service import (
        OsvService,
        PyPIService,
        ResolvedDependency,
        ServiceError,
        SkippedDependency,
    )

    svc = (
        OsvService(cache_dir=cache_dir, timeout=timeout)
        if service == "osv"
        else PyPIService(cache_dir=cache_dir, timeout=timeout)
    )
    out: list[AuditResult] = []
    down: str | None = None
    for name, version in packages:
        if down is not None:
            out.append(AuditResult(name, version, error=down))
            continue
        try:
            dep = ResolvedDependency(name=name, version=Version(version))
        except InvalidVersion:
            out.append(AuditResult(name, version, error=f"version {version!r} is not PEP 440"))
            continue
        try:
            got, vulns = svc.query(dep)
        except PAConnectionError as exc:
            down = f"pip-audit ({service}) could not connect: {exc}"
            out.append(AuditResult(name, version, error=down))
            continue
        except (requests.ConnectionError, requests.Timeout) as exc:
            # pip-audit 2.10.1 lets these escape its PyPI service unwrapped
            down = f"pip-audit ({service}) could not connect: {type(exc).__name__}: {exc}"
            out.append(AuditResult(name, version, error=down))
            continue
        except (ServiceError, requests.RequestException) as exc:
            cause = exc.__cause__ or exc
            reason = f"pip-audit ({service}) failed: {type(cause).__name__}: {cause}"
            if "connect" in str(cause).lower() or "resolve" in str(cause).lower():
                down = reason
            out.append(AuditResult(name, version, error=reason))
            continue
        if isinstance(got, SkippedDependency):
            out.append(AuditResult(name, version, error=f"pip-audit skipped it: {got.skip_reason}"))
            continue
        out.append(
            AuditResult(
                name,
                version,
                tuple(
                    AuditedVulnerability(
                        id=str(v.id),
                        aliases=tuple(sorted(str(a) for a in v.aliases)),
                        fixed_versions=tuple(str(f) for f in v.fix_versions),
                        summary=" ".join(str(v.description).split())[:300],
                    )
                    for v in vulns
                ),
            )
        )
    return out
