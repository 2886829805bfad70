"""The typed policy and waiver schemas (pydantic), one class per section of the policy file.

These classes only describe and validate; ``scanner.policy.model`` loads files into them and
``scanner.policy.evaluate`` decides. Unknown keys are errors everywhere except in the sections
that analyzers own (``resources``, ``vulnerabilities``, ``models``), where an unknown key is
passed to the analyzer as is and ``policy validate`` warns about it.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from scanner.models import Category, Severity

__all__ = [
    "ArchiveSection",
    "LicenseSection",
    "ModelsSection",
    "PolicySpec",
    "ResourceSection",
    "RuleRating",
    "VulnerabilitySection",
    "WaiverSpec",
    "WaiversFile",
]

SeverityName = Literal["critical", "high", "medium", "low", "info"]
Text = Annotated[str, Field(min_length=1, max_length=4096)]


def _severity(value: Any) -> Any:
    # Accept any case ("HIGH") but store the canonical lower-case label.
    if isinstance(value, str):
        return value.strip().lower()
    if isinstance(value, Severity):
        return value.label
    return value


class _Closed(BaseModel):
    """A section where every key is known: a typo is an error, never a silent default."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class _Open(BaseModel):
    """A section an analyzer owns: unknown keys are kept and passed on to it."""

    model_config = ConfigDict(extra="allow", frozen=True, strict=False)


class LicenseSection(_Closed):
    """``licenses:``: SPDX deny and allow lists and what an UNKNOWN license means."""

    deny: tuple[Text, ...] = ()
    allow: tuple[Text, ...] = Field(
        default=(), description="allow-list mode when non-empty: anything else is a finding"
    )
    unknown: Literal["warn", "reject"] = "warn"
    severity: SeverityName = Field(
        default="high", description="severity of a denied or not-allowed license finding"
    )
    scopes: tuple[Literal["app", "os"], ...] = Field(
        default=("app",),
        min_length=1,
        description=(
            "which components the lists judge: app (what the application installs or "
            "declares: pip packages, requirements) and/or os (the base image's dpkg packages "
            "and the Python packages dpkg installed); the others are reported, not judged"
        ),
    )

    @field_validator("severity", mode="before")
    @classmethod
    def _sev(cls, value: Any) -> Any:
        return _severity(value)

    @model_validator(mode="after")
    def _disjoint(self) -> LicenseSection:
        both = sorted(set(self.deny) & set(self.allow))
        if both:
            raise ValueError(f"licenses both allowed and denied: {', '.join(both)}")
        return self


class ResourceSection(_Open):
    """``resources:``: budgets for the sandboxed run (the sandbox analyzer makes findings)."""

    max_memory_mb: Annotated[float, Field(gt=0)] | None = None
    max_cpu_percent: Annotated[float, Field(gt=0)] | None = None
    max_disk_write_mb: Annotated[float, Field(gt=0)] | None = None
    max_processes: Annotated[int, Field(gt=0)] | None = None
    allow_network: bool = False
    when_unavailable: Literal["warn", "incomplete"] = Field(
        default="warn",
        description="what a profile that could not run means (no sandbox, foreign architecture)",
    )
    # Tuning knobs of the sandbox run (scanner.sandbox); unset means the sandbox's default.
    sandbox: Literal["auto", "docker", "bwrap"] | None = None
    frames: Annotated[int, Field(gt=0)] | None = None
    seconds: Annotated[float, Field(gt=0)] | None = None
    fps: Annotated[float, Field(gt=0)] | None = None
    warmup: bool | None = None
    grace_seconds: Annotated[float, Field(gt=0)] | None = None
    emulated_slowdown: Annotated[float, Field(gt=0)] | None = None
    memory_limit_mb: Annotated[float, Field(gt=0)] | None = None
    pids_limit: Annotated[int, Field(gt=0)] | None = None
    cpu_limit_percent: Annotated[float, Field(gt=0)] | None = None


