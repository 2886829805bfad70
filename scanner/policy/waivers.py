"""Waivers and baselines: which findings a team has accepted, by whom, why and until when.

Applying them is pure: the caller passes ``today``. A waiver is valid through its ``expires``
day; after that it stops waiving and is reported as expired. An unexpired waiver that matched
no finding is reported as stale so that dead waivers get cleaned up.

Example::

    waivers = load_waivers(Path("waivers.yaml"))
    findings, uses = apply_waivers(report.findings, waivers, today=date(2026, 1, 1))
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import fnmatch
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from scanner.errors import PolicyError
from scanner.models import Finding, WaiverUse, frozen_mapping
from scanner.policy._yaml import YamlDocument, load_yaml
from scanner.policy.errors import validation_error
from scanner.policy.schema import WaiversFile, WaiverSpec

__all__ = [
    "Waiver",
    "apply_baseline",
    "apply_waivers",
    "load_baseline",
    "load_waivers",
    "waivers_from_specs",
]


def _norm_package(name: str) -> str:
    # PEP 503 normalisation, so "PyYAML", "pyyaml" and "py_yaml" waive the same package.
    return re.sub(r"[-_.]+", "-", name).lower()


def _vuln_ids(finding: Finding) -> set[str]:
    """A finding's vulnerability id and aliases, upper-cased (empty for other findings)."""
    props = finding.properties
    ids = {str(props.get("vulnerability_id") or "").upper()}
    aliases = props.get("aliases") or ()
    if isinstance(aliases, list | tuple):
        ids.update(str(a).upper() for a in aliases)
    ids.discard("")
    return ids


@dataclass(frozen=True, slots=True)
class Waiver:
    """A validated waiver and where it was written (``file:line``)."""

    id: str
    reason: str
    owner: str
    expires: dt.date
    source: str
    fingerprint: str | None = None
    rule: str | None = None
    package: str | None = None
    vulnerability: str | None = None
    path: str | None = None
    # True when the waiver gave no scope but its id: the id is then matched against the
    # finding's fingerprint, rule id and vulnerability id/aliases ("id/fingerprint").
    id_scope: bool = False

    def is_expired(self, today: dt.date) -> bool:
        """Expired from the day after ``expires``."""
        return today > self.expires

    def matches(self, finding: Finding) -> bool:
        """Whether every scope this waiver sets matches ``finding`` (scopes are ANDed)."""
        if self.fingerprint is not None and finding.fingerprint != self.fingerprint:
            return False
        if self.rule is not None and not fnmatch.fnmatchcase(finding.rule_id, self.rule):
            return False
        props = finding.properties
        if self.id_scope and not self._id_matches(finding):
            return False
        if self.package is not None:
            pkg = props.get("package")
            if not isinstance(pkg, str) or _norm_package(pkg) != _norm_package(self.package):
                return False
        if self.vulnerability is not None and self.vulnerability.upper() not in _vuln_ids(finding):
            return False
        return self.path is None or fnmatch.fnmatchcase(finding.location.path, self.path)

    def _id_matches(self, finding: Finding) -> bool:
        return (
            self.id == finding.fingerprint
            or self.id == finding.rule_id
            or self.id.upper() in _vuln_ids(finding)
        )

    def use(self, status: str, fingerprints: Iterable[str]) -> WaiverUse:
        """A record of what this waiver did, for the verdict."""
        return WaiverUse(
            id=self.id,
            status=status,
            reason=self.reason,
            owner=self.owner,
            expires=self.expires.isoformat(),
            source=self.source,
            fingerprints=tuple(sorted(set(fingerprints))),
        )


def waivers_from_specs(
    specs: Sequence[WaiverSpec], doc: YamlDocument | None, path_prefix: tuple[str | int, ...]
) -> tuple[Waiver, ...]:
    """Turn validated specs into Waivers, naming each by its id or its ``file:line``."""
    out: list[Waiver] = []
    seen: dict[str, str] = {}
    for i, spec in enumerate(specs):
        source_name = doc.source if doc else "(inline)"
        line = doc.line((*path_prefix, i)) if doc else None
        where = f"{source_name}:{line}" if line else source_name
        wid = spec.id or f"{Path(source_name).name}:{line or i + 1}"
        if wid in seen:
            raise PolicyError(f"{where}: waiver id {wid!r} is already used at {seen[wid]}")
        seen[wid] = where
        out.append(
            Waiver(
                id=wid,
                reason=spec.reason,
                owner=spec.owner,
                expires=spec.expires,
                source=where,
                fingerprint=spec.fingerprint,
                rule=spec.rule,
                package=spec.package,
                vulnerability=spec.vulnerability,
                path=spec.path,
                id_scope=not (spec.fingerprint or spec.rule or spec.package or spec.vulnerability),
            )
        )
    return tuple(out)


