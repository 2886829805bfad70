"""SARIF 2.1.0 for GitHub code scanning (``--format sarif``).

One run; one rule per ``rule_id`` with help text, CWE tags (``external/cwe/cwe-N``, as GitHub
reads them) and a ``security-severity``; one result per finding. Every physical location is a
file of the repository, relative to ``%SRCROOT%`` (``uriBaseId``), so code-scanning alerts link
to it whichever folder was scanned: the CLI finds the repository root with git (or takes
``--source-root``); see :mod:`scanner.report._paths`. A finding inside an archive (a container
asset, a model archive) points at the archive file, with the member as a logical location
(``<archive>!/<member>``, the jar-URI convention); a key path in a JSON/YAML manifest is a
logical location too. A target outside the repository gets absolute ``file:`` URIs. Waived
findings carry a SARIF suppression (GitHub hides them); analyzer failures are tool execution
notifications. The verdict is in the run's ``properties``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import quote

from scanner.models import AnalyzerFailure, Artifact, Finding, Location, Report, Severity
from scanner.report._common import Summary, finding_status, no_surrogates, summarize
from scanner.report._paths import SourceRoot, repo_location
from scanner.report.json import jsonable, verdict_to_dict

__all__ = ["SarifWriter", "report_to_sarif"]

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/panorama-gate/panorama-gate"

_LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
# GitHub maps security-severity to its own labels: >= 9 critical, >= 7 high, >= 4 medium.
_SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
    Severity.INFO: "0.0",
}


SRCROOT = "%SRCROOT%"


def _quote(text: str) -> str:
    try:
        # Undecodable bytes of a file name come back as the bytes they were (%80, ...).
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raw = text.encode("utf-8", "surrogatepass")
    # Keep the characters a relative URI reference may hold; escape spaces and the rest.
    return quote(raw, safe="/!:@-._~+=,;&$'()*")


def _artifact_location(path: str, root: SourceRoot) -> dict[str, Any]:
    """A repository file as SARIF: relative to %SRCROOT%, or an absolute file URI."""
    if root.absolute:
        return {"uri": "file://" + _quote(path)}
    return {"uri": _quote(path or "."), "uriBaseId": SRCROOT}


def _location(
    loc: Location, paths: dict[str, str] | None = None, root: SourceRoot | None = None
) -> dict[str, Any]:
    where = repo_location(loc, paths or {}, root or SourceRoot(""))
    physical: dict[str, Any] = {
        "artifactLocation": _artifact_location(where.path, root or SourceRoot(""))
    }
    if where.line is not None:
        physical["region"] = {"startLine": where.line}
    out: dict[str, Any] = {"physicalLocation": physical}
    if where.inner_kind == "member":
        line = f":{where.member_line}" if where.member_line else ""
        name = f"{where.path}!/{where.inner}{line}"
        out["logicalLocations"] = [{"fullyQualifiedName": name, "kind": "resource"}]
    elif where.inner_kind == "key":
        out["logicalLocations"] = [{"fullyQualifiedName": where.inner, "kind": "member"}]
    props: dict[str, Any] = {"artifact": loc.artifact, "path": loc.path}
    if where.member_line is not None:
        props["line"] = where.member_line
    if loc.layer is not None:
        props["layer"] = loc.layer
    out["properties"] = props
    return out


def _rule(rule_id: str, findings: list[Finding]) -> dict[str, Any]:
    worst = max(findings, key=lambda f: (int(f.severity), f.fingerprint))
    title = next((f.title for f in findings if f.title), "") or rule_id
    cwes = sorted({f.cwe for f in findings if f.cwe is not None})
    tags = ["security", worst.category.value, *(f"external/cwe/cwe-{c}" for c in cwes)]
    help_text = (
        f"{title}. Category: {worst.category.value}. "
        f"Example: {worst.message}"
        + (f" Weakness: {', '.join(f'CWE-{c}' for c in cwes)}." if cwes else "")
        + " To accept a finding, waive it by fingerprint, rule, package or vulnerability id "
        "with a reason, an owner and an expiry date."
    )
    help_md = (
        f"**{title}** (`{rule_id}`, category `{worst.category.value}`)\n\n"
        f"Example: {worst.message}\n\n"
        + (
            "Weakness: "
            + ", ".join(f"[CWE-{c}](https://cwe.mitre.org/data/definitions/{c}.html)" for c in cwes)
            + "\n\n"
            if cwes
            else ""
        )
        + "To accept a finding, add a waiver (fingerprint, rule, package or vulnerability id) "
        "with `reason`, `owner` and `expires`."
    )
    rule: dict[str, Any] = {
        "id": rule_id,
        "name": "".join(
            p.capitalize() for p in rule_id.replace("-", ".").replace("_", ".").split(".")
        ),
        "shortDescription": {"text": title},
        "fullDescription": {"text": f"{title} ({worst.category.value})"},
        "help": {"text": help_text, "markdown": help_md},
        "defaultConfiguration": {"level": _LEVEL[worst.severity]},
        "properties": {
            "tags": tags,
            "precision": "high",
            "security-severity": _SECURITY_SEVERITY[worst.severity],
            "category": worst.category.value,
        },
    }
    if cwes:
        rule["helpUri"] = f"https://cwe.mitre.org/data/definitions/{cwes[0]}.html"
    return rule


def _notification(
    i: int, failure: AnalyzerFailure, paths: dict[str, str], root: SourceRoot
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "level": "error",
        "message": {"text": f"{failure.analyzer}: {failure.reason}"},
        "descriptor": {"id": failure.analyzer or "scanner"},
        "properties": {"failure_index": i},
    }
    if failure.location is not None:
        out["locations"] = [_location(failure.location, paths, root)]
    return out


def report_to_sarif(report: Report, source_root: SourceRoot | None = None) -> dict[str, Any]:
    """The SARIF log as a dict, deterministic (rules sorted by id, results in report order).

    ``source_root`` places the target in the repository; without it, paths are relative to
    the folder the target was named from (``SourceRoot.from_report``).
    """
    root = source_root or SourceRoot.from_report(report)
    paths = {a.name: a.path for a in report.artifacts}
    summary = summarize(report)
    by_rule: dict[str, list[Finding]] = {}
    for f in report.findings:
        by_rule.setdefault(f.rule_id, []).append(f)
    rule_ids = sorted(by_rule)
    index = {r: i for i, r in enumerate(rule_ids)}
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": report.tool_name,
                "version": report.tool_version,
                "semanticVersion": report.tool_version,
                "informationUri": INFORMATION_URI,
                "rules": [_rule(r, by_rule[r]) for r in rule_ids],
            }
        },
        "automationDetails": {"id": f"{report.tool_name}/{report.target.name or 'target'}/"},
        "artifacts": [_artifact(a, paths, root) for a in report.artifacts],
        "invocations": [
            {
                "executionSuccessful": not report.failures,
                "toolExecutionNotifications": [
                    _notification(i, fail, paths, root) for i, fail in enumerate(report.failures)
                ],
            }
        ],
        "results": [_result(f, index[f.rule_id], paths, root, summary) for f in report.findings],
        "properties": {
            "target": {"path": report.target.path, "kind": report.target.kind.value},
            "verdict": verdict_to_dict(report.verdict),
        },
    }
    if root.root is not None and not root.absolute:
        # Lets viewers other than GitHub (which uses its checkout) find the files.
        run["originalUriBaseIds"] = {SRCROOT: {"uri": Path(root.root).as_uri().rstrip("/") + "/"}}
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


def _result(
    f: Finding, rule_index: int, paths: dict[str, str], root: SourceRoot, summary: Summary
) -> dict[str, Any]:
    """One finding as a SARIF result; a waived one carries an accepted suppression."""
    result: dict[str, Any] = {
        "ruleId": f.rule_id,
        "ruleIndex": rule_index,
        "level": _LEVEL[f.severity],
        "message": {"text": f.message},
        "locations": [_location(f.location, paths, root)],
        "partialFingerprints": {"panoramaGateFingerprint/v1": f.fingerprint},
        "properties": {
            **jsonable(f.properties),
            "severity": f.severity.label,
            "category": f.category.value,
            "status": finding_status(f, summary),
            **({"cwe": f"CWE-{f.cwe}"} if f.cwe is not None else {}),
        },
    }
    if f.waived:
        result["suppressions"] = [
            {"kind": "external", "status": "accepted", "justification": _justification(f)}
        ]
    return result


def _justification(f: Finding) -> str:
    """Why a waived finding is accepted: its waiver, or the baseline it was already in."""
    waiver = f.properties.get("waiver")
    if isinstance(waiver, Mapping):
        return (
            f"waiver {waiver.get('id')}: {waiver.get('reason')} "
            f"(owner {waiver.get('owner')}, expires {waiver.get('expires')})"
        )
    return "present in the baseline report"


def _artifact(a: Artifact, paths: dict[str, str], root: SourceRoot) -> dict[str, Any]:
    """One scanned artifact as a SARIF analysis target."""
    return {
        "location": _artifact_location(repo_location(Location(a.name), paths, root).path, root),
        "length": a.size,
        "roles": ["analysisTarget"],
        **({"hashes": {"sha-256": a.digest.hex}} if a.digest else {}),
        "properties": {"kind": a.kind.value, "path": a.path},
    }


class SarifWriter:
    """``--format sarif``: SARIF 2.1.0 that GitHub code scanning accepts."""

    name = "sarif"
    media_type = "application/sarif+json"

    def __init__(self, source_root: SourceRoot | None = None) -> None:
        self.source_root = source_root

    def write(self, report: Report, fp: TextIO) -> None:
        """Write the SARIF log as indented JSON."""
        text = json.dumps(report_to_sarif(report, self.source_root), indent=2, ensure_ascii=False)
        fp.write(no_surrogates(text) + "\n")
