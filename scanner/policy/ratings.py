"""The policy's own ratings of rules: ``rules: {code.B506: high}`` sets the severity a finding
of that rule carries into the verdict, whatever the analyzer said.

Findings keep what the analyzer said in ``properties["analyzer_severity"]`` and name the
policy entry in ``properties["rated_by"]``. An exact rule id wins over a glob; among globs,
the longest pattern wins (the most specific). Pure: no I/O.

Example::

    findings = rate_findings(report.findings, policy)
"""

from __future__ import annotations

import dataclasses
import fnmatch
from collections.abc import Mapping, Sequence

from scanner.models import Finding, Severity, frozen_mapping
from scanner.policy.model import Policy

__all__ = ["rate_findings", "rating_for"]


def _ratings(policy: Policy) -> Mapping[str, Mapping[str, str]]:
    rules = policy.raw.get("rules")
    return rules if isinstance(rules, Mapping) else {}


def rating_for(
    rule_id: str, ratings: Mapping[str, Mapping[str, str]]
) -> tuple[str, Severity, str] | None:
    """The policy entry that rates ``rule_id``, the severity it gives and why, or None."""
    if rule_id in ratings:
        best = rule_id
    else:
        matches = [p for p in ratings if fnmatch.fnmatchcase(rule_id, p)]
        if not matches:
            return None
        best = max(matches, key=lambda p: (len(p.strip("*?")), p))
    entry = ratings[best]
    return best, Severity.parse(entry["severity"]), str(entry.get("reason", ""))


def rate_findings(findings: Sequence[Finding], policy: Policy) -> tuple[Finding, ...]:
    """``findings`` with the policy's ratings applied."""
    ratings = _ratings(policy)
    if not ratings:
        return tuple(findings)
    out: list[Finding] = []
    for f in findings:
        rated = rating_for(f.rule_id, ratings)
        if rated is None or rated[1] is f.severity:
            out.append(f)
            continue
        entry, severity, reason = rated
        props = dict(f.properties)
        props["analyzer_severity"] = f.severity.label
        props["rated_by"] = f"policy rules.{entry}"
        if reason:
            props["rating_reason"] = reason
        out.append(dataclasses.replace(f, severity=severity, properties=frozen_mapping(props)))
    return tuple(out)
