"""``licenses``: evaluate each third-party component's licenses against the policy.

The licenses themselves are detected exactly as the ``packages`` analyzer reports them
(``_licensing``: PEP 639 expression, classifiers, License field, license file text; DEP-5 for
Debian packages). This analyzer turns them into ``license`` findings:

- ``licenses.denied``: the expression cannot be satisfied without a denied license;
- ``licenses.not-allowed``: allow-list mode, and a license outside the list is required;
- ``licenses.unknown``: no license could be determined (UNKNOWN), or only ``LicenseRef-*``
  licenses the policy does not name; ``unknown: warn`` makes this a low finding, ``reject`` a
  high one.

Expressions are evaluated, not string-matched: ``MIT OR GPL-3.0-only`` is acceptable when MIT
is, ``MIT AND GPL-3.0-only`` is not when GPL-3.0-only is denied. Several licenses listed for one
component all apply (AND).

Options (the policy's ``licenses:`` section): ``deny`` and ``allow`` (SPDX ids or
expressions), ``unknown`` (``warn`` | ``reject``, default ``warn``), ``severity`` (of denied and
not-allowed findings, default ``high``), ``scopes`` (which components are judged: ``app``, what
the application installs or declares, and/or ``os``, the base image's OS packages; default
``[app]``: an OS package's license binds that package's distribution, not the application, so
its license is reported in the components and exports without a finding).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import IntEnum
from typing import TYPE_CHECKING, Any

from license_expression import ExpressionError, LicenseSymbol, LicenseWithExceptionSymbol

from scanner.analyzers._licensing import normalize_expression, spdx_licensing
from scanner.analyzers.interface import AnalyzerContext, ComponentAnalyzer, Output
from scanner.errors import ConfigError
from scanner.models import Category, Component, Finding, Severity, Skipped

if TYPE_CHECKING:
    from scanner.analyzers._inventory import ComponentSet
    from scanner.sources.interface import SourceArtifact

__all__ = ["LicensePolicy", "LicensesAnalyzer", "Outcome"]


class Outcome(IntEnum):
    """How a license (sub)expression fares; ``OR`` takes the best, ``AND`` the worst."""

    ALLOWED = 0
    UNKNOWN = 1
    NOT_ALLOWED = 2
    DENIED = 3


def _keys(values: Any, what: str) -> frozenset[str]:
    if values is None:
        return frozenset()
    if not isinstance(values, list | tuple):
        raise ConfigError(f"policy licenses.{what}: expected a list of SPDX ids")
    out: set[str] = set()
    for v in values:
        text = str(v).strip()
        norm = normalize_expression(text) or text
        out.add(norm.lower())
        out.add(text.lower())
    return frozenset(out)


class LicensePolicy:
    """The policy's license lists, ready to evaluate expressions."""

    def __init__(
        self,
        deny: Iterable[str] = (),
        allow: Iterable[str] = (),
        unknown: str = "warn",
        severity: Severity = Severity.HIGH,
        scopes: Iterable[str] = ("app",),
    ) -> None:
        self.deny = _keys(list(deny), "deny")
        self.allow = _keys(list(allow), "allow")
        self.scopes = frozenset(str(s).strip().lower() for s in scopes)
        if not self.scopes or not self.scopes <= {"app", "os"}:
            raise ConfigError(f"policy licenses.scopes: {sorted(self.scopes)} (app and/or os)")
        if unknown not in ("warn", "reject"):
            raise ConfigError(f"policy licenses.unknown: {unknown!r} is not one of: warn, reject")
        self.unknown = unknown
        self.severity = severity

    @classmethod
    def from_options(cls, options: Any) -> LicensePolicy:
        """Build from the policy's ``licenses:`` section (``ConfigError`` when malformed)."""
        try:
            severity = Severity.parse(str(options.get("severity", "high")))
        except ValueError as exc:
            raise ConfigError(f"policy licenses.severity: {exc}") from exc
        scopes = options.get("scopes", ("app",))
        if isinstance(scopes, str) or not isinstance(scopes, list | tuple):
            raise ConfigError("policy licenses.scopes: expected a list (app and/or os)")
        return cls(
            deny=_keys(options.get("deny"), "deny"),
            allow=_keys(options.get("allow"), "allow"),
            unknown=str(options.get("unknown", "warn")).strip().lower(),
            severity=severity,
            scopes=scopes,
        )

    def judges(self, comp: Component) -> bool:
        """Whether the lists apply to ``comp`` (its ``scope`` property is in ``scopes``)."""
        scope = str(comp.properties.get("scope") or ("os" if comp.ecosystem == "deb" else "app"))
        return scope in self.scopes

    def _symbol(self, key: str) -> Outcome:
        k = key.lower()
        if k in self.deny:
            return Outcome.DENIED
        if k in self.allow:
            return Outcome.ALLOWED
        if k.startswith("licenseref-"):
            return Outcome.UNKNOWN
        if self.allow:
            return Outcome.NOT_ALLOWED
        return Outcome.ALLOWED

    def _node(self, node: Any) -> Outcome:
        licensing = spdx_licensing()
        if isinstance(node, LicenseWithExceptionSymbol):
            full = f"{node.license_symbol.key} WITH {node.exception_symbol.key}".lower()
            if full in self.deny:
                return Outcome.DENIED
            if full in self.allow:
                return Outcome.ALLOWED
            return self._symbol(str(node.license_symbol.key))
        if isinstance(node, LicenseSymbol):
            return self._symbol(str(node.key))
        children = [self._node(a) for a in node.args]
        if isinstance(node, licensing.OR):
            return min(children)
        if isinstance(node, licensing.AND):
            return max(children)
        return Outcome.UNKNOWN

    def evaluate(self, licenses: Sequence[str]) -> Outcome:
        """The outcome for a component whose licenses all apply (empty means UNKNOWN)."""
        if not licenses:
            return Outcome.UNKNOWN
        licensing = spdx_licensing()
        worst = Outcome.ALLOWED
        for text in licenses:
            whole = text.lower()
            if whole in self.deny:
                return Outcome.DENIED
            if whole in self.allow:
                continue
            try:
                # LicenseRef-* keys are unknown to the SPDX index; parse without validation
                expr = licensing.parse(text, validate=False, strict=False)
            except ExpressionError:
                worst = max(worst, Outcome.UNKNOWN)
                continue
            if expr is None:
                worst = max(worst, Outcome.UNKNOWN)
                continue
            worst = max(worst, self._node(expr))
        return worst


