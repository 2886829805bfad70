"""GitLab Code Quality report (``--format codequality``): the JSON array GitLab reads from
``artifacts:reports:codequality`` and shows in merge requests.

Each finding is one issue object with GitLab's required fields: ``description``,
``check_name``, ``fingerprint``, ``severity`` (``info|minor|major|critical|blocker``) and
``location`` (``path`` plus ``lines.begin``). Paths are repository paths, from the repository
root the CLI finds with git (or ``--source-root``; see :mod:`scanner.report._paths`); a finding
inside an archive (a container asset or model archive) points at the archive file and names the
member in the description, since GitLab can only link to files in the repository.

Example::

    panorama-gate scan app/ --format codequality -o gl-code-quality-report.json
"""

from __future__ import annotations

import json
from typing import Any, TextIO

from scanner.models import Finding, Report, Severity
from scanner.report._common import finding_status, no_surrogates, summarize
from scanner.report._paths import SourceRoot, repo_location

__all__ = ["CodeQualityWriter", "report_to_codequality"]

# Our five severities onto GitLab's five, in order.
SEVERITY = {
    Severity.CRITICAL: "blocker",
    Severity.HIGH: "critical",
    Severity.MEDIUM: "major",
    Severity.LOW: "minor",
    Severity.INFO: "info",
}


def _location(f: Finding, paths: dict[str, str], root: SourceRoot) -> tuple[str, str, int]:
    """(repository path, extra words for the description, line in that file)."""
    where = repo_location(f.location, paths, root)
    if where.inner_kind == "member":
        # GitLab links lines of repository files: the member's line goes into the text.
        member = f"{where.inner}:{where.member_line}" if where.member_line else where.inner
        return where.path, f" (in {where.path}: {member})", 1
    extra = f" (at {where.inner})" if where.inner_kind == "key" else ""
    return where.path, extra, where.line or 1


def report_to_codequality(
    report: Report, source_root: SourceRoot | None = None
) -> list[dict[str, Any]]:
    """The Code Quality issue list for ``report``, in the report's finding order."""
    root = source_root or SourceRoot.from_report(report)
    summary = summarize(report)
    paths = {a.name: a.path for a in report.artifacts}
    issues: list[dict[str, Any]] = []
    for f in report.findings:
        path, extra, line = _location(f, paths, root)
        status = finding_status(f, summary)
        note = {"blocking": " [blocks the gate]", "waived": " [waived]"}.get(status, "")
        issues.append(
            {
                "type": "issue",
                "check_name": f.rule_id,
                "description": no_surrogates(f"{f.message}{extra}{note}"),
                "categories": ["Security"],
                "fingerprint": f.fingerprint,
                "severity": SEVERITY[f.severity],
                "location": {"path": no_surrogates(path or "."), "lines": {"begin": line}},
            }
        )
    return issues


class CodeQualityWriter:
    """GitLab Code Quality JSON."""

    name = "codequality"
    media_type = "application/json"

    def __init__(self, source_root: SourceRoot | None = None) -> None:
        self.source_root = source_root

    def write(self, report: Report, fp: TextIO) -> None:
        """Write the issue array (sorted keys, deterministic)."""
        json.dump(
            report_to_codequality(report, self.source_root),
            fp,
            indent=2,
            sort_keys=True,
            ensure_ascii=False,
        )
        fp.write("\n")