class ArchiveSection(_Closed):
    """``archive:``: limits on unpacking (size, count, ratio and nesting)."""

    max_member_mb: Annotated[int, Field(gt=0)] = 8192
    max_total_mb: Annotated[int, Field(gt=0)] = 32768
    max_members: Annotated[int, Field(gt=0)] = 500_000
    max_ratio: Annotated[float, Field(gt=1)] = 200.0
    max_depth: Annotated[int, Field(ge=0, le=16)] = 3
    max_path_length: Annotated[int, Field(gt=0)] = 4096


class VulnerabilitySection(_Open):
    """``vulnerabilities:``: database age, severities, the service and the OS-package opt-out."""

    max_db_age_days: Annotated[float, Field(ge=0)] = 7
    stale_severity: SeverityName | None = Field(
        default=None, description="severity of a too-old database finding (default high)"
    )
    unknown_severity: SeverityName | None = Field(
        default=None, description="severity of an advisory that states none (default medium)"
    )
    service: Literal["pypi", "osv"] | None = None
    os_packages: Literal["audit", "skip"] | None = Field(
        default=None, description="skip: OS packages are recorded as skipped, not failures"
    )
    timeout: Annotated[int, Field(gt=0)] | None = None

    @field_validator("stale_severity", "unknown_severity", mode="before")
    @classmethod
    def _sev(cls, value: Any) -> Any:
        return _severity(value)