def parse_waivers(raw: bytes, source: str) -> tuple[Waiver, ...]:
    """Parse a waivers file's bytes (``waivers: [...]`` or a bare list)."""
    doc = load_yaml(raw, source)
    data = doc.data
    prefix: tuple[str | int, ...] = ("waivers",)
    if isinstance(data, list):
        data = {"waivers": data}
        doc = YamlDocument(data, source, {("waivers", *k): v for k, v in doc.lines.items()})
    if not isinstance(data, dict):
        raise PolicyError(f"{source}: a waivers file holds 'waivers:' with a list of waivers")
    try:
        parsed = WaiversFile.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, doc) from None
    return waivers_from_specs(parsed.waivers, doc, prefix)


def load_waivers(path: Path) -> tuple[Waiver, ...]:
    """Read and validate a waivers file."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read waivers file: {exc.strerror or exc}") from exc
    return parse_waivers(raw, str(path))


def _mark(finding: Finding, waived: bool, extra: Mapping[str, Any] | None) -> Finding:
    props = {k: v for k, v in finding.properties.items() if k not in ("waiver", "baseline")}
    if extra:
        props.update(extra)
    return dataclasses.replace(finding, waived=waived, properties=frozen_mapping(props))


def apply_waivers(
    findings: Sequence[Finding], waivers: Sequence[Waiver], *, today: dt.date
) -> tuple[tuple[Finding, ...], tuple[WaiverUse, ...]]:
    """Mark the findings that valid waivers cover; report every waiver's use.

    The first valid waiver (in the order given) that matches a finding waives it. Expired
    waivers never waive; they are reported with the findings they would have covered.
    """
    matched: dict[str, list[str]] = {w.id: [] for w in waivers}
    out: list[Finding] = []
    for f in findings:
        by: Waiver | None = None
        for w in waivers:
            if w.matches(f):
                matched[w.id].append(f.fingerprint)
                if by is None and not w.is_expired(today):
                    by = w
        if by is None:
            out.append(f if not f.waived else _mark(f, False, None))
        else:
            out.append(
                _mark(
                    f,
                    True,
                    {
                        "waiver": {
                            "id": by.id,
                            "reason": by.reason,
                            "owner": by.owner,
                            "expires": by.expires.isoformat(),
                        }
                    },
                )
            )
    uses: list[WaiverUse] = []
    for w in waivers:
        fps = matched[w.id]
        if w.is_expired(today):
            status = "expired"
        elif fps:
            status = "applied"
        else:
            status = "stale"
        uses.append(w.use(status, fps))
    # Natural order, so ids named by their line ("waivers.yaml:2" before ":10") read in file order.
    return tuple(out), tuple(sorted(uses, key=lambda u: (u.status, _natural(u.id))))


def _natural(text: str) -> tuple[tuple[int, int | str], ...]:
    """A sort key that compares runs of digits as numbers."""
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"(\d+)", text) if p)


def load_baseline(path: Path) -> frozenset[str]:
    """The finding fingerprints of an earlier JSON report (``scan --baseline``)."""
    try:
        data = json.loads(path.read_bytes())
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read baseline report: {exc.strerror or exc}") from exc
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise PolicyError(f"{path}: baseline is not a JSON report") from exc
    findings = data.get("findings") if isinstance(data, dict) else None
    if not isinstance(data, dict) or "schema_version" not in data or not isinstance(findings, list):
        raise PolicyError(
            f"{path}: baseline is not a panorama-gate JSON report (no schema_version/findings)"
        )
    out: set[str] = set()
    for i, f in enumerate(findings):
        fp = f.get("fingerprint") if isinstance(f, dict) else None
        if not isinstance(fp, str) or not fp:
            raise PolicyError(f"{path}: findings[{i}] has no fingerprint")
        out.add(fp)
    return frozenset(out)


def apply_baseline(findings: Sequence[Finding], baseline: frozenset[str]) -> tuple[Finding, ...]:
    """Accept (mark waived) the findings whose fingerprint the baseline already had.

    Findings that a waiver already covers keep their waiver; the baseline only adds.
    """
    out: list[Finding] = []
    for f in findings:
        if not f.waived and f.fingerprint in baseline:
            out.append(_mark(f, True, {"baseline": True}))
        else:
            out.append(f)
    return tuple(out)