_RULES = {
    Outcome.DENIED: ("licenses.denied", "which the policy denies"),
    Outcome.NOT_ALLOWED: ("licenses.not-allowed", "which is not on the policy's allow list"),
}


class LicensesAnalyzer(ComponentAnalyzer):
    """License findings per component from the policy's allow/deny/unknown rules."""

    name = "licenses"
    version = 2
    tags = frozenset({"license", "deps"})

    def __init__(self) -> None:
        super().__init__()
        self.policy = LicensePolicy()

    def configure(self, ctx: AnalyzerContext) -> None:
        """Read the policy's ``licenses:`` section."""
        super().configure(ctx)
        self.policy = LicensePolicy.from_options(ctx.options)

    def analyze_components(
        self, components: ComponentSet, artifact: SourceArtifact
    ) -> Iterable[Output]:
        """Evaluate every installed component of one artifact."""
        out: list[Output] = []
        declared = 0
        for item in components.components:
            if item.properties.get("declared"):
                declared += 1
                continue
            if not self.policy.judges(item):
                continue  # reported in the components, SBOM and license exports, not judged
            finding = self.finding_for(item)
            if finding is not None:
                out.append(finding)
        if declared:
            out.append(
                Skipped(
                    self.name,
                    f"{declared} declared requirement(s) are not installed in the artifact; "
                    "their licenses are only known once installed",
                )
            )
        return out

    def finding_for(self, comp: Component) -> Finding | None:
        """The license finding for one component (``None`` when its licenses are acceptable)."""
        outcome = self.policy.evaluate(comp.licenses)
        if outcome is Outcome.ALLOWED:
            return None
        expr = " AND ".join(comp.licenses) if comp.licenses else "UNKNOWN"
        props = {
            "package": comp.name,
            "version": comp.version,
            "ecosystem": comp.ecosystem,
            "purl": comp.purl,
            "licenses": list(comp.licenses) or ["UNKNOWN"],
            "license_source": comp.properties.get("license_source", "none"),
            "outcome": outcome.name.lower().replace("_", "-"),
        }
        if outcome is Outcome.UNKNOWN:
            severity = Severity.HIGH if self.policy.unknown == "reject" else Severity.LOW
            what = (
                "no license could be determined"
                if not comp.licenses
                else f"its license {expr} is not one the policy names"
            )
            return Finding.create(
                rule_id="licenses.unknown",
                category=Category.LICENSE,
                severity=severity,
                message=(
                    f"{comp.name} {comp.version}: {what}; check its license and add it to the "
                    "policy's licenses lists"
                ),
                location=comp.location,
                evidence=f"{comp.ecosystem}:{comp.name}@{comp.version}:{expr}",
                title="Unknown license",
                properties=props,
            )
        rule, why = _RULES[outcome]
        return Finding.create(
            rule_id=rule,
            category=Category.LICENSE,
            severity=self.policy.severity,
            message=(
                f"{comp.name} {comp.version} is licensed {expr}, {why}; remove or replace it, "
                "or waive it with legal approval"
            ),
            location=comp.location,
            evidence=f"{comp.ecosystem}:{comp.name}@{comp.version}:{expr}",
            title="License not acceptable",
            properties=props,
        )
