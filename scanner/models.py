"""Core data types shared by every layer of panorama-gate.

Everything here is a frozen, slotted dataclass or an enum, imports only the standard library, and
carries no behaviour beyond small derived properties. Collections are tuples so that values are
hashable and comparisons are exact.

Example::

    from scanner.models import Finding, Location, Severity, Category
    f = Finding.create(
        rule_id="secrets.aws-access-key-id",
        category=Category.SECRET,
        severity=Severity.CRITICAL,
        message="AWS access key id AKIA…(20) in app config",
        location=Location("code.tar.gz", "panorama/app.py", 3),
        evidence="AKIA…(20)",
    )
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from types import MappingProxyType
from typing import Any

__all__ = [
    "AnalyzerFailure",
    "Artifact",
    "ArtifactKind",
    "Category",
    "Component",
    "Decision",
    "Digest",
    "Finding",
    "Layer",
    "Location",
    "Reason",
    "Report",
    "ResourceProfile",
    "Severity",
    "Skipped",
    "Target",
    "TargetKind",
    "Timing",
    "Timings",
    "Verdict",
    "WaiverUse",
    "frozen_mapping",
]


def frozen_mapping(data: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
    """Return a read-only copy of ``data`` (values are not deep-copied)."""
    return MappingProxyType(dict(data or {}))


_EMPTY: Mapping[str, Any] = MappingProxyType({})


def _empty_mapping() -> Mapping[str, Any]:
    return _EMPTY


class Severity(IntEnum):
    """Ordered severity: policy thresholds are plain comparisons."""

    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @property
    def label(self) -> str:
        """Lower-case name as written in reports and policies."""
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        """Parse a severity name, case-insensitively; raises ``ValueError`` on anything else."""
        try:
            return cls[text.strip().upper()]
        except KeyError:
            names = ", ".join(s.label for s in cls)
            raise ValueError(f"unknown severity {text!r} (expected one of: {names})") from None


class Category(StrEnum):
    """Finding categories from the report contract."""

    INTEGRITY = "integrity"
    ARCHIVE = "archive"
    MANIFEST = "manifest"
    PRIVACY = "privacy"
    SECRET = "secret"  # noqa: S105 - a category name, not a password
    CODE = "code"
    VULNERABILITY = "vulnerability"
    LICENSE = "license"
    MODEL = "model"
    CONTAINER = "container"
    RESOURCE = "resource"


class TargetKind(StrEnum):
    """What a scan TARGET turned out to be (sniffed from content)."""

    PROJECT = "project"
    CODE_PACKAGE = "code-package"
    CONTAINER = "container"
    MODEL = "model"


class ArtifactKind(StrEnum):
    """What one artifact of a target is."""

    CONTAINER = "container"
    MODEL = "model"
    DESCRIPTOR = "descriptor"
    CODE = "code"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Digest:
    """A content digest; ``algorithm`` is a hashlib name such as ``sha256``."""

    algorithm: str
    value: bytes

    @property
    def hex(self) -> str:
        """Lower-case hexadecimal value."""
        return self.value.hex()

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"

    @classmethod
    def sha256_of(cls, data: bytes) -> Digest:
        """SHA-256 of a byte string."""
        return cls("sha256", hashlib.sha256(data).digest())

    @classmethod
    def from_hex(cls, hexvalue: str, algorithm: str = "sha256") -> Digest:
        """Build from a hexadecimal string (``ValueError`` if it is not hex)."""
        return cls(algorithm, bytes.fromhex(hexvalue))


@dataclass(frozen=True, slots=True)
class Layer:
    """One layer of a container artifact; a docker-export rootfs has exactly one."""

    index: int
    diff_id: Digest | None
    size: int


@dataclass(frozen=True, slots=True)
class Artifact:
    """One scannable thing inside a target: a container asset, a model archive, a manifest."""

    kind: ArtifactKind
    name: str
    path: str
    digest: Digest | None
    size: int
    package: str | None = None
    layers: tuple[Layer, ...] = ()
    media_type: str = ""
    # facts the walk established about the artifact as a whole (e.g. ``files``: how many of
    # its files packages own and how many still match what their package installed)
    properties: Mapping[str, Any] = field(default_factory=_empty_mapping, hash=False)


@dataclass(frozen=True, slots=True, order=True)
class Location:
    """Where a finding is: artifact name, POSIX path inside it (no leading ``/``), line."""

    artifact: str
    path: str = ""
    line: int | None = None
    layer: str | None = None

    def sort_key(self) -> tuple[str, str, int, str]:
        """A total order that tolerates ``None`` values."""
        return (self.artifact, self.path, self.line or 0, self.layer or "")

    def __str__(self) -> str:
        text = self.artifact
        if self.path:
            text += f"!{self.path}" if text else self.path
        if self.line is not None:
            text += f":{self.line}"
        return text


def fingerprint_of(rule_id: str, location: Location, evidence: str) -> str:
    """Stable fingerprint from rule, artifact, path and evidence; the line is left out on purpose.

    Lines move when code is edited; baselines and waivers must keep matching, so only the
    file and a non-secret description of the evidence identify a finding.
    """
    h = hashlib.sha256()
    for part in (rule_id, location.artifact, location.path, evidence):
        h.update(part.encode("utf-8", "surrogateescape"))
        h.update(b"\x00")
    return h.hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem found in a target; never holds a secret's value."""

    rule_id: str
    category: Category
    severity: Severity
    message: str
    location: Location
    fingerprint: str
    analyzer: str = ""
    title: str = ""
    cwe: int | None = None
    waived: bool = False
    properties: Mapping[str, Any] = field(default_factory=_empty_mapping, hash=False)

    @classmethod
    def create(
        cls,
        *,
        rule_id: str,
        category: Category,
        severity: Severity,
        message: str,
        location: Location,
        evidence: str = "",
        title: str = "",
        cwe: int | None = None,
        properties: Mapping[str, Any] | None = None,
    ) -> Finding:
        """Build a finding, deriving the analyzer from the rule id and the fingerprint."""
        return cls(
            rule_id=rule_id,
            category=category,
            severity=severity,
            message=message,
            location=location,
            fingerprint=fingerprint_of(rule_id, location, evidence),
            analyzer=rule_id.split(".", 1)[0],
            title=title,
            cwe=cwe,
            properties=frozen_mapping(properties),
        )

    def sort_key(self) -> tuple[tuple[str, str, int, str], str, int, str]:
        """Deterministic report order: location, rule, severity (high first), fingerprint."""
        return (self.location.sort_key(), self.rule_id, -int(self.severity), self.fingerprint)


