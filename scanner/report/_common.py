"""What every human-facing writer shows, computed once: counts, groups, blocking findings.

Writers never decide: "blocking" here is read from the verdict's reasons (the fingerprints
behind ``reject`` reasons), not recomputed from thresholds.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from scanner.models import Artifact, ArtifactKind, Category, Decision, Finding, Report, Severity
from scanner.report._paths import SourceRoot, repo_location

__all__ = [
    "DECISION_TEXT",
    "FileGroup",
    "by_file",
    "reason_head",
    "short_hashes",
    "where_in_file",
    "no_surrogates",
    "one_line",
    "printable",
    "xml_safe",
    "SEVERITIES",
    "Summary",
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


def finding_status(f: Finding, summary: Summary) -> str:
    """``blocking``, ``waived`` or ``warning``: how the verdict treated a finding."""
    if f.waived:
        return "waived"
    if f.fingerprint in summary.blocking:
        return "blocking"
    return "warning"


_HEX64 = re.compile(r"[0-9a-f]{64}")


def short_hashes(text: str) -> str:
    """``text`` with each 64-hex digest cut to 12 characters and an ellipsis (for reading)."""
    return _HEX64.sub(lambda m: m.group()[:12] + "…", text)


@dataclass(frozen=True, slots=True)
class FileGroup:
    """Findings in one file of the target, with what a person would call that file."""

    path: str  # the file, relative to the target ("" for the target itself)
    title: str  # "container of shelf_code", or the path
    detail: str  # the path (hashes shortened) when the title is not the path, else ""
    findings: tuple[Finding, ...]


def _title(path: str, artifact: Artifact | None) -> tuple[str, str]:
    if artifact is not None and artifact.package and artifact.kind is not ArtifactKind.CODE:
        return f"{artifact.kind.value} of {artifact.package}", short_hashes(path)
    return short_hashes(path) or "(target)", ""


def by_file(report: Report, findings: Sequence[Finding]) -> list[FileGroup]:
    """Findings grouped by the file they are in, worst group first, each worst first.

    A file is what the repository holds: a container asset (its members' findings together), a
    manifest, or a file of a code package, so findings one analyzer reports against the code
    package folder and another against its Dockerfile land in one group.
    """
    paths = {a.name: a.path for a in report.artifacts}
    by_path = {a.path: a for a in report.artifacts}
    groups: dict[str, list[Finding]] = {}
    for f in findings:
        groups.setdefault(repo_location(f.location, paths, SourceRoot("")).path, []).append(f)
    out = []
    for path, group in groups.items():
        group.sort(key=lambda f: (-int(f.severity), f.sort_key(), f.rule_id))
        title, detail = _title(path, by_path.get(path))
        out.append(FileGroup(path, title, detail, tuple(group)))
    return sorted(out, key=lambda g: (-int(g.findings[0].severity), g.path))


def where_in_file(f: Finding, report: Report) -> str:
    """Where in its group's file a finding is: ``member:line``, ``key (line N)``, ``line N``."""
    paths = {a.name: a.path for a in report.artifacts}
    where = repo_location(f.location, paths, SourceRoot(""))
    if where.inner_kind == "member":
        return where.inner + (f":{where.member_line}" if where.member_line else "")
    line = f"line {where.line}" if where.line else ""
    if where.inner_kind == "key":
        return f"{where.inner} ({line})" if line else where.inner
    return line


def reason_head(message: str) -> str:
    """A ``finding-over-threshold`` reason without its location and example message.

    The evaluator writes "RULE (SEVERITY, CATEGORY threshold T) at WHERE: MESSAGE"; writers
    that list the findings themselves show only the part before " at ".
    """
    head, sep, _ = message.partition(") at ")
    return f"{head})" if sep else message
