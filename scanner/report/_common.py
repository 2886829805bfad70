"""What every human-facing writer shows, computed once: counts, groups, blocking findings.

Writers never decide: "blocking" here is read from the verdict's reasons (the fingerprints
behind ``reject`` reasons), not recomputed from thresholds.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from scanner.models import Category, Decision, Finding, Report, Severity

__all__ = [
    "DECISION_TEXT",
    "SEVERITIES",
    "Summary",
    "by_artifact",
    "summarize",
]

SEVERITIES: tuple[Severity, ...] = tuple(sorted(Severity, reverse=True))

DECISION_TEXT = {
    Decision.APPROVED: "APPROVED",
    Decision.REJECTED: "REJECTED",
    Decision.INCOMPLETE: "INCOMPLETE",
}


@dataclass(frozen=True, slots=True)
class Summary:
    """Counts and sets derived from a report for display."""

    decision: Decision | None
    total: int
    waived: int
    active_by_severity: dict[Severity, int]
    active_by_category: dict[Category, dict[Severity, int]]
    blocking: frozenset[str]
    reason_levels: dict[str, str]

    def category_total(self, category: Category) -> int:
        """Unwaived findings of one category."""
        return sum(self.active_by_category.get(category, {}).values())


def summarize(report: Report) -> Summary:
    """Counts of unwaived findings by severity and by category × severity."""
    active = [f for f in report.findings if not f.waived]
    by_sev = Counter(f.severity for f in active)
    by_cat: dict[Category, dict[Severity, int]] = {}
    for f in active:
        row = by_cat.setdefault(f.category, dict.fromkeys(SEVERITIES, 0))
        row[f.severity] += 1
    blocking: set[str] = set()
    levels: dict[str, str] = {}
    v = report.verdict
    if v is not None:
        for r in v.reasons:
            if r.level == "reject":
                blocking.update(r.fingerprints)
            for fp in r.fingerprints:
                # Keep the most decisive level a finding is named under.
                levels.setdefault(fp, r.level)
    return Summary(
        decision=v.decision if v is not None else None,
        total=len(report.findings),
        waived=len(report.findings) - len(active),
        active_by_severity={s: by_sev.get(s, 0) for s in SEVERITIES},
        active_by_category=dict(sorted(by_cat.items(), key=lambda kv: kv[0].value)),
        blocking=frozenset(blocking),
        reason_levels=levels,
    )


def by_artifact(findings: Sequence[Finding]) -> list[tuple[str, list[Finding]]]:
    """Findings grouped by artifact (sorted by name), each group worst first then by place."""
    groups: dict[str, list[Finding]] = {}
    for f in findings:
        groups.setdefault(f.location.artifact, []).append(f)
    return [
        (name, sorted(group, key=lambda f: (-int(f.severity), f.sort_key())))
        for name, group in sorted(groups.items())
    ]


def finding_status(f: Finding, summary: Summary) -> str:
    """``blocking``, ``waived`` or ``warning``: how the verdict treated a finding."""
    if f.waived:
        return "waived"
    if f.fingerprint in summary.blocking:
        return "blocking"
    return "warning"