@dataclass(frozen=True, slots=True)
class Component:
    """A third-party package found in an artifact."""

    name: str
    version: str
    ecosystem: str
    purl: str
    location: Location
    licenses: tuple[str, ...] = ()
    properties: Mapping[str, Any] = field(default_factory=_empty_mapping, hash=False)

    def sort_key(self) -> tuple[str, str, str, tuple[str, str, int, str]]:
        """Deterministic report order."""
        return (self.ecosystem, self.name.lower(), self.version, self.location.sort_key())


@dataclass(frozen=True, slots=True)
class AnalyzerFailure:
    """An analyzer could not finish its work on a location: errors kept as data, never swallowed."""

    analyzer: str
    reason: str
    location: Location | None = None

    def sort_key(self) -> tuple[str, tuple[str, str, int, str], str]:
        """Deterministic report order."""
        loc = self.location.sort_key() if self.location else ("", "", 0, "")
        return (self.analyzer, loc, self.reason)


@dataclass(frozen=True, slots=True)
class Skipped:
    """Something an analyzer deliberately did not look at, with the reason."""

    analyzer: str
    reason: str
    location: Location | None = None


@dataclass(frozen=True, slots=True)
class ArtifactFacts:
    """Facts about a whole artifact found while walking it; merged into ``Artifact.properties``."""

    artifact: str
    facts: Mapping[str, Any] = field(default_factory=_empty_mapping, hash=False)


@dataclass(frozen=True, slots=True)
class ResourceProfile:
    """What the sandboxed run of the application used."""

    ran: bool
    reason: str = ""
    sandbox: str = ""
    cpu_seconds: float | None = None
    cpu_percent: float | None = None
    peak_memory_bytes: int | None = None
    disk_written_bytes: int | None = None
    max_processes: int | None = None
    network_attempts: int | None = None
    exit_code: int | None = None
    oom_killed: bool | None = None
    frames_processed: int | None = None
    wall_seconds: float | None = None
    emulated: bool = False
    properties: Mapping[str, Any] = field(default_factory=_empty_mapping, hash=False)


@dataclass(frozen=True, slots=True)
class Target:
    """The scanned TARGET as detected."""

    path: str
    kind: TargetKind
    name: str = ""
    version: str = ""


class Decision(StrEnum):
    """The gate's three outcomes."""

    APPROVED = "approved"
    REJECTED = "rejected"
    INCOMPLETE = "incomplete"


@dataclass(frozen=True, slots=True)
class Reason:
    """Why the verdict is what it is, pointing at the findings or failures behind it."""

    code: str
    message: str
    fingerprints: tuple[str, ...] = ()
    failures: tuple[int, ...] = ()
    # What this reason did: "incomplete" or "reject" decided the verdict; "warning" and
    # "info" did not. Defaults to "info" so that older constructors keep working.
    level: str = "info"


@dataclass(frozen=True, slots=True)
class WaiverUse:
    """What one waiver did in a run: ``applied``, ``expired`` or ``stale`` (matched nothing)."""

    id: str
    status: str
    reason: str
    owner: str
    expires: str
    source: str = ""
    fingerprints: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Verdict:
    """The policy's decision on a report."""

    decision: Decision
    reasons: tuple[Reason, ...]
    policy_name: str
    policy_sha256: str
    waivers: tuple[WaiverUse, ...] = ()


@dataclass(frozen=True, slots=True)
class Timing:
    """Seconds spent in one analyzer or stage, and the bytes and files it was handed."""

    seconds: float
    bytes: int = 0
    files: int = 0


@dataclass(frozen=True, slots=True)
class Timings:
    """Where one scan's time went (``Report.timings``); never part of a decision.

    ``cpu_seconds`` counts this process and the worker processes it waited for: on a machine
    with more than one core a parallel scan's CPU time exceeds its wall time.
    """

    wall_seconds: float
    cpu_seconds: float
    jobs: int
    stages: Mapping[str, Timing] = field(default_factory=_empty_mapping)
    analyzers: Mapping[str, Timing] = field(default_factory=_empty_mapping)


@dataclass(frozen=True, slots=True)
class Report:
    """Everything one scan found; the policy turns it into a Verdict."""

    tool_name: str
    tool_version: str
    created_at: str
    target: Target
    artifacts: tuple[Artifact, ...] = ()
    findings: tuple[Finding, ...] = ()
    components: tuple[Component, ...] = ()
    failures: tuple[AnalyzerFailure, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    resources: ResourceProfile | None = None
    verdict: Verdict | None = None
    analyzers: Mapping[str, int] = field(default_factory=_empty_mapping, hash=False)
    config_audit: Mapping[str, Any] = field(default_factory=_empty_mapping, hash=False)
    schema_version: int = 1
    timings: Timings | None = field(default=None, hash=False, compare=False)
