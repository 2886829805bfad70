"""GitLab Code Quality report (``--format codequality``): the JSON array GitLab reads from
``artifacts:reports:codequality`` and shows in merge requests.

Each finding is one issue object with GitLab's required fields: ``description``,
``check_name``, ``fingerprint``, ``severity`` (``info|minor|major|critical|blocker``) and
``location`` (``path`` plus ``lines.begin``). Paths are repository paths: the scanned target's
path as given on the command line joined with the artifact's path inside it; a finding inside
an archive (a container asset or model archive) points at the archive file and names the
member in the description, since GitLab can only link to files in the repository.

Example::

    panorama-gate scan app/ --format codequality -o gl-code-quality-report.json
"""

from __future__ import annotations

import json
import posixpath
from typing import Any, TextIO

from scanner.models import Finding, Report, Severity
from scanner.report._common import finding_status, no_surrogates, summarize

__all__ = ["CodeQualityWriter", "report_to_codequality"]

# Our five severities onto GitLab's five, in order.
SEVERITY = {
    Severity.CRITICAL: "blocker",
    Severity.HIGH: "critical",
    Severity.MEDIUM: "major",
    Severity.LOW: "minor",
    Severity.INFO: "info",
}
ARCHIVES = (".tar.gz", ".tgz", ".tar", ".zip", ".tar.zst", ".tar.zstd", ".tar.xz", ".tar.bz2")
MANIFESTS = (".json", ".yaml", ".yml")


def _location(report: Report, f: Finding, artifact_paths: dict[str, str]) -> tuple[str, str, int]:
    """(repository path, extra words for the description, line in that file)."""
    loc = f.location
    target = report.target.path or "."
    base = posixpath.normpath(
        posixpath.join(target, artifact_paths.get(loc.artifact, loc.artifact) or ".")
    )
    line = loc.line or 1
    if not loc.path:
        return base, "", line
    if base.lower().endswith(ARCHIVES):
        # GitLab links lines of repository files: the member's line goes into the text.
        member = f"{loc.path}:{loc.line}" if loc.line else loc.path
        return base, f" (in {base}: {member})", 1
    if base.lower().endswith(MANIFESTS):
        return base, f" (at {loc.path})", line
    return posixpath.normpath(posixpath.join(base, loc.path)), "", line


def report_to_codequality(report: Report) -> list[dict[str, Any]]:
    """The Code Quality issue list for ``report``, in the report's finding order."""
    summary = summarize(report)
    paths = {a.name: a.path for a in report.artifacts}
    issues: list[dict[str, Any]] = []
    for f in report.findings:
        path, extra, line = _location(report, f, paths)
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
                "location": {
                    "path": no_surrogates(path.removeprefix("./")),
                    "lines": {"begin": line},
                },
            }
        )
    return issues


class CodeQualityWriter:
    """GitLab Code Quality JSON."""

    name = "codequality"
    media_type = "application/json"

    def write(self, report: Report, fp: TextIO) -> None:
        """Write the issue array (sorted keys, deterministic)."""
        json.dump(report_to_codequality(report), fp, indent=2, sort_keys=True, ensure_ascii=False)
        fp.write("\n")
