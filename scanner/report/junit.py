"""JUnit XML for GitLab, Jenkins and other test-report viewers (``--format junit``).

One test case per check:

* suite ``verdict``: the policy's decision (a failure when rejected, an error when incomplete);
* one suite per finding category: one case per rule that fired (a failure when the verdict
  names any of its findings as blocking, skipped when all its findings are waived, passed
  with the details in ``system-out`` otherwise);
* suite ``analyzers``: one case per analyzer that ran or failed (an error per failure).

The XML is built with ElementTree (escaping handled there) and is byte-for-byte deterministic.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import TextIO

from scanner.models import Decision, Finding, Report
from scanner.report._common import Summary, finding_status, no_surrogates, summarize, xml_safe

__all__ = ["JunitWriter", "report_to_junit"]


def _suite(parent: ET.Element, name: str) -> ET.Element:
    return ET.SubElement(parent, "testsuite", {"name": name})


def _case(suite: ET.Element, classname: str, name: str) -> ET.Element:
    return ET.SubElement(suite, "testcase", {"classname": classname, "name": name, "time": "0"})


def _finding_line(f: Finding, status: str) -> str:
    return f"[{status}] {f.severity.label} {f.location}: {f.message} (fingerprint {f.fingerprint})"


def _close(suite: ET.Element) -> None:
    cases = suite.findall("testcase")
    suite.set("tests", str(len(cases)))
    suite.set("failures", str(sum(1 for c in cases if c.find("failure") is not None)))
    suite.set("errors", str(sum(1 for c in cases if c.find("error") is not None)))
    suite.set("skipped", str(sum(1 for c in cases if c.find("skipped") is not None)))
    suite.set("time", "0")


def _rule_cases(
    suite: ET.Element, category: str, findings: list[Finding], summary: Summary
) -> None:
    by_rule: dict[str, list[Finding]] = {}
    for f in findings:
        by_rule.setdefault(f.rule_id, []).append(f)
    for rule, group in sorted(by_rule.items()):
        case = _case(suite, f"panorama-gate.{category}", rule)
        statuses = [finding_status(f, summary) for f in group]
        lines = "\n".join(_finding_line(f, s) for f, s in zip(group, statuses, strict=True))
        blocking = [f for f, s in zip(group, statuses, strict=True) if s == "blocking"]
        if blocking:
            worst = max(blocking, key=lambda f: int(f.severity))
            failure = ET.SubElement(
                case,
                "failure",
                {
                    "message": (
                        f"{len(blocking)} blocking finding(s); worst "
                        f"{worst.severity.label}: {worst.message}"
                    ),
                    "type": worst.severity.label,
                },
            )
            failure.text = lines
        elif all(s == "waived" for s in statuses):
            ET.SubElement(case, "skipped", {"message": f"{len(group)} finding(s) waived"})
            ET.SubElement(case, "system-out").text = lines
        else:
            ET.SubElement(case, "system-out").text = lines


def report_to_junit(report: Report) -> ET.Element:
    """The ``<testsuites>`` element for ``report``."""
    summary = summarize(report)
    root = ET.Element("testsuites", {"name": f"{report.tool_name} {report.target.path}"})

    verdict_suite = _suite(root, "verdict")
    case = _case(verdict_suite, "panorama-gate.verdict", "policy verdict")
    v = report.verdict
    if v is None:
        ET.SubElement(case, "error", {"message": "no verdict", "type": "incomplete"})
    else:
        text = "\n".join(f"[{r.level}] {r.message}" for r in v.reasons)
        head = f"{v.decision.value} by policy {v.policy_name} (sha256 {v.policy_sha256})"
        if v.decision is Decision.REJECTED:
            ET.SubElement(case, "failure", {"message": head, "type": "rejected"}).text = text
        elif v.decision is Decision.INCOMPLETE:
            ET.SubElement(case, "error", {"message": head, "type": "incomplete"}).text = text
        else:
            ET.SubElement(case, "system-out").text = head + "\n" + text
    _close(verdict_suite)

    by_cat: dict[str, list[Finding]] = {}
    for f in report.findings:
        by_cat.setdefault(f.category.value, []).append(f)
    for category, group in sorted(by_cat.items()):
        suite = _suite(root, category)
        _rule_cases(suite, category, group, summary)
        _close(suite)

    analyzers_suite = _suite(root, "analyzers")
    failed: dict[str, list[int]] = {}
    for i, fail in enumerate(report.failures):
        failed.setdefault(fail.analyzer, []).append(i)
    for name in sorted(set(report.analyzers) | set(failed)):
        case = _case(analyzers_suite, "panorama-gate.analyzers", name)
        idx = failed.get(name, [])
        if idx:
            # One <error> per case (some viewers reject more); every failure is in its text.
            lines = []
            for i in idx:
                fail = report.failures[i]
                where = f" at {fail.location}" if fail.location else ""
                lines.append(f"{fail.reason}{where}")
            error = ET.SubElement(
                case,
                "error",
                {
                    "message": f"{len(idx)} failure(s); first: {lines[0]}",
                    "type": "analyzer-failure",
                },
            )
            error.text = "\n".join(lines)
    _close(analyzers_suite)

    suites = root.findall("testsuite")
    for attr in ("tests", "failures", "errors", "skipped"):
        root.set(attr, str(sum(int(s.get(attr, "0")) for s in suites)))
    root.set("time", "0")
    return root


class JunitWriter:
    """``--format junit``: JUnit XML, one test case per check."""

    name = "junit"
    media_type = "application/xml"

    def write(self, report: Report, fp: TextIO) -> None:
        """Write the XML document with a declaration and a trailing newline."""
        root = report_to_junit(report)
        ET.indent(root)
        fp.write('<?xml version="1.0" encoding="UTF-8"?>\n')
        # ElementTree escapes markup but not control characters, which XML cannot hold.
        fp.write(xml_safe(no_surrogates(ET.tostring(root, encoding="unicode"))))
        fp.write("\n")
