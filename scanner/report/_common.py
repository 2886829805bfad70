"""What every human-facing writer shows, computed once: counts, groups, blocking findings.

Writers never decide: "blocking" here is read from the verdict's reasons (the fingerprints
behind ``reject`` reasons), not recomputed from thresholds.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from scanner.models import Category, Decision, Finding, Report, Severity

__all__ = [
    "DECISION_TEXT",
    "no_surrogates",
    "one_line",
    "printable",
    "xml_safe",
    "SEVERITIES",
    "Summary",
    "by_artifact",
    "summarize",
]

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def printable(text: str) -> str:
    """``text`` with control characters shown as ``\\xNN``.

    Paths and messages come from the scanned artifact; an escape sequence in a file name must
    not reach a terminal (it could rewrite the screen, e.g. hide a finding).
    """
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


_SURROGATE = re.compile(r"[\ud800-\udfff]")


def no_surrogates(text: str) -> str:
    """Lone surrogates (undecodable bytes in a file name) as ``\\udcXX`` text.

    A UTF-8 file or terminal cannot hold them; in a JSON string the replacement is the very
    escape ``ensure_ascii`` would write, so JSON output still decodes to the same value.
    """
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def one_line(text: str) -> str:
    """Untrusted text for a single line of terminal output: controls and newlines escaped."""
    return printable(text).replace("\n", "\\n").replace("\t", " ")


def xml_safe(text: str) -> str:
    """``text`` without the characters XML 1.0 cannot hold (shown as ``\\xNN`` instead)."""
    return _XML_ILLEGAL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


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