class ModelsSection(_Open):
    """``models:``: model-file rules (the model analyzers read these)."""

    allow_globals: tuple[Text, ...] = Field(
        default=(),
        description="pickle globals to accept beyond the built-ins: exact module.name entries",
    )
    deny_globals: tuple[Text, ...] = Field(
        default=(),
        description="pickle globals to refuse even if built-ins allow them: module.name or "
        "module.*",
    )
    # Limits of the model analyzers; unset means the analyzer's default.
    max_pickle_ops: Annotated[int, Field(gt=0)] | None = None
    max_decompressed_bytes: Annotated[int, Field(gt=0)] | None = None
    onnx_max_structure_mb: Annotated[int, Field(gt=0)] | None = None
    onnx_max_model_mb: Annotated[int, Field(gt=0)] | None = None
    onnx_max_tensor_mb: Annotated[int, Field(gt=0)] | None = None
    onnx_max_nodes: Annotated[int, Field(gt=0)] | None = None
    onnx_min_opset: Annotated[int, Field(gt=0)] | None = None
    onnx_max_opset: Annotated[int, Field(gt=0)] | None = None

    @field_validator("allow_globals")
    @classmethod
    def _exact(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        # An allow-list entry names one callable: a wildcard would also allow whatever the
        # module imports (functools, torch itself), so it is refused with the fix spelled out.
        for entry in value:
            if any(c in entry for c in "*?[]"):
                raise ValueError(
                    f"{entry!r} is a wildcard; allow_globals takes exact names only (a "
                    "wildcard also allows whatever the module imports): list each class, "
                    "e.g. 'sklearn.svm._classes.SVC'"
                )
            if "." not in entry.strip(". "):
                raise ValueError(f"{entry!r} is not a fully qualified 'module.name'")
        return value


class RuleRating(_Closed):
    """``rules.<rule id>``: the severity the policy gives a rule, and why (``policy show``
    prints both; rated findings carry the reason)."""

    severity: SeverityName
    reason: Annotated[str, Field(max_length=1000)] = ""

    @field_validator("severity", mode="before")
    @classmethod
    def _sev(cls, value: Any) -> Any:
        return _severity(value)


class WaiverSpec(_Closed):
    """One waiver: a scope (fingerprint, rule, package and/or vulnerability), who, why, until."""

    id: Annotated[str, Field(min_length=1, max_length=200)] | None = Field(
        default=None,
        description=(
            "the waiver's name; with no other scope it is the scope: it matches a finding "
            "whose fingerprint, rule id or vulnerability id (or alias) it equals"
        ),
    )
    fingerprint: Annotated[str, Field(min_length=8, max_length=128)] | None = None
    rule: Annotated[str, Field(min_length=1, max_length=200)] | None = Field(
        default=None,
        validation_alias=AliasChoices("rule", "rule_id"),
        description="a rule id, or a glob such as 'secrets.*'",
    )
    package: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    vulnerability: Annotated[str, Field(min_length=1, max_length=200)] | None = Field(
        default=None,
        validation_alias=AliasChoices("vulnerability", "vulnerability_id"),
        description="a vulnerability id or one of its aliases (CVE, GHSA)",
    )
    path: Annotated[str, Field(min_length=1, max_length=1000)] | None = Field(
        default=None, description="narrows any scope to paths matching this glob"
    )
    reason: Text
    owner: Text
    expires: dt.date

    @field_validator("expires", mode="before")
    @classmethod
    def _no_datetime(cls, value: Any) -> Any:
        # YAML gives a datetime for "2026-01-01 10:00"; a waiver expires on a day.
        if isinstance(value, dt.datetime):
            return value.date()
        return value

    @model_validator(mode="after")
    def _scoped(self) -> WaiverSpec:
        if not (self.fingerprint or self.rule or self.package or self.vulnerability or self.id):
            raise ValueError(
                "a waiver needs a scope: id, fingerprint, rule, package or vulnerability "
                "(a waiver for everything is not a waiver)"
            )
        if self.rule is not None and self.rule.strip("*?.[]") == "":
            raise ValueError(f"rule {self.rule!r} would waive every rule")
        return self


class WaiversFile(_Closed):
    """A waivers file: ``waivers: [...]`` (a bare list is accepted too)."""

    waivers: tuple[WaiverSpec, ...]


class PolicySpec(_Closed):
    """The whole policy file."""

    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    description: str = ""
    severity_threshold: SeverityName
    categories: dict[Category, SeverityName] = Field(default_factory=dict)
    rules: dict[Annotated[str, Field(min_length=1, max_length=200)], RuleRating] = Field(
        default_factory=dict,
        description=(
            "the severity this policy gives particular rules (rule id or glob such as "
            "'code.B506'), whatever the analyzer said; thresholds then apply to it"
        ),
    )
    required_analyzers: Literal["all"] | tuple[Annotated[str, Field(min_length=1)], ...] = Field(
        default="all",
        description="'all' or analyzer names whose failure makes the verdict incomplete",
    )

    @field_validator("required_analyzers")
    @classmethod
    def _some_required(cls, value: Any) -> Any:
        # An empty list would approve straight through any analyzer crash: fail closed.
        if isinstance(value, tuple) and not value:
            raise ValueError(
                "an empty list would approve through any analyzer crash; name some or say 'all'"
            )
        return value

    licenses: LicenseSection = Field(default_factory=LicenseSection)
    resources: ResourceSection = Field(default_factory=ResourceSection)
    archive: ArchiveSection = Field(default_factory=ArchiveSection)
    vulnerabilities: VulnerabilitySection = Field(default_factory=VulnerabilitySection)
    models: ModelsSection = Field(default_factory=ModelsSection)
    waivers: str | tuple[WaiverSpec, ...] = Field(
        default=(), description="a waivers file (relative to the policy file) or an inline list"
    )

    @field_validator("severity_threshold", mode="before")
    @classmethod
    def _threshold(cls, value: Any) -> Any:
        return _severity(value)

    @field_validator("categories", mode="before")
    @classmethod
    def _category_severities(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: _severity(v) for k, v in value.items()}
        return value

    @field_validator("rules", mode="before")
    @classmethod
    def _rule_severities(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        for key in value:
            if isinstance(key, str) and key.strip("*?.[]") == "":
                # a rating for every rule would quietly re-rate the whole gate
                raise ValueError(f"rules: {key!r} would rate every rule; name rules")
        # "rule: high" is short for "rule: {severity: high}"
        return {k: {"severity": v} if isinstance(v, str) else v for k, v in value.items()}
